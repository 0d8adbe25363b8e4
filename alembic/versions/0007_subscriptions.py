"""Subscriptions: plans, member subscriptions, renewal cycles (unique per number) and
their change history.

Revision ID: 0007_subscriptions
Revises: 0006_loyalty
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0007_subscriptions"
down_revision = "0006_loyalty"
branch_labels = None
depends_on = None

UUID = sa.CHAR(36).with_variant(postgresql.UUID(), "postgresql")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.TIMESTAMP(timezone=True)
BOOL = sa.Integer().with_variant(sa.Boolean(), "postgresql")
FLOAT = sa.REAL().with_variant(postgresql.DOUBLE_PRECISION(), "postgresql")


def _id() -> sa.Column[str]:
    return sa.Column("id", UUID, primary_key=True)


def upgrade() -> None:
    op.create_table(
        "subscription_plan",
        _id(),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("variant_ids", JSON, nullable=False),
        sa.Column("interval_unit", sa.String(10), nullable=False),
        sa.Column("interval_count", sa.Integer(), nullable=False),
        sa.Column("discount_percent", sa.Integer(), nullable=False),
        sa.Column("min_cycles", sa.Integer(), nullable=False),
        sa.Column("active", BOOL, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("discount_percent BETWEEN 0 AND 50", name="ck_plan_discount"),
    )
    op.create_table(
        "subscription",
        _id(),
        sa.Column("member_id", UUID, nullable=False, index=True),
        sa.Column("plan_id", UUID, nullable=False),
        sa.Column("lines", JSON, nullable=False),
        sa.Column("interval_unit", sa.String(10), nullable=False),
        sa.Column("interval_count", sa.Integer(), nullable=False),
        sa.Column("anchor_date", sa.Date(), nullable=False),
        sa.Column("next_date", sa.Date(), nullable=False, index=True),
        sa.Column("cycles_done", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("pickup_location_id", UUID, nullable=True),
        sa.Column("delivery_address", sa.Text(), nullable=True),
        sa.Column("delivery_latitude", FLOAT, nullable=True),
        sa.Column("delivery_longitude", FLOAT, nullable=True),
        sa.Column("payment_agreement", sa.String(100), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("paused_until", sa.Date(), nullable=True),
        sa.Column("cancel_reason", sa.String(200), nullable=True),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("next_retry_at", TS, nullable=True),
        sa.CheckConstraint(
            "status IN ('ACTIVE','PAUSED','CANCELLED','PAST_DUE')", name="ck_subscription_status"
        ),
    )
    op.create_table(
        "subscription_cycle",
        _id(),
        sa.Column("subscription_id", UUID, nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("scheduled_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("order_id", UUID, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        # One row per cycle number: a cycle is processed once, whatever runs twice.
        sa.UniqueConstraint("subscription_id", "number", name="uq_subscription_cycle"),
    )
    op.create_table(
        "subscription_change",
        _id(),
        sa.Column("subscription_id", UUID, nullable=False, index=True),
        sa.Column("what", sa.String(20), nullable=False),
        sa.Column("detail", sa.String(200), nullable=False),
        sa.Column("actor", sa.String(60), nullable=False),
        sa.Column("at", TS, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "subscription_change",
        "subscription_cycle",
        "subscription",
        "subscription_plan",
    ):
        op.drop_table(table)
