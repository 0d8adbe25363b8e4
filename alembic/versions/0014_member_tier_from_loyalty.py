"""A member's tier has one home, the loyalty account (`points_account.tier`, which purchases
earn at and the tier job moves): `member.tier` was set to STANDARD at sign-up and never changed,
so `me { tier }` and `me { points { tier } }` disagreed. Nothing reads the column any more.

An expand step: the column becomes nullable (the code of this release leaves it out, the
release before still writes it, so both run side by side during a rolling deploy); a later
release's migration drops it.

Revision ID: 0014_member_tier_from_loyalty
Revises: 0013_pickup_numbers
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0014_member_tier_from_loyalty"
down_revision = "0013_pickup_numbers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("member") as batch:  # SQLite rebuilds the table
        batch.alter_column("tier", existing_type=sa.String(20), nullable=True)


def downgrade() -> None:
    op.execute("UPDATE member SET tier = 'STANDARD' WHERE tier IS NULL")
    with op.batch_alter_table("member") as batch:
        batch.alter_column("tier", existing_type=sa.String(20), nullable=False)
