"""Automations: the ENTERED_SEGMENT trigger keeps, per automation, the members it saw in its
segment at its last scan (`automation_segment_member`, one row per automation and member):
a member in the segment and not noted has entered; a noted member who left is forgotten.

Revision ID: 0045_automation_segments
Revises: 0044_automations_facts_tags
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0045_automation_segments"
down_revision = "0044_automations_facts_tags"
branch_labels = None
depends_on = None

UUID = sa.CHAR(36).with_variant(postgresql.UUID(), "postgresql")
TS = sa.TIMESTAMP(timezone=True)


def upgrade() -> None:
    op.create_table(
        "automation_segment_member",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("automation_id", UUID, nullable=False),
        sa.Column("member_id", UUID, nullable=False),
        sa.Column("entered_at", TS, nullable=False),
        # A member once per automation: two scans at once note them once (ON CONFLICT).
        sa.UniqueConstraint("automation_id", "member_id", name="uq_automation_segment_member"),
    )


def downgrade() -> None:
    op.drop_table("automation_segment_member")
