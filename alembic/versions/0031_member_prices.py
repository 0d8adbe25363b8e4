"""Member prices (会员价): one row per variant and loyalty tier, the price members of that
tier pay (promotions context). Order lines keep the list price next to the unit price paid,
so an order shows its subtotal and what member prices saved (NULL on lines written before:
their unit price was the list price).

Revision ID: 0031_member_prices
Revises: 0030_coupons
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0031_member_prices"
down_revision = "0030_coupons"
branch_labels = None
depends_on = None

UUID = sa.CHAR(36).with_variant(postgresql.UUID(), "postgresql")
TS = sa.TIMESTAMP(timezone=True)


def upgrade() -> None:
    op.create_table(
        "member_price",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("variant_id", UUID, nullable=False),
        sa.Column("tier", sa.String(32), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("updated_by", sa.String(100), nullable=False),
        sa.UniqueConstraint("variant_id", "tier", name="uq_member_price_variant_tier"),
        sa.CheckConstraint("price >= 0", name="ck_member_price_price"),
    )
    with op.batch_alter_table("order_line") as batch:
        batch.add_column(sa.Column("list_price", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("order_line") as batch:
        batch.drop_column("list_price")
    op.drop_table("member_price")
