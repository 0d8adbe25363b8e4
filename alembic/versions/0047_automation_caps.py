"""Automations: the frequency cap holds across runs at once. A run locks each member it may
message (`automation_cap`, one row per member, made on first use) before it counts the
messages already written to them, so two runs never both see room for one more.

Revision ID: 0047_automation_caps
Revises: 0046_metrics_fast
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0047_automation_caps"
down_revision = "0046_metrics_fast"
branch_labels = None
depends_on = None

UUID = sa.CHAR(36).with_variant(postgresql.UUID(), "postgresql")
TS = sa.TIMESTAMP(timezone=True)


def upgrade() -> None:
    op.create_table(
        "automation_cap",
        sa.Column("member_id", UUID, primary_key=True),
        sa.Column("taken_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("automation_cap")
