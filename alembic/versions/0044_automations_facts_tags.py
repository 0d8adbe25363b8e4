"""Automations, second step: they read a member's last order, orders and preferred store from
member facts (one source of member facts), so `automation_member` keeps only the hand-over
count, which member facts lack (they count paid orders) and FIRST_ORDER_HANDED_OVER needs; an
ADD_TAG send names the tag it put on (`automation_send.tag_id`).

Revision ID: 0044_automations_facts_tags
Revises: 0043_member_birthday
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0044_automations_facts_tags"
down_revision = "0043_member_birthday"
branch_labels = None
depends_on = None

UUID = sa.CHAR(36).with_variant(postgresql.UUID(), "postgresql")
TS = sa.TIMESTAMP(timezone=True)


def upgrade() -> None:
    op.drop_index("ix_automation_member_last", table_name="automation_member")
    with op.batch_alter_table("automation_member") as batch:
        batch.drop_column("store_id")
        batch.drop_column("last_order_at")
    with op.batch_alter_table("automation_send") as batch:
        batch.add_column(sa.Column("tag_id", UUID, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("automation_send") as batch:
        batch.drop_column("tag_id")
    with op.batch_alter_table("automation_member") as batch:
        batch.add_column(sa.Column("last_order_at", TS, nullable=True))
        batch.add_column(sa.Column("store_id", UUID, nullable=True))
    op.create_index("ix_automation_member_last", "automation_member", ["last_order_at"])
