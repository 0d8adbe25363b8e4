"""An append-only audit of staff decisions that no other record holds (a store's pickup-code
lock lifted by its manager).

Revision ID: 0010_staff_actions
Revises: 0009_points_claims
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0010_staff_actions"
down_revision = "0009_points_claims"
branch_labels = None
depends_on = None

UUID = sa.CHAR(36).with_variant(postgresql.UUID(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "staff_action",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("actor", sa.String(60), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(100), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("at", sa.TIMESTAMP(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("staff_action")
