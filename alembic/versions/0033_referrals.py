"""Referrals (老带新, growth context): programs (one ACTIVE at a time), each member's code,
one referral per invitee (pending, rewarded, clawed back, or refused with its reason), the
rewarded referrals of each referrer per month (the cap's counter), and the keyed hashes of
erased members' identifiers (a returning person is not a new one).

Revision ID: 0033_referrals
Revises: 0035_assists
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0033_referrals"
down_revision = "0035_assists"
branch_labels = None
depends_on = None

UUID = sa.CHAR(36).with_variant(postgresql.UUID(), "postgresql")
TS = sa.TIMESTAMP(timezone=True)
BOOL = sa.Integer().with_variant(sa.Boolean(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "referral_program",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=False),
        sa.Column("referrer_points", sa.Integer(), nullable=False),
        sa.Column("referrer_template_id", UUID, nullable=True),
        sa.Column("invitee_points", sa.Integer(), nullable=False),
        sa.Column("invitee_points_per_yuan", sa.Integer(), nullable=False),
        sa.Column("invitee_template_id", UUID, nullable=True),
        sa.Column("monthly_cap", sa.Integer(), nullable=False),
        # 1 while ACTIVE, else NULL: the unique key holds "one active program at a time" even
        # against two admins activating at once (NULLs do not collide).
        sa.Column("active_slot", sa.Integer(), nullable=True, unique=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint(
            "status IN ('ACTIVE','PAUSED','ENDED')", name="ck_referral_program_status"
        ),
        sa.CheckConstraint(
            "(status = 'ACTIVE') = (active_slot IS NOT NULL) AND "
            "(active_slot IS NULL OR active_slot = 1)",
            name="ck_referral_program_active",
        ),
        sa.CheckConstraint("monthly_cap > 0", name="ck_referral_program_cap"),
    )
    op.create_index("ix_referral_program_status", "referral_program", ["status"])
    op.create_table(
        "referral_code",
        sa.Column("member_id", UUID, primary_key=True),
        sa.Column("code", sa.String(16), nullable=False, unique=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "referral",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("invitee_id", UUID, nullable=False, unique=True),
        sa.Column("referrer_id", UUID, nullable=True),
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("program_id", UUID, nullable=True),
        sa.Column("status", sa.String(11), nullable=False),
        sa.Column("reason", sa.String(16), nullable=True),
        sa.Column("device_hash", sa.String(32), nullable=True),
        sa.Column("order_id", UUID, nullable=True),
        sa.Column("referrer_paid", BOOL, nullable=False),
        sa.Column("referrer_points", sa.Integer(), nullable=False),
        sa.Column("invitee_points", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("decided_at", TS, nullable=True),
        sa.CheckConstraint(
            "status IN ('PENDING','REWARDED','CLAWED_BACK','REFUSED')",
            name="ck_referral_status",
        ),
        sa.CheckConstraint(
            "(status = 'REFUSED') = (reason IS NOT NULL)", name="ck_referral_reason"
        ),
    )
    op.create_index("ix_referral_referrer", "referral", ["referrer_id", "created_at"])
    op.create_index("ix_referral_device", "referral", ["device_hash"])
    op.create_table(
        "referral_month",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("referrer_id", UUID, nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("rewarded", sa.Integer(), nullable=False),
        sa.UniqueConstraint("referrer_id", "month", name="uq_referral_month"),
        sa.CheckConstraint("rewarded >= 0", name="ck_referral_month_rewarded"),
    )
    op.create_table(
        "referral_erased_identity",
        sa.Column("lookup_hash", sa.String(64), primary_key=True),
        sa.Column("erased_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("referral_erased_identity")
    op.drop_table("referral_month")
    op.drop_table("referral")
    op.drop_table("referral_code")
    op.drop_table("referral_program")
