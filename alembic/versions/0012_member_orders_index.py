"""A member's orders are read newest first a page at a time (`me { orders }`): the index is
(member_id, id), so a page is the top of one index range instead of every order of the member
sorted. With a few thousand orders per member the old index made PostgreSQL spend a
millisecond per page (bench/results/my_orders.json after the checkout scenarios).

On PostgreSQL the index is built CONCURRENTLY (outside a transaction), the new one first.

Revision ID: 0012_member_orders_index
Revises: 0011_merge_candidates
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0012_member_orders_index"
down_revision = "0011_merge_candidates"
branch_labels = None
depends_on = None

TABLE = "customer_order"


def _swap(add: dict[str, list[str]], drop: list[str]) -> None:
    concurrently = op.get_bind().dialect.name == "postgresql"
    with op.get_context().autocommit_block():
        for name, columns in add.items():
            op.create_index(name, TABLE, columns, postgresql_concurrently=concurrently)
        for name in drop:
            op.drop_index(name, table_name=TABLE, postgresql_concurrently=concurrently)


def upgrade() -> None:
    _swap({"ix_customer_order_member_recent": ["member_id", "id"]}, ["ix_customer_order_member_id"])


def downgrade() -> None:
    _swap({"ix_customer_order_member_id": ["member_id"]}, ["ix_customer_order_member_recent"])
