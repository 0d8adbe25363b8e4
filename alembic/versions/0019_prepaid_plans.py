"""Renewal orders know their subscription and delivery date through their cycle: an order's
`subscriptionId` / `deliveryDate` look the cycle up by `order_id`, and a store's pickup queue
holds back the paid renewal orders whose `scheduled_date` is still ahead. Both lookups get an
index.

Revision ID: 0019_prepaid_plans
Revises: 0017_orders_changed_index
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0019_prepaid_plans"
down_revision = "0017_orders_changed_index"
branch_labels = None
depends_on = None

TABLE = "subscription_cycle"
INDEXES = {
    "ix_subscription_cycle_order": ["order_id"],
    "ix_subscription_cycle_scheduled": ["scheduled_date"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, TABLE, columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name=TABLE)
