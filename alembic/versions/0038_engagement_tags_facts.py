"""Engagement (issue 19): tags (`tag`, `member_tag`) and the member facts read model
(`member_facts`: one row per member, one typed column per fact, RFM scores).

Revision ID: 0038_engagement_tags_facts
Revises: 0037_assist_merged
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0038_engagement_tags_facts"
down_revision = "0037_assist_merged"
branch_labels = None
depends_on = None

UUID = sa.CHAR(36).with_variant(postgresql.UUID(), "postgresql")
TS = sa.TIMESTAMP(timezone=True)
BOOL = sa.Integer().with_variant(sa.Boolean(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "tag",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("name", sa.String(40), nullable=False, unique=True),
        sa.Column("kind", sa.String(9), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("rule", sa.String(80), nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("kind IN ('MANUAL','AUTOMATIC')", name="ck_tag_kind"),
    )
    op.create_table(
        "member_tag",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("member_id", UUID, nullable=False),
        sa.Column("tag_id", UUID, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("tagged_at", TS, nullable=False),
        # A tag once per member: a repeat (or two at once) changes nothing.
        sa.UniqueConstraint("member_id", "tag_id", name="uq_member_tag"),
    )
    op.create_index("ix_member_tag_tag", "member_tag", ["tag_id", "member_id"])
    op.create_table(
        "member_facts",
        sa.Column("member_id", UUID, primary_key=True),
        sa.Column("first_order_at", TS, nullable=True),
        sa.Column("last_order_at", TS, nullable=True),
        sa.Column("orders_30", sa.Integer(), nullable=False),
        sa.Column("orders_90", sa.Integer(), nullable=False),
        sa.Column("orders_365", sa.Integer(), nullable=False),
        sa.Column("spend_30", sa.BigInteger(), nullable=False),
        sa.Column("spend_90", sa.BigInteger(), nullable=False),
        sa.Column("spend_365", sa.BigInteger(), nullable=False),
        sa.Column("avg_order_value", sa.BigInteger(), nullable=False),
        sa.Column("preferred_store_id", UUID, nullable=True),
        sa.Column("preferred_channel", sa.String(20), nullable=True),
        sa.Column("tier", sa.String(20), nullable=True),
        sa.Column("points_balance", sa.BigInteger(), nullable=False),
        sa.Column("birthday", sa.String(5), nullable=True),
        sa.Column("marketing_sms", BOOL, nullable=False),
        sa.Column("marketing_wechat", BOOL, nullable=False),
        sa.Column("referrals_count", sa.Integer(), nullable=False),
        sa.Column("group_buys_count", sa.Integer(), nullable=False),
        sa.Column("r_score", sa.SmallInteger(), nullable=True),
        sa.Column("f_score", sa.SmallInteger(), nullable=True),
        sa.Column("m_score", sa.SmallInteger(), nullable=True),
        sa.Column("rfm_segment", sa.String(12), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_member_facts_last_order", "member_facts", ["last_order_at"])
    op.create_index("ix_member_facts_segment", "member_facts", ["rfm_segment"])


def downgrade() -> None:
    op.drop_index("ix_member_facts_segment", table_name="member_facts")
    op.drop_index("ix_member_facts_last_order", table_name="member_facts")
    op.drop_table("member_facts")
    op.drop_index("ix_member_tag_tag", table_name="member_tag")
    op.drop_table("member_tag")
    op.drop_table("tag")
