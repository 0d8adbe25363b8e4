"""Metrics over ranges of days without a pass over every row (engagement context, issue 19
"Scale"): per day and scope each member's previous and next day of buying
(`metrics_member_reach`), and per month and scope the hand-over histogram
(`metrics_handover_month`), both kept by the rollup.

Revision ID: 0048_metrics_ranges
Revises: 0047_automation_caps
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0048_metrics_ranges"
down_revision = "0047_automation_caps"
branch_labels = None
depends_on = None

UUID = sa.CHAR(36).with_variant(postgresql.UUID(), "postgresql")
ROLLUPS = (
    "metrics_day",
    "metrics_member_day",
    "metrics_handover_day",
    "metrics_subscription_day",
    "metrics_day_figures",
)


def upgrade() -> None:
    op.create_table(
        "metrics_member_reach",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("store_key", sa.String(36), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("member_id", UUID, nullable=False),
        sa.Column("orders", sa.Integer, nullable=False),
        sa.Column("previous_day", sa.Date(), nullable=False),
        sa.Column("next_day", sa.Date(), nullable=False),
        sa.UniqueConstraint(
            "store_key", "channel", "member_id", "day", name="uq_metrics_member_reach"
        ),
    )
    op.create_index(
        "ix_metrics_member_reach_day",
        "metrics_member_reach",
        ["day", "store_key", "channel", "previous_day", "next_day", "orders"],
    )
    op.create_table(
        "metrics_handover_month",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("month_start", sa.Date(), nullable=False),
        sa.Column("store_key", sa.String(36), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("seconds", sa.Integer, nullable=False),
        sa.Column("handovers", sa.BigInteger, nullable=False),
        sa.UniqueConstraint(
            "store_key", "channel", "month_start", "seconds", name="uq_metrics_handover_month"
        ),
    )
    # The new tables are kept from each day's old rows to its new ones: they start from no
    # rollups at all, and the next roll_up_metrics rebuilds every day (as its first run does).
    for table in ROLLUPS:
        op.execute(f"DELETE FROM {table}")
    op.execute("DELETE FROM metrics_rollup_state")


def downgrade() -> None:
    op.drop_index("ix_metrics_member_reach_day", table_name="metrics_member_reach")
    op.drop_table("metrics_member_reach")
    op.drop_table("metrics_handover_month")
