"""Segments (engagement context, issue 19): named rules over member facts and tags, and one
size per segment and day.

Revision ID: 0041_segments
Revises: 0040_automations
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0041_segments"
down_revision = "0040_automations"
branch_labels = None
depends_on = None

UUID = sa.CHAR(36).with_variant(postgresql.UUID(), "postgresql")
TS = sa.TIMESTAMP(timezone=True)
BOOL = sa.Integer().with_variant(sa.Boolean(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "segment",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("name", sa.String(60), nullable=False, unique=True),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("built_in", BOOL, nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint("status IN ('ACTIVE','ARCHIVED')", name="ck_segment_status"),
    )
    op.create_table(
        "segment_size",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("segment_id", UUID, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.CheckConstraint("size >= 0", name="ck_segment_size_size"),
        sa.UniqueConstraint("segment_id", "day", name="uq_segment_size_day"),
    )


def downgrade() -> None:
    op.drop_table("segment_size")
    op.drop_table("segment")
