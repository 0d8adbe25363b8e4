"""Reservation indexes lead with what the hot queries filter on: the sweeper's held
reservations past their expiry, and a stock level's held reservations (AT_RISK flagging).
Before, both walked every past reservation (committed, released, expired) as history grew.

On PostgreSQL the indexes are built CONCURRENTLY (outside a transaction), new ones first, so
stock writes go on during the build on a large table.

Revision ID: 0008_reservation_state_indexes
Revises: 0007_subscriptions
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0008_reservation_state_indexes"
down_revision = "0007_subscriptions"
branch_labels = None
depends_on = None

TABLE = "stock_reservation"


def _swap(add: dict[str, list[str]], drop: list[str]) -> None:
    concurrently = op.get_bind().dialect.name == "postgresql"
    with op.get_context().autocommit_block():
        for name, columns in add.items():
            op.create_index(name, TABLE, columns, postgresql_concurrently=concurrently)
        for name in drop:
            op.drop_index(name, table_name=TABLE, postgresql_concurrently=concurrently)


def upgrade() -> None:
    _swap(
        {
            "ix_reservation_due": ["state", "expires_at"],
            "ix_reservation_level_state": ["location_id", "variant_id", "state"],
        },
        ["ix_stock_reservation_expires_at", "ix_reservation_level"],
    )


def downgrade() -> None:
    _swap(
        {
            "ix_stock_reservation_expires_at": ["expires_at"],
            "ix_reservation_level": ["location_id", "variant_id"],
        },
        ["ix_reservation_due", "ix_reservation_level_state"],
    )
