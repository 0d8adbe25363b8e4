"""Till sales whose points exceed the per-sale cap wait as claims for a store manager's or
CS agent's decision (before, a till could mint unlimited points).

Revision ID: 0009_points_claims
Revises: 0008_reservation_state_indexes
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0009_points_claims"
down_revision = "0008_reservation_state_indexes"
branch_labels = None
depends_on = None

UUID = sa.CHAR(36).with_variant(postgresql.UUID(), "postgresql")
TS = sa.TIMESTAMP(timezone=True)


def upgrade() -> None:
    op.create_table(
        "points_claim",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("member_id", UUID, nullable=False, index=True),
        sa.Column("location_id", UUID, nullable=False),
        sa.Column("reference", sa.String(100), nullable=False, unique=True),
        sa.Column("paid", sa.BigInteger(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("decided_by", sa.String(60), nullable=True),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.CheckConstraint(
            "state IN ('PENDING','APPROVED','REJECTED')", name="ck_points_claim_state"
        ),
        sa.CheckConstraint("paid >= 0 AND points > 0", name="ck_points_claim_amounts"),
    )
    op.create_index("ix_points_claim_location_state", "points_claim", ["location_id", "state"])


def downgrade() -> None:
    op.drop_table("points_claim")
