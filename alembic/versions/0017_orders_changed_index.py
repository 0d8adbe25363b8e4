"""An ERP pulls orders changed since its last pull (`orders(updatedSince:)` with an
`orders:read` API key), oldest change first, keyed by (updated_at, id): the index is exactly
that, so a page is one index range instead of every order sorted.

On PostgreSQL the index is built CONCURRENTLY (outside a transaction).

Revision ID: 0017_orders_changed_index
Revises: 0016_catalog_i18n_media
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0017_orders_changed_index"
down_revision = "0016_catalog_i18n_media"
branch_labels = None
depends_on = None

TABLE = "customer_order"
NAME = "ix_customer_order_changed"


def _concurrently() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index(NAME, TABLE, ["updated_at", "id"], postgresql_concurrently=_concurrently())


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(NAME, table_name=TABLE, postgresql_concurrently=_concurrently())
