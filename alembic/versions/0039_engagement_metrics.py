"""Engagement metrics (issue 19, "Numbers"): `metrics` and `cohorts` read the orders paid in a
range (customer_order.paid_at) and the hand-overs in a range (order_event by to_status, at).
Without these indexes each read scans every order and every order event.

On PostgreSQL the indexes are built CONCURRENTLY (outside a transaction).

Revision ID: 0039_engagement_metrics
Revises: 0038_engagement_tags_facts
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0039_engagement_metrics"
down_revision = "0038_engagement_tags_facts"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_customer_order_paid", "customer_order", ["paid_at"]),
    ("ix_order_event_handed", "order_event", ["to_status", "at"]),
)


def _concurrently() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    with op.get_context().autocommit_block():
        for name, table, columns in INDEXES:
            op.create_index(name, table, columns, postgresql_concurrently=_concurrently())


def downgrade() -> None:
    with op.get_context().autocommit_block():
        for name, table, _ in reversed(INDEXES):
            op.drop_index(name, table_name=table, postgresql_concurrently=_concurrently())
