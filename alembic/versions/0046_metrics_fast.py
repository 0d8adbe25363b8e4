"""Metrics for a year by day from precomputed rows (engagement context, issue 19 "Scale"): per
store-local day, store (or every store) and channel (or every channel), the day's distinct
members, hand-over counts and percentiles, written by the rollup with the day's other rows.

Revision ID: 0046_metrics_fast
Revises: 0045_automation_segments
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0046_metrics_fast"
down_revision = "0045_automation_segments"
branch_labels = None
depends_on = None

UUID = sa.CHAR(36).with_variant(postgresql.UUID(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "metrics_day_figures",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("store_key", sa.String(36), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        *[
            sa.Column(name, sa.BigInteger, nullable=False)
            for name in (
                "active_members",
                "repeat_members",
                "new_members",
                "handovers",
                "handed_over",
                "with_after_sale",
            )
        ],
        sa.Column("handover_median_seconds", sa.Integer, nullable=True),
        sa.Column("handover_p90_seconds", sa.Integer, nullable=True),
        sa.UniqueConstraint("store_key", "channel", "day", name="uq_metrics_day_figures"),
    )
    # Days rolled up before this revision have no figures rows: forgetting the watermark
    # makes the next roll_up_metrics rebuild every day (as its first run does), filling them.
    op.execute("DELETE FROM metrics_rollup_state")


def downgrade() -> None:
    op.drop_table("metrics_day_figures")
