"""Automations: a scan trigger's sweep resumes (engagement context, issue 19 "Scale"). One row
per scan automation (`automation_scan`): where its sweep over the members stands (`cursor`, the
last member id or, for SUBSCRIPTION_ENDING, subscription id scanned; null: the next run starts
a new sweep) and when it last scanned a batch (`scanned_at`: the run begins with the
automation scanned longest ago). A run scans within a time budget and the next goes on, so
1,000,000 members neither outlast the job's timeout nor starve the other automations and the
due sends.

Revision ID: 0051_automation_scans
Revises: 0050_facts_rebuild
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0051_automation_scans"
down_revision = "0050_facts_rebuild"
branch_labels = None
depends_on = None

UUID = sa.CHAR(36).with_variant(postgresql.UUID(), "postgresql")
TS = sa.TIMESTAMP(timezone=True)


def upgrade() -> None:
    op.create_table(
        "automation_scan",
        sa.Column("automation_id", UUID, primary_key=True),
        sa.Column("cursor", UUID, nullable=True),
        sa.Column("scanned_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("automation_scan")
