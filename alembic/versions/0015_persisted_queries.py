"""Persisted queries: the operations a production client may run when
PERSISTED_QUERIES=allowlist, registered by `omnishelf persisted-queries add` (api/persisted.py).

Revision ID: 0015_persisted_queries
Revises: 0014_member_tier_from_loyalty
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0015_persisted_queries"
down_revision = "0014_member_tier_from_loyalty"
branch_labels = None
depends_on = None

UUID = sa.CHAR(36).with_variant(postgresql.UUID(), "postgresql")
TS = sa.TIMESTAMP(timezone=True)


def upgrade() -> None:
    op.create_table(
        "persisted_query",
        sa.Column("id", UUID, primary_key=True),
        # Lowercase hex SHA-256 of `document`, exactly as Apollo's client hashes what it sends.
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("added_at", TS, nullable=False),
        sa.CheckConstraint("length(sha256) = 64", name="ck_persisted_query_sha256"),
    )


def downgrade() -> None:
    op.drop_table("persisted_query")
