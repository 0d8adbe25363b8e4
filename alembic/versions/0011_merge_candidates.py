"""A phone proven by one account but held by another that has its own platform identity is
no longer merged away by itself: the case waits in customer service's queue.

Revision ID: 0011_merge_candidates
Revises: 0010_staff_actions
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0011_merge_candidates"
down_revision = "0010_staff_actions"
branch_labels = None
depends_on = None

UUID = sa.CHAR(36).with_variant(postgresql.UUID(), "postgresql")
TS = sa.TIMESTAMP(timezone=True)


def upgrade() -> None:
    op.create_table(
        "merge_candidate",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("claimant_member_id", UUID, nullable=False, index=True),
        sa.Column("holder_member_id", UUID, nullable=False, index=True),
        sa.Column("identity_hash", sa.String(64), nullable=False),
        sa.Column("masked", sa.String(64), nullable=False),
        sa.Column("verified_by", sa.String(10), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("decided_by", sa.String(60), nullable=True),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.CheckConstraint(
            "state IN ('OPEN','MERGED','PHONE_RELEASED','DISMISSED')",
            name="ck_merge_candidate_state",
        ),
    )
    op.create_index("ix_merge_candidate_state", "merge_candidate", ["state", "created_at"])


def downgrade() -> None:
    op.drop_table("merge_candidate")
