"""Friend-assist (助力, growth).

- `assist_campaign`: thresholds (JSON, ascending: helpers and the coupon template and/or
  points each pays), the task lifetime in hours, new helpers only, the helper's reward, the
  status.
- `assist_task`: a member's task of a campaign, its helper count (counted in one conditional
  update that locks the row), its deadline; `open_member_id` is the member while the task is
  OPEN, unique per campaign: one open task per member and campaign.
- `assist`: one per helper and task (unique), with the store-local day and a slot
  1..3 unique per (helper, day): the daily cap held by the database.
- `assist_reward`: each reward paid, unique per (task, member, threshold); 0 is a helper's.
- `points_entry.kind` may be REWARD: points growth gives (through loyalty's service).

Revision ID: 0035_assists
Revises: 0034_group_buys
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0035_assists"
down_revision = "0034_group_buys"
branch_labels = None
depends_on = None

UUID = sa.CHAR(36).with_variant(postgresql.UUID(), "postgresql")
TS = sa.TIMESTAMP(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BOOL = sa.Integer().with_variant(sa.Boolean(), "postgresql")
ENTRY_KINDS = (
    "'EARN','REDEEM','HOLD','RELEASE','EXPIRE','REVERSE','ADJUST','CHECK_IN','MERGE_IN',"
    "'MERGE_OUT','REWARD'"
)


def _entry_kinds(kinds: str) -> None:
    """Rewrite the CHECK of points_entry.kind (SQLite rebuilds the table to do it)."""
    with op.batch_alter_table("points_entry", recreate="always") as batch:
        batch.drop_constraint("ck_points_entry_kind", type_="check")
        batch.create_check_constraint("ck_points_entry_kind", f"kind IN ({kinds})")


def upgrade() -> None:
    _entry_kinds(ENTRY_KINDS)
    op.create_table(
        "assist_campaign",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("thresholds", JSON, nullable=False),
        sa.Column("task_hours", sa.Integer(), nullable=False),
        sa.Column("new_helpers_only", BOOL, nullable=False),
        sa.Column("helper_coupon_template_id", UUID, nullable=True),
        sa.Column("helper_points", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(6), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint("status IN ('ACTIVE','ENDED')", name="ck_assist_campaign_status"),
        sa.CheckConstraint("task_hours > 0", name="ck_assist_campaign_hours"),
    )
    op.create_index("ix_assist_campaign_status", "assist_campaign", ["status", "id"])
    op.create_table(
        "assist_task",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("campaign_id", UUID, nullable=False),
        sa.Column("member_id", UUID, nullable=False),
        sa.Column("open_member_id", UUID, nullable=True),
        sa.Column("status", sa.String(9), nullable=False),
        sa.Column("helpers", sa.Integer(), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("closed_at", TS, nullable=True),
        sa.UniqueConstraint("campaign_id", "open_member_id", name="uq_assist_task_open"),
        sa.CheckConstraint(
            "status IN ('OPEN','COMPLETED','EXPIRED')", name="ck_assist_task_status"
        ),
        sa.CheckConstraint(
            "(status = 'OPEN') = (open_member_id IS NOT NULL)", name="ck_assist_task_open"
        ),
        sa.CheckConstraint("helpers >= 0", name="ck_assist_task_helpers"),
    )
    op.create_index("ix_assist_task_member", "assist_task", ["member_id", "id"])
    op.create_index("ix_assist_task_due", "assist_task", ["status", "expires_at"])
    op.create_table(
        "assist",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("task_id", UUID, nullable=False),
        sa.Column("helper_id", UUID, nullable=False),
        sa.Column("helper_name", sa.String(8), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("task_id", "helper_id", name="uq_assist_task_helper"),
        sa.UniqueConstraint("helper_id", "day", "slot", name="uq_assist_helper_slot"),
        sa.CheckConstraint("slot >= 1", name="ck_assist_slot"),
    )
    op.create_table(
        "assist_reward",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("task_id", UUID, nullable=False),
        sa.Column("member_id", UUID, nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("coupon_id", UUID, nullable=True),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("unpaid", sa.String(32), nullable=True),
        sa.Column("paid_at", TS, nullable=False),
        sa.UniqueConstraint("task_id", "member_id", "threshold", name="uq_assist_reward"),
    )


def downgrade() -> None:
    op.drop_table("assist_reward")
    op.drop_table("assist")
    op.drop_table("assist_task")
    op.drop_table("assist_campaign")
    # points_entry still takes REWARD: its entries are a ledger, and stay.
