"""Flash sales (promotions): the sales, each member's count per sale, each order's take.

- `flash_sale`: a variant at a sale price between `starts_at` and `ends_at`, `units_offered`,
  `per_member_limit`, online and/or at the stores in `location_ids`; `units_sold` is the
  counter the checkout takes from with a conditional update (CHECK: never past the offer).
  Index `(variant_id, ends_at)`: the checkout's look-up of the live sales of its variants.
- `flash_sale_buyer`: units a member holds in a sale, unique per (sale, member) (CHECK:
  0 or more; the limit itself is checked by the conditional update, as ADMIN may change it).
- `flash_sale_order`: the units an order took, unique per (order, sale); deleted when the
  order is cancelled or times out, which gives them back.

Revision ID: 0029_flash_sales
Revises: 0026_pos_returns
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

# SQLite has no boolean: Tortoise stores one as INTEGER there (as the other revisions do).
BOOL = sa.Integer().with_variant(sa.Boolean(), "postgresql")

revision = "0029_flash_sales"
down_revision = "0026_pos_returns"
branch_labels = None
depends_on = None

UUID = sa.CHAR(36).with_variant(postgresql.UUID(), "postgresql")
TS = sa.TIMESTAMP(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "flash_sale",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("variant_id", UUID, nullable=False),
        sa.Column("price", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=False),
        sa.Column("units_offered", sa.Integer(), nullable=False),
        sa.Column("units_sold", sa.Integer(), nullable=False),
        sa.Column("per_member_limit", sa.Integer(), nullable=False),
        sa.Column("online", BOOL, nullable=False),
        sa.Column("location_ids", JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("cancelled_at", TS, nullable=True),
        sa.Column("cancel_reason", sa.String(200), nullable=True),
        sa.CheckConstraint(
            "units_sold >= 0 AND units_sold <= units_offered", name="ck_flash_sale_units"
        ),
        sa.CheckConstraint("price >= 0", name="ck_flash_sale_price"),
    )
    op.create_index("ix_flash_sale_variant", "flash_sale", ["variant_id", "ends_at"])
    op.create_index("ix_flash_sale_ends", "flash_sale", ["ends_at"])
    op.create_table(
        "flash_sale_buyer",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("flash_sale_id", UUID, nullable=False),
        sa.Column("member_id", UUID, nullable=False),
        sa.Column("bought", sa.Integer(), nullable=False),
        sa.UniqueConstraint("flash_sale_id", "member_id", name="uq_flash_sale_buyer"),
        sa.CheckConstraint("bought >= 0", name="ck_flash_sale_buyer_bought"),
    )
    op.create_table(
        "flash_sale_order",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("order_id", UUID, nullable=False),
        sa.Column("flash_sale_id", UUID, nullable=False),
        sa.Column("member_id", UUID, nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.UniqueConstraint("order_id", "flash_sale_id", name="uq_flash_sale_order"),
    )


def downgrade() -> None:
    op.drop_table("flash_sale_order")
    op.drop_table("flash_sale_buyer")
    op.drop_table("flash_sale")
