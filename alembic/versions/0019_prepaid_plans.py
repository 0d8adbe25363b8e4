"""Prepaid subscription plans (周期购), and renewal orders that know their subscription.

- `subscription_plan.prepaid_deliveries`: 0 for a plan charged per cycle through a payment
  agreement; N for a plan whose members pay N deliveries up front.
- `subscription.prepaid_deliveries`, `prepaid_used`, `prepayment_order_id`: what a member
  bought (locked at sign-up like the prices), how many deliveries used it, and the first order
  that carried the payment (a cancellation refunds the unused deliveries from its payment).
  On PostgreSQL a CHECK keeps `0 <= prepaid_used <= prepaid_deliveries` (SQLite cannot add
  one to an existing table without rebuilding it).
- `subscription_cycle.location_id`: where the cycle's order is fulfilled (it stays there when
  the member later picks another store), and indexes on `order_id` (an order's
  `subscriptionId` and `deliveryDate` come from the cycle that placed it) and
  `(location_id, scheduled_date)` (a store's pickup queue holds back the renewal orders whose
  day is ahead).

Revision ID: 0019_prepaid_plans
Revises: 0018_refunds
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0019_prepaid_plans"
down_revision = "0018_refunds"
branch_labels = None
depends_on = None

UUID = sa.CHAR(36).with_variant(postgresql.UUID(), "postgresql")
CYCLE = "subscription_cycle"
INDEXES = {
    "ix_subscription_cycle_order": ["order_id"],
    "ix_subscription_cycle_queue": ["location_id", "scheduled_date"],
}


CHECK = "ck_subscription_prepaid_used"
USED_WITHIN = "prepaid_used >= 0 AND prepaid_used <= prepaid_deliveries"


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _count(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.Integer(), nullable=False, server_default="0")


def upgrade() -> None:
    op.add_column("subscription_plan", _count("prepaid_deliveries"))
    op.add_column("subscription", _count("prepaid_deliveries"))
    op.add_column("subscription", _count("prepaid_used"))
    op.add_column("subscription", sa.Column("prepayment_order_id", UUID, nullable=True))
    op.add_column(CYCLE, sa.Column("location_id", UUID, nullable=True))
    if _postgres():
        op.create_check_constraint(CHECK, "subscription", USED_WITHIN)
    for name, columns in INDEXES.items():
        op.create_index(name, CYCLE, columns)


def downgrade() -> None:
    if _postgres():
        op.drop_constraint(CHECK, "subscription", type_="check")
    for name in INDEXES:
        op.drop_index(name, table_name=CYCLE)
    with op.batch_alter_table(CYCLE) as table:
        table.drop_column("location_id")
    with op.batch_alter_table("subscription") as table:
        for column in ("prepayment_order_id", "prepaid_used", "prepaid_deliveries"):
            table.drop_column(column)
    with op.batch_alter_table("subscription_plan") as table:
        table.drop_column("prepaid_deliveries")
