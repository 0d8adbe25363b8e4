"""Coupons at checkout: each order line keeps the part of the order's coupon discounts
allocated to it (what an after-sales refund of the line leaves out), and each coupon the
discount it gave the order holding or having used it.

Revision ID: 0032_order_coupons
Revises: 0031_member_prices
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0032_order_coupons"
down_revision = "0031_member_prices"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("order_line") as batch:
        batch.add_column(
            sa.Column("coupon_discount", sa.BigInteger(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("coupon") as batch:
        batch.add_column(sa.Column("discount", sa.BigInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("coupon") as batch:
        batch.drop_column("discount")
    with op.batch_alter_table("order_line") as batch:
        batch.drop_column("coupon_discount")
