"""Group-buys (growth): campaigns, groups, seats, each member's seats per campaign.

- `group_buy_campaign`: a variant at a group price for groups of `group_size`, each open for
  `time_limit_seconds`; `units_taken` (a group's size per group opened) never past
  `units_offered` (CHECK; taken by a conditional update).
- `group_buy`: one group; `seats_taken` (seats held by an order, paid or not) and `paid`
  never past `size` (CHECK: `0 <= paid <= seats_taken <= size`). Index `(status, expires_at)`:
  the failure job's look-up.
- `group_buy_seat`: a member's seat and its order, unique per (group, member) and per order.
- `group_buy_member`: a member's seats in a campaign, within `per_member_limit`.

Revision ID: 0034_group_buys
Revises: 0032_order_coupons
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

# SQLite has no boolean: Tortoise stores one as INTEGER there (as the other revisions do).
BOOL = sa.Integer().with_variant(sa.Boolean(), "postgresql")

revision = "0034_group_buys"
down_revision = "0032_order_coupons"
branch_labels = None
depends_on = None

UUID = sa.CHAR(36).with_variant(postgresql.UUID(), "postgresql")
TS = sa.TIMESTAMP(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "group_buy_campaign",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("variant_id", UUID, nullable=False),
        sa.Column("price", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("group_size", sa.Integer(), nullable=False),
        sa.Column("time_limit_seconds", sa.Integer(), nullable=False),
        sa.Column("per_member_limit", sa.Integer(), nullable=False),
        sa.Column("location_ids", JSON, nullable=False),
        sa.Column("delivery", BOOL, nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=False),
        sa.Column("units_offered", sa.Integer(), nullable=False),
        sa.Column("units_taken", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("cancelled_at", TS, nullable=True),
        sa.Column("cancel_reason", sa.String(200), nullable=True),
        sa.CheckConstraint(
            "units_taken >= 0 AND units_taken <= units_offered", name="ck_group_buy_campaign_units"
        ),
    )
    op.create_index("ix_group_buy_campaign_starts", "group_buy_campaign", ["starts_at"])
    op.create_table(
        "group_buy",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("campaign_id", UUID, nullable=False),
        sa.Column("leader_id", UUID, nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("seats_taken", sa.Integer(), nullable=False),
        sa.Column("paid", sa.Integer(), nullable=False),
        sa.Column("opened_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("closed_at", TS, nullable=True),
        sa.CheckConstraint(
            "paid >= 0 AND paid <= seats_taken AND seats_taken <= size", name="ck_group_buy_seats"
        ),
    )
    op.create_index("ix_group_buy_due", "group_buy", ["status", "expires_at"])
    op.create_table(
        "group_buy_seat",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("group_id", UUID, nullable=False),
        sa.Column("campaign_id", UUID, nullable=False),
        sa.Column("member_id", UUID, nullable=False),
        sa.Column("order_id", UUID, nullable=False, unique=True),
        sa.Column("label", sa.String(40), nullable=False),
        sa.Column("leader", BOOL, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("joined_at", TS, nullable=False),
        sa.UniqueConstraint("group_id", "member_id", name="uq_group_buy_seat_member"),
    )
    op.create_table(
        "group_buy_member",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("campaign_id", UUID, nullable=False),
        sa.Column("member_id", UUID, nullable=False),
        sa.Column("seats", sa.Integer(), nullable=False),
        sa.UniqueConstraint("campaign_id", "member_id", name="uq_group_buy_member"),
        sa.CheckConstraint("seats >= 0", name="ck_group_buy_member_seats"),
    )


def downgrade() -> None:
    op.drop_table("group_buy_member")
    op.drop_table("group_buy_seat")
    op.drop_table("group_buy")
    op.drop_table("group_buy_campaign")
