"""Inventory: stock levels, reservations, movement ledger, transfers, till transactions,
discrepancies, and idempotency records.

Revision ID: 0003_inventory
Revises: 0002_members
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0003_inventory"
down_revision = "0002_members"
branch_labels = None
depends_on = None

UUID = sa.CHAR(36).with_variant(postgresql.UUID(), "postgresql")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.TIMESTAMP(timezone=True)


def _id() -> sa.Column[str]:
    return sa.Column("id", UUID, primary_key=True)


def upgrade() -> None:
    op.create_table(
        "stock_level",
        _id(),
        sa.Column("location_id", UUID, nullable=False),
        sa.Column("variant_id", UUID, nullable=False, index=True),
        sa.Column("on_hand", sa.Integer(), nullable=False),
        sa.Column("reserved", sa.Integer(), nullable=False),
        sa.Column("safety_stock", sa.Integer(), nullable=False),
        sa.UniqueConstraint("location_id", "variant_id", name="uq_stock_level"),
        # The invariants no code path may break, whatever it does.
        sa.CheckConstraint("on_hand >= 0", name="ck_stock_on_hand"),
        sa.CheckConstraint("reserved >= 0", name="ck_stock_reserved"),
        sa.CheckConstraint("safety_stock >= 0", name="ck_stock_safety"),
    )
    op.create_table(
        "stock_reservation",
        _id(),
        sa.Column("owner", sa.String(100), nullable=False, index=True),
        sa.Column("location_id", UUID, nullable=False),
        sa.Column("variant_id", UUID, nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("expires_at", TS, nullable=False, index=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Index("ix_reservation_level", "location_id", "variant_id"),
        sa.CheckConstraint("quantity > 0", name="ck_reservation_quantity"),
        sa.CheckConstraint(
            "state IN ('ACTIVE','AT_RISK','COMMITTED','RELEASED','EXPIRED')",
            name="ck_reservation_state",
        ),
    )
    op.create_table(
        "stock_movement",
        _id(),
        sa.Column("location_id", UUID, nullable=False),
        sa.Column("variant_id", UUID, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("on_hand_delta", sa.Integer(), nullable=False),
        sa.Column("reserved_delta", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("reference", sa.String(100), nullable=False, index=True),
        sa.Column("actor", sa.String(60), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Index("ix_movement_level", "location_id", "variant_id"),
    )
    op.create_table(
        "stock_transfer",
        _id(),
        sa.Column("from_location_id", UUID, nullable=False, index=True),
        sa.Column("to_location_id", UUID, nullable=False, index=True),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("lines", JSON, nullable=False),
        sa.Column("actor", sa.String(60), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("shipped_at", TS, nullable=True),
        sa.Column("received_at", TS, nullable=True),
        sa.CheckConstraint("from_location_id <> to_location_id", name="ck_transfer_locations"),
    )
    op.create_table(
        "pos_transaction",
        _id(),
        sa.Column("location_id", UUID, nullable=False),
        sa.Column("transaction_id", sa.String(64), nullable=False),
        sa.Column("summary", JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("location_id", "transaction_id", name="uq_pos_transaction"),
    )
    op.create_table(
        "stock_discrepancy",
        _id(),
        sa.Column("location_id", UUID, nullable=False, index=True),
        sa.Column("variant_id", UUID, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(100), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "idempotency_record",
        _id(),
        sa.Column("scope", sa.String(150), nullable=False),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("result", JSON, nullable=True),
        sa.Column("created_at", TS, nullable=False, index=True),
        sa.UniqueConstraint("scope", "key", name="uq_idempotency_key"),
    )


def downgrade() -> None:
    for table in (
        "idempotency_record",
        "stock_discrepancy",
        "pos_transaction",
        "stock_transfer",
        "stock_movement",
        "stock_reservation",
        "stock_level",
    ):
        op.drop_table(table)
