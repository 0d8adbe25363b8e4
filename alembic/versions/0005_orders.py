"""Orders: orders and lines, the timeline, payments and refunds, open pickup codes.

Revision ID: 0005_orders
Revises: 0004_outbox
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0005_orders"
down_revision = "0004_outbox"
branch_labels = None
depends_on = None

UUID = sa.CHAR(36).with_variant(postgresql.UUID(), "postgresql")
TS = sa.TIMESTAMP(timezone=True)
BOOL = sa.Integer().with_variant(sa.Boolean(), "postgresql")
FLOAT = sa.REAL().with_variant(postgresql.DOUBLE_PRECISION(), "postgresql")
STATUSES = (
    "'PENDING_PAYMENT','PAID','PREPARING','READY_FOR_PICKUP','PICKED_UP','SHIPPED',"
    "'DELIVERED','CANCELLED','UNCLAIMED'"
)


def _id() -> sa.Column[str]:
    return sa.Column("id", UUID, primary_key=True)


def upgrade() -> None:
    op.create_table(
        "customer_order",
        _id(),
        sa.Column("number", sa.String(20), nullable=False, unique=True),
        sa.Column("member_id", UUID, nullable=True, index=True),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("fulfilment", sa.String(10), nullable=False),
        sa.Column("location_id", UUID, nullable=False, index=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.String(500), nullable=False),
        sa.Column("delivery_address", sa.Text(), nullable=True),
        sa.Column("delivery_latitude", FLOAT, nullable=True),
        sa.Column("delivery_longitude", FLOAT, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("payment_deadline", TS, nullable=True, index=True),
        sa.Column("paid_at", TS, nullable=True),
        sa.Column("pickup_deadline", TS, nullable=True, index=True),
        sa.Column("cancel_reason", sa.String(200), nullable=True),
        sa.Column("at_risk", BOOL, nullable=False),
        sa.Column("reminder_sent", BOOL, nullable=False),
        sa.Index("ix_order_location_status", "location_id", "status"),
        sa.CheckConstraint(f"status IN ({STATUSES})", name="ck_order_status"),
        sa.CheckConstraint("fulfilment IN ('PICKUP','DELIVERY')", name="ck_order_fulfilment"),
        sa.CheckConstraint("total >= 0", name="ck_order_total"),
    )
    op.create_table(
        "order_line",
        _id(),
        sa.Column(
            "order_id",
            UUID,
            sa.ForeignKey("customer_order.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("variant_id", UUID, nullable=False),
        sa.Column("product_id", UUID, nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("unit_price", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint("quantity > 0", name="ck_order_line_quantity"),
        sa.CheckConstraint("unit_price >= 0", name="ck_order_line_price"),
    )
    op.create_table(
        "order_event",
        _id(),
        sa.Column("order_id", UUID, nullable=False, index=True),
        sa.Column("from_status", sa.String(20), nullable=True),
        sa.Column("to_status", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(60), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("at", TS, nullable=False),
    )
    op.create_table(
        "order_payment",
        _id(),
        sa.Column("order_id", UUID, nullable=False, index=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("provider", sa.String(30), nullable=False),
        sa.Column("provider_ref", sa.String(100), nullable=False),
        sa.Column("method", sa.String(20), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("completed_at", TS, nullable=True),
        # A provider's notification can only ever match one payment.
        sa.UniqueConstraint("provider", "provider_ref", name="uq_payment_provider_ref"),
        sa.CheckConstraint("amount >= 0", name="ck_payment_amount"),
    )
    op.create_table(
        "pickup_code",
        _id(),
        sa.Column("order_id", UUID, nullable=False, unique=True),
        sa.Column("location_id", UUID, nullable=False),
        sa.Column("code", sa.String(6), nullable=False),
        sa.Column("deadline", TS, nullable=False),
        # Unique among the store's open pickups: rows exist only while a pickup is open.
        sa.UniqueConstraint("location_id", "code", name="uq_pickup_code_store"),
    )


def downgrade() -> None:
    for table in ("pickup_code", "order_payment", "order_event", "order_line", "customer_order"):
        op.drop_table(table)
