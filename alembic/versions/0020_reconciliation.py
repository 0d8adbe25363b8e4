"""Reconciliation of a provider's daily bill (domain/ordering/reconcile.py).

- `reconciliation_run`: the last run of each (provider, day) with the totals of both sides;
- `reconciliation_difference`: what did not agree, by out_trade_no / out_refund_no, with the
  order number; resolved by hand with a note;
- an index on `order_payment (provider, completed_at)`: the payments and refunds a provider
  completed on a bill day.

Revision ID: 0020_reconciliation
Revises: 0019_prepaid_plans
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0020_reconciliation"
down_revision = "0019_prepaid_plans"
branch_labels = None
depends_on = None

UUID = sa.CHAR(36).with_variant(postgresql.UUID(), "postgresql")
TS = sa.TIMESTAMP(timezone=True)
SETTLED_INDEX = "ix_order_payment_provider_completed"


def _count(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.Integer(), nullable=False)


def _money(name: str, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "reconciliation_run",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("provider", sa.String(30), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("ran_at", TS, nullable=False),
        _count("bill_payments"),
        _money("bill_paid"),
        _count("bill_refunds"),
        _money("bill_refunded"),
        _count("our_payments"),
        _money("our_paid"),
        _count("our_refunds"),
        _money("our_refunded"),
        sa.UniqueConstraint("provider", "day", name="uq_reconciliation_run_day"),
    )
    op.create_table(
        "reconciliation_difference",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("run_id", UUID, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("reference", sa.String(100), nullable=False),
        sa.Column("order_number", sa.String(20), nullable=True),
        _money("our_amount", nullable=True),
        _money("their_amount", nullable=True),
        sa.Column("our_state", sa.String(20), nullable=True),
        sa.Column("their_state", sa.String(20), nullable=True),
        sa.Column("found_at", TS, nullable=False),
        sa.Column("resolved_at", TS, nullable=True),
        sa.Column("resolved_by", UUID, nullable=True),
        sa.Column("note", sa.String(500), nullable=False, server_default=""),
        sa.UniqueConstraint(
            "run_id", "kind", "reference", name="uq_reconciliation_difference_reference"
        ),
    )
    op.create_index(SETTLED_INDEX, "order_payment", ["provider", "completed_at"])


def downgrade() -> None:
    op.drop_index(SETTLED_INDEX, table_name="order_payment")
    op.drop_table("reconciliation_difference")
    op.drop_table("reconciliation_run")
