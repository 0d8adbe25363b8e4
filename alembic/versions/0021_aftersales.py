"""After-sales (issue 16): returns and refund-only requests after hand-over, their lines
(units asked for, received back, refunded, with the money and points given back) and their
timeline; `product.return_window_days` (null: the default 7 days, 0: no returns).

Revision ID: 0021_aftersales
Revises: 0020_reconciliation
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0021_aftersales"
down_revision = "0020_reconciliation"
branch_labels = None
depends_on = None

UUID = sa.CHAR(36).with_variant(postgresql.UUID(), "postgresql")
TS = sa.TIMESTAMP(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
STATUSES = "'REQUESTED','APPROVED','REJECTED','RETURN_RECEIVED','REFUNDING','REFUNDED','CLOSED'"


def upgrade() -> None:
    op.add_column("product", sa.Column("return_window_days", sa.Integer(), nullable=True))
    op.create_table(
        "after_sale",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("order_id", UUID, nullable=False, index=True),
        sa.Column("member_id", UUID, nullable=True),
        sa.Column("location_id", UUID, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("photo_urls", JSON, nullable=False),
        sa.Column("requested_by", sa.String(60), nullable=False),
        sa.Column("decision_reason", sa.String(500), nullable=False),
        sa.Column("received_at_location_id", UUID, nullable=True),
        sa.Column("refund_amount", sa.BigInteger(), nullable=False),
        sa.Column("refund_payment_id", UUID, nullable=True, unique=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint(f"status IN ({STATUSES})", name="ck_after_sale_status"),
        sa.CheckConstraint(
            "kind IN ('RETURN_AND_REFUND','REFUND_ONLY')", name="ck_after_sale_kind"
        ),
        sa.CheckConstraint("refund_amount >= 0", name="ck_after_sale_refund"),
    )
    op.create_index("ix_after_sale_member", "after_sale", ["member_id", "created_at"])
    op.create_index("ix_after_sale_location", "after_sale", ["location_id", "status", "created_at"])
    op.create_table(
        "after_sale_line",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("after_sale_id", UUID, nullable=False, index=True),
        sa.Column("order_line_id", UUID, nullable=False, index=True),
        sa.Column("variant_id", UUID, nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("received", sa.Integer(), nullable=False),
        sa.Column("damaged", sa.Integer(), nullable=False),
        sa.Column("refunded", sa.Integer(), nullable=False),
        sa.Column("refund_amount", sa.BigInteger(), nullable=False),
        sa.Column("points_returned", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "quantity > 0 AND received >= 0 AND damaged >= 0 AND received + damaged <= quantity"
            " AND refunded >= 0 AND refunded <= quantity AND refund_amount >= 0"
            " AND points_returned >= 0",
            name="ck_after_sale_line_quantities",
        ),
    )
    op.create_table(
        "after_sale_event",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("after_sale_id", UUID, nullable=False, index=True),
        sa.Column("from_status", sa.String(20), nullable=True),
        sa.Column("to_status", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(60), nullable=False),
        sa.Column("note", sa.String(500), nullable=False),
        sa.Column("at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("after_sale_event")
    op.drop_table("after_sale_line")
    op.drop_index("ix_after_sale_location", table_name="after_sale")
    op.drop_index("ix_after_sale_member", table_name="after_sale")
    op.drop_table("after_sale")
    op.drop_column("product", "return_window_days")
