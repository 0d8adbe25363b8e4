"""Refunds that complete: a refund row of order_payment names the payment it gives back
(`refund_of`; several partial refunds of one payment are several rows), carries the provider's
reason when it failed, the submissions tried, and when the refund job looks at it next.

Refunds recorded before this revision (provider_ref `refund:<payment ref>`, REFUND_PENDING
forever) get their payment and are due now, so the job submits them; those of payments taken
at the till become REFUND_AT_TILL, a task for the store.

Revision ID: 0018_refunds
Revises: 0017_orders_changed_index
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0018_refunds"
down_revision = "0017_orders_changed_index"
branch_labels = None
depends_on = None

UUID = sa.CHAR(36).with_variant(postgresql.UUID(), "postgresql")
TS = sa.TIMESTAMP(timezone=True)
TABLE = "order_payment"
INDEXES = {
    "ix_order_payment_refund_of": "refund_of",
    "ix_order_payment_next_attempt": "next_attempt_at",
}


def upgrade() -> None:
    op.add_column(TABLE, sa.Column("refund_of", UUID, nullable=True))
    op.add_column(TABLE, sa.Column("reason", sa.String(200), nullable=False, server_default=""))
    op.add_column(TABLE, sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
    op.add_column(TABLE, sa.Column("next_attempt_at", TS, nullable=True))
    for name, column in INDEXES.items():
        op.create_index(name, TABLE, [column])
    op.execute(
        "UPDATE order_payment SET refund_of = (SELECT p.id FROM order_payment p "
        "WHERE p.kind = 'PAYMENT' AND p.provider = order_payment.provider "
        "AND 'refund:' || p.provider_ref = order_payment.provider_ref) "
        "WHERE kind = 'REFUND'"
    )
    op.execute(
        "UPDATE order_payment SET status = 'REFUND_AT_TILL' "
        "WHERE kind = 'REFUND' AND status = 'REFUND_PENDING' AND provider = 'IN_STORE'"
    )
    op.execute(
        "UPDATE order_payment SET next_attempt_at = created_at "
        "WHERE kind = 'REFUND' AND status = 'REFUND_PENDING'"
    )


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name=TABLE)
    with op.batch_alter_table(TABLE) as batch:  # SQLite rebuilds the table to drop columns
        for column in ("next_attempt_at", "attempts", "reason", "refund_of"):
            batch.drop_column(column)
