"""Shopping-guide attribution (导购, growth context): each guide's code per store, each
member's one exclusive guide, and the orders attributed to guides at checkout.

Revision ID: 0036_guides
Revises: 0033_referrals
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0036_guides"
down_revision = "0033_referrals"
branch_labels = None
depends_on = None

UUID = sa.CHAR(36).with_variant(postgresql.UUID(), "postgresql")
TS = sa.TIMESTAMP(timezone=True)


def upgrade() -> None:
    op.create_table(
        "guide_code",
        sa.Column("code", sa.String(16), primary_key=True),
        sa.Column("staff_id", UUID, nullable=False),
        sa.Column("store_id", UUID, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("staff_id", "store_id", name="uq_guide_code_staff_store"),
    )
    op.create_table(
        "guide_binding",
        # The primary key holds "one guide per member": two first touches at once leave one.
        sa.Column("member_id", UUID, primary_key=True),
        sa.Column("staff_id", UUID, nullable=False),
        sa.Column("store_id", UUID, nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("bound_at", TS, nullable=False),
        sa.CheckConstraint("source IN ('SHARE','ASSIGNED')", name="ck_guide_binding_source"),
    )
    op.create_index("ix_guide_binding_store", "guide_binding", ["store_id", "bound_at"])
    op.create_table(
        "guide_order",
        sa.Column("order_id", UUID, primary_key=True),
        sa.Column("member_id", UUID, nullable=False),
        sa.Column("staff_id", UUID, nullable=False),
        sa.Column("store_id", UUID, nullable=False),
        sa.Column("placed_at", TS, nullable=False),
    )
    op.create_index("ix_guide_order_store", "guide_order", ["store_id", "placed_at"])


def downgrade() -> None:
    op.drop_index("ix_guide_order_store", table_name="guide_order")
    op.drop_table("guide_order")
    op.drop_index("ix_guide_binding_store", table_name="guide_binding")
    op.drop_table("guide_binding")
    op.drop_table("guide_code")
