"""Member facts: the rebuild resumes (engagement context, issue 19 "Scale"). One row
(`name` 'member_facts') holds the current cycle of `rebuild_member_facts`: when it started
(every batch of the cycle takes its cutoffs at that moment), the last member id refreshed
(`cursor`, null before the first batch) and when it finished (null while it runs), so the job
goes on from the last batch done within its timeout instead of starting over.

Revision ID: 0050_facts_rebuild
Revises: 0049_automation_handovers
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0050_facts_rebuild"
down_revision = "0049_automation_handovers"
branch_labels = None
depends_on = None

UUID = sa.CHAR(36).with_variant(postgresql.UUID(), "postgresql")
TS = sa.TIMESTAMP(timezone=True)


def upgrade() -> None:
    op.create_table(
        "facts_rebuild",
        sa.Column("name", sa.String(20), primary_key=True),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("cursor", UUID, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("facts_rebuild")
