"""Return policies per category and fresh produce (issue 16): `category.return_window_days`
(a product's own wins, then its category's, then the default 7 days; 0: no returns) and
`refund_only_within_hours` on category and product (fresh produce: only refund-only requests,
within that many hours of hand-over). Refunds that end: `order_payment.retried_by`, the refund
CS recorded in place of a failed one (unique: a failed refund is retried once).

Revision ID: 0025_return_policies
Revises: 0024_member_codes
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0025_return_policies"
down_revision = "0024_member_codes"
branch_labels = None
depends_on = None

UUID = sa.CHAR(36).with_variant(postgresql.UUID(), "postgresql")


def upgrade() -> None:
    op.add_column("category", sa.Column("return_window_days", sa.Integer(), nullable=True))
    op.add_column("category", sa.Column("refund_only_within_hours", sa.Integer(), nullable=True))
    op.add_column("product", sa.Column("refund_only_within_hours", sa.Integer(), nullable=True))
    with op.batch_alter_table("order_payment") as batch:  # SQLite rebuilds it for the UNIQUE
        batch.add_column(sa.Column("retried_by", UUID, nullable=True))
        batch.create_unique_constraint("uq_order_payment_retried_by", ["retried_by"])


def downgrade() -> None:
    with op.batch_alter_table("order_payment") as batch:
        batch.drop_constraint("uq_order_payment_retried_by", type_="unique")
        batch.drop_column("retried_by")
    with op.batch_alter_table("product") as batch:
        batch.drop_column("refund_only_within_hours")
    with op.batch_alter_table("category") as batch:
        batch.drop_column("refund_only_within_hours")
        batch.drop_column("return_window_days")
