"""Outbox: notifications written with the change that causes them, delivered by a job.

Revision ID: 0004_outbox
Revises: 0003_inventory
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0004_outbox"
down_revision = "0003_inventory"
branch_labels = None
depends_on = None

UUID = sa.CHAR(36).with_variant(postgresql.UUID(), "postgresql")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.TIMESTAMP(timezone=True)


def upgrade() -> None:
    op.create_table(
        "outbox_message",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("member_id", UUID, nullable=True, index=True),
        sa.Column("order_id", UUID, nullable=True, index=True),
        sa.Column("data", JSON, nullable=False),
        # At most one message per key, ever: ON CONFLICT (dedupe_key) DO NOTHING relies on it.
        sa.Column("dedupe_key", sa.String(150), nullable=False, unique=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS, nullable=True),
        # Claims read (status, next_attempt_at): sent and failed messages are never scanned.
        sa.Index("ix_outbox_due", "status", "next_attempt_at"),
        sa.CheckConstraint(
            "status IN ('PENDING','SENDING','SENT','FAILED')", name="ck_outbox_status"
        ),
        sa.CheckConstraint("attempts >= 0", name="ck_outbox_attempts"),
    )


def downgrade() -> None:
    op.drop_table("outbox_message")
