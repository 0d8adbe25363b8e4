"""Metrics rollups (engagement context, issue 19 "Numbers"): per store-local day, store and
channel, what `metrics` reads instead of the orders (built by the job `roll_up_metrics`).

Revision ID: 0042_metrics_rollups
Revises: 0041_segments
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0042_metrics_rollups"
down_revision = "0041_segments"
branch_labels = None
depends_on = None

UUID = sa.CHAR(36).with_variant(postgresql.UUID(), "postgresql")
TS = sa.TIMESTAMP(timezone=True)


def _counts(*names: str) -> list[sa.Column[int]]:
    return [sa.Column(name, sa.BigInteger, nullable=False) for name in names]


def upgrade() -> None:
    op.create_table(
        "metrics_day",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("store_id", UUID, nullable=True),
        sa.Column("channel", sa.String(20), nullable=False),
        *_counts("orders", "gmv", "coupons_used", "coupon_orders", "coupon_gmv"),
    )
    op.create_index("ix_metrics_day_day", "metrics_day", ["day", "store_id"])
    op.create_table(
        "metrics_member_day",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("store_id", UUID, nullable=True),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("member_id", UUID, nullable=False),
        sa.Column("orders", sa.Integer, nullable=False),
        sa.Column("first_order", sa.SmallInteger, nullable=False),
    )
    op.create_index("ix_metrics_member_day_day", "metrics_member_day", ["day", "store_id"])
    op.create_table(
        "metrics_handover_day",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("store_id", UUID, nullable=True),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("pickup", sa.SmallInteger, nullable=False),
        sa.Column("seconds", sa.Integer, nullable=True),
        *_counts("handed_over", "with_after_sale"),
    )
    op.create_index("ix_metrics_handover_day_day", "metrics_handover_day", ["day", "store_id"])
    op.create_table(
        "metrics_subscription_day",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("store_id", UUID, nullable=True),
        sa.Column("created_day", sa.Date(), nullable=True),
        *_counts("active", "churned"),
    )
    op.create_index(
        "ix_metrics_subscription_day_day", "metrics_subscription_day", ["day", "store_id"]
    )
    op.create_table(
        "metrics_rollup_state",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("watermark", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("metrics_rollup_state")
    for table in ("subscription", "handover", "member", ""):
        name = f"metrics_{table}_day" if table else "metrics_day"
        op.drop_index(f"ix_{name}_day", table_name=name)
        op.drop_table(name)
