"""Members (OneID): members, identities, consents, merges, phone codes, PII access log.

Revision ID: 0002_members
Revises: 0001_foundation
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0002_members"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

UUID = sa.CHAR(36).with_variant(postgresql.UUID(), "postgresql")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.TIMESTAMP(timezone=True)
BOOL = sa.Integer().with_variant(sa.Boolean(), "postgresql")


def _id() -> sa.Column[str]:
    return sa.Column("id", UUID, primary_key=True)


def upgrade() -> None:
    op.create_table(
        "member",
        _id(),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("display_name", sa.String(64), nullable=False),
        sa.Column("tier", sa.String(20), nullable=False),
        sa.Column("created_channel", sa.String(20), nullable=False),
        sa.Column(
            "merged_into_id",
            UUID,
            sa.ForeignKey("member.id", ondelete="RESTRICT"),
            nullable=True,
            index=True,
        ),
        sa.Column("data_key", sa.String(200), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("erased_at", TS, nullable=True),
        sa.CheckConstraint("status IN ('ACTIVE','MERGED','ERASED')", name="ck_member_status"),
        # A merged member names its survivor; only active members hold a data key.
        sa.CheckConstraint(
            "(status = 'MERGED') = (merged_into_id IS NOT NULL)", name="ck_member_merged_into"
        ),
        sa.CheckConstraint(
            "status = 'ACTIVE' OR data_key IS NULL", name="ck_member_key_only_when_active"
        ),
    )
    op.create_table(
        "member_identity",
        _id(),
        sa.Column(
            "member_id",
            UUID,
            sa.ForeignKey("member.id", ondelete="RESTRICT"),
            nullable=False,
            index=True,
        ),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("app_id", sa.String(64), nullable=False),
        # One identifier, one member: the keyed hash of (kind, app, value) is unique.
        sa.Column("lookup_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("ciphertext", sa.Text(), nullable=False),
        sa.Column("masked", sa.String(64), nullable=False),
        sa.Column("verified", BOOL, nullable=False),
        sa.Column("verified_by", sa.String(10), nullable=False),
        sa.Column("linked_at", TS, nullable=False),
        sa.CheckConstraint(
            "kind IN ('WECHAT_OPENID','WECHAT_UNIONID','PHONE','EMAIL','POS_CARD',"
            "'ALIPAY_USER_ID','DOUYIN_OPENID')",
            name="ck_identity_kind",
        ),
    )
    op.create_table(
        "consent_record",
        _id(),
        sa.Column("member_id", UUID, nullable=False, index=True),
        sa.Column("purpose", sa.String(40), nullable=False),
        sa.Column("granted", BOOL, nullable=False),
        sa.Column("policy_version", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
    )
    op.create_table(
        "member_merge",
        _id(),
        sa.Column("source_member_id", UUID, nullable=False, unique=True),
        sa.Column("target_member_id", UUID, nullable=False, index=True),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("actor", sa.String(60), nullable=False),
        sa.Column("moved", JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("source_member_id <> target_member_id", name="ck_merge_not_self"),
    )
    op.create_table(
        "phone_code",
        _id(),
        sa.Column("phone_hash", sa.String(64), nullable=False, index=True),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("expires_at", TS, nullable=False, index=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("consumed_at", TS, nullable=True),
        sa.CheckConstraint("attempts >= 0", name="ck_phone_code_attempts"),
    )
    op.create_table(
        "pii_access_log",
        _id(),
        sa.Column("actor", sa.String(60), nullable=False),
        sa.Column("member_id", UUID, nullable=False, index=True),
        sa.Column("kinds", JSON, nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "pii_access_log",
        "phone_code",
        "member_merge",
        "consent_record",
        "member_identity",
        "member",
    ):
        op.drop_table(table)
