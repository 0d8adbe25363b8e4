"""In-store returns at the till (issue 16): a till sale keeps its member and its lines (what
each was charged, the part paid with points, units returned since: never more than sold), and
each return its lines, the money paid back at the till and the points given back or taken.

Sales recorded before this revision kept no lines: they cannot be returned at the till.

Revision ID: 0026_pos_returns
Revises: 0025_return_policies
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0026_pos_returns"
down_revision = "0025_return_policies"
branch_labels = None
depends_on = None

UUID = sa.CHAR(36).with_variant(postgresql.UUID(), "postgresql")
TS = sa.TIMESTAMP(timezone=True)


def upgrade() -> None:
    op.add_column("pos_transaction", sa.Column("member_id", UUID, nullable=True))
    op.create_table(
        "pos_sale_line",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("sale_id", UUID, nullable=False),
        sa.Column("variant_id", UUID, nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("charged", sa.BigInteger(), nullable=False),
        sa.Column("points_value", sa.BigInteger(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("returned", sa.Integer(), nullable=False),
        sa.UniqueConstraint("sale_id", "variant_id", name="uq_pos_sale_line"),
        sa.CheckConstraint(
            "quantity > 0 AND returned >= 0 AND returned <= quantity AND charged >= 0"
            " AND points_value >= 0 AND points_value <= charged AND points >= 0",
            name="ck_pos_sale_line_quantities",
        ),
    )
    op.create_table(
        "pos_return",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("location_id", UUID, nullable=False),
        sa.Column("sale_id", UUID, nullable=False, index=True),
        sa.Column("transaction_id", sa.String(64), nullable=False),
        sa.Column("member_id", UUID, nullable=True),
        sa.Column("refund_method", sa.String(20), nullable=False),
        sa.Column("refund_amount", sa.BigInteger(), nullable=False),
        sa.Column("points_returned", sa.BigInteger(), nullable=False),
        sa.Column("points_reversed", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("actor", sa.String(60), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint(
            "refund_method IN ('CASH','CARD','WECHAT_PAY_QR','ALIPAY_QR')",
            name="ck_pos_return_method",
        ),
        sa.CheckConstraint(
            "refund_amount >= 0 AND points_returned >= 0 AND points_reversed >= 0",
            name="ck_pos_return_amounts",
        ),
    )
    op.create_index("ix_pos_return_location", "pos_return", ["location_id", "id"])
    op.create_table(
        "pos_return_line",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("return_id", UUID, nullable=False, index=True),
        sa.Column("variant_id", UUID, nullable=False),
        sa.Column("condition", sa.String(10), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("refund_amount", sa.BigInteger(), nullable=False),
        sa.Column("points_returned", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "condition IN ('RESALEABLE','DAMAGED') AND quantity > 0 AND refund_amount >= 0"
            " AND points_returned >= 0",
            name="ck_pos_return_line",
        ),
    )


def downgrade() -> None:
    op.drop_table("pos_return_line")
    op.drop_index("ix_pos_return_location", table_name="pos_return")
    op.drop_table("pos_return")
    op.drop_table("pos_sale_line")
    op.drop_column("pos_transaction", "member_id")
