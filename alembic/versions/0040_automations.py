"""Automations (engagement context, issue 19): definitions, one send per (automation, member,
trigger period), and the members' order activity the triggers read.

Revision ID: 0040_automations
Revises: 0039_engagement_metrics
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0040_automations"
down_revision = "0039_engagement_metrics"
branch_labels = None
depends_on = None

UUID = sa.CHAR(36).with_variant(postgresql.UUID(), "postgresql")
TS = sa.TIMESTAMP(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "automation",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("trigger", sa.String(40), nullable=False),
        sa.Column("spec", JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint("status IN ('ACTIVE','PAUSED','ARCHIVED')", name="ck_automation_status"),
    )
    op.create_index("ix_automation_status", "automation", ["status", "trigger"])
    op.create_table(
        "automation_send",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("automation_id", UUID, nullable=False),
        sa.Column("member_id", UUID, nullable=False),
        sa.Column("period_key", sa.String(60), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("done_at", TS, nullable=True),
        sa.Column("message_key", sa.String(60), nullable=True),
        sa.Column("coupon_id", UUID, nullable=True),
        sa.Column("points_entry_id", UUID, nullable=True),
        sa.Column("detail", sa.String(200), nullable=False),
        # Once per member and trigger period, whatever runs at once.
        sa.UniqueConstraint(
            "automation_id", "member_id", "period_key", name="uq_automation_send_period"
        ),
    )
    op.create_index("ix_automation_send_due", "automation_send", ["outcome", "due_at"])
    op.create_index("ix_automation_send_member", "automation_send", ["member_id", "created_at"])
    op.create_table(
        "automation_member",
        sa.Column("member_id", UUID, primary_key=True),
        sa.Column("last_order_at", TS, nullable=True),
        sa.Column("handed_over", sa.Integer, nullable=False),
        sa.Column("store_id", UUID, nullable=True),
    )
    op.create_index("ix_automation_member_last", "automation_member", ["last_order_at"])


def downgrade() -> None:
    op.drop_index("ix_automation_member_last", table_name="automation_member")
    op.drop_table("automation_member")
    op.drop_index("ix_automation_send_member", table_name="automation_send")
    op.drop_index("ix_automation_send_due", table_name="automation_send")
    op.drop_table("automation_send")
    op.drop_index("ix_automation_status", table_name="automation")
    op.drop_table("automation")
