"""Daily pickup numbers (A023): a counter per store and store-local day, and the number on the
order, unique per store and day. The customer listens for the number; staff find the order by
it.

Existing orders keep no number (both columns are nullable, added without a default: no table
rewrite). On PostgreSQL the unique index is built CONCURRENTLY, as in 0012.

Revision ID: 0013_pickup_numbers
Revises: 0012_member_orders_index
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0013_pickup_numbers"
down_revision = "0012_member_orders_index"
branch_labels = None
depends_on = None

UUID = sa.CHAR(36).with_variant(postgresql.UUID(), "postgresql")
ORDER = "customer_order"
INDEX = "uq_customer_order_pickup_number"


def upgrade() -> None:
    op.create_table(
        "pickup_counter",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("location_id", UUID, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.UniqueConstraint("location_id", "day", name="uq_pickup_counter_location_day"),
        sa.CheckConstraint("sequence >= 1", name="ck_pickup_counter_sequence"),
    )
    op.add_column(ORDER, sa.Column("pickup_number", sa.String(8), nullable=True))
    op.add_column(ORDER, sa.Column("pickup_day", sa.Date(), nullable=True))
    with op.get_context().autocommit_block():
        op.create_index(
            INDEX,
            ORDER,
            ["location_id", "pickup_number", "pickup_day"],
            unique=True,
            postgresql_concurrently=_concurrently(),
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(INDEX, table_name=ORDER, postgresql_concurrently=_concurrently())
    with op.batch_alter_table(ORDER) as batch:  # SQLite rebuilds the table to drop columns
        batch.drop_column("pickup_day")
        batch.drop_column("pickup_number")
    op.drop_table("pickup_counter")


def _concurrently() -> bool:
    return op.get_bind().dialect.name == "postgresql"
