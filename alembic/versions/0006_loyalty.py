"""Loyalty: points accounts, the append-only entry ledger, lots, holds, growth and tiers;
orders record the points redeemed on them.

Revision ID: 0006_loyalty
Revises: 0005_orders
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0006_loyalty"
down_revision = "0005_orders"
branch_labels = None
depends_on = None

UUID = sa.CHAR(36).with_variant(postgresql.UUID(), "postgresql")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.TIMESTAMP(timezone=True)
KINDS = (
    "'EARN','REDEEM','HOLD','RELEASE','EXPIRE','REVERSE','ADJUST','CHECK_IN','MERGE_IN','MERGE_OUT'"
)


def _id() -> sa.Column[str]:
    return sa.Column("id", UUID, primary_key=True)


def upgrade() -> None:
    op.create_table(
        "points_account",
        _id(),
        sa.Column("member_id", UUID, nullable=False, unique=True),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("held", sa.BigInteger(), nullable=False),
        sa.Column("debt", sa.BigInteger(), nullable=False),
        sa.Column("growth_value", sa.BigInteger(), nullable=False),
        sa.Column("tier", sa.String(20), nullable=False),
        sa.CheckConstraint("held >= 0", name="ck_points_held"),
        sa.CheckConstraint("debt >= 0", name="ck_points_debt"),
    )
    op.create_table(
        "points_entry",
        _id(),
        sa.Column("member_id", UUID, nullable=False, index=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("held_change", sa.BigInteger(), nullable=False),
        sa.Column("balance_after", sa.BigInteger(), nullable=False),
        sa.Column("held_after", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("actor", sa.String(60), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("idempotency_key", sa.String(150), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("member_id", "idempotency_key", name="uq_points_entry_key"),
        sa.CheckConstraint(f"kind IN ({KINDS})", name="ck_points_entry_kind"),
    )
    op.create_table(
        "points_lot",
        _id(),
        sa.Column("member_id", UUID, nullable=False, index=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.Column("held", sa.BigInteger(), nullable=False),
        sa.Column("earned_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False, index=True),
        sa.Column("source", sa.String(100), nullable=False),
        sa.CheckConstraint("remaining >= 0 AND held >= 0", name="ck_points_lot_nonnegative"),
        sa.CheckConstraint("remaining + held <= amount", name="ck_points_lot_within_amount"),
    )
    op.create_table(
        "points_hold",
        _id(),
        sa.Column("member_id", UUID, nullable=False, index=True),
        sa.Column("owner", sa.String(100), nullable=False, unique=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("allocations", JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("amount > 0", name="ck_points_hold_amount"),
    )
    op.create_table(
        "growth_record",
        _id(),
        sa.Column("member_id", UUID, nullable=False, index=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("reference", sa.String(100), nullable=False),
    )
    op.create_table(
        "tier_change",
        _id(),
        sa.Column("member_id", UUID, nullable=False, index=True),
        sa.Column("old_tier", sa.String(20), nullable=False),
        sa.Column("new_tier", sa.String(20), nullable=False),
        sa.Column("at", TS, nullable=False),
    )
    with op.batch_alter_table("customer_order") as batch:
        batch.add_column(
            sa.Column("points_redeemed", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("points_discount", sa.BigInteger(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("customer_order") as batch:
        batch.drop_column("points_discount")
        batch.drop_column("points_redeemed")
    for table in (
        "tier_change",
        "growth_record",
        "points_hold",
        "points_lot",
        "points_entry",
        "points_account",
    ):
        op.drop_table(table)
