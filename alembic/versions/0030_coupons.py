"""Coupon templates, coupons and redemption codes (promotions).

- `coupon_template`: the rules (kind, amount or basis points, cap, threshold, currency), the
  scope (JSON lists of products, categories, channels, stores), the validity (a window or
  days from issue), the quantity and the `issued` counter (CHECK `issued <= total_quantity`:
  claims count themselves in one conditional update), the per-member limit, new members
  only, stacking, the status.
- `coupon`: one per issued coupon. Claims and codes take a slot 1..per_member_limit, unique
  per (template, member, slot); grants carry their idempotency key (`issue_key`, unique).
  The order holding or having used it (`order_id`); `reminded_at` for "coupons expiring".
- `coupon_code`: redemption codes (兑换码) by SHA-256 (the codes are shown once), each
  redeemed once (`redeemed_by`, `redeemed_at`).

Revision ID: 0030_coupons
Revises: 0029_flash_sales
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0030_coupons"
down_revision = "0029_flash_sales"
branch_labels = None
depends_on = None

UUID = sa.CHAR(36).with_variant(postgresql.UUID(), "postgresql")
TS = sa.TIMESTAMP(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BOOL = sa.Integer().with_variant(sa.Boolean(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "coupon_template",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("amount_off", sa.BigInteger(), nullable=False),
        sa.Column("percent_off_bp", sa.Integer(), nullable=False),
        sa.Column("max_discount", sa.BigInteger(), nullable=True),
        sa.Column("threshold", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("scope", JSON, nullable=False),
        sa.Column("starts_at", TS, nullable=True),
        sa.Column("ends_at", TS, nullable=True),
        sa.Column("valid_days", sa.Integer(), nullable=True),
        sa.Column("total_quantity", sa.Integer(), nullable=False),
        sa.Column("issued", sa.Integer(), nullable=False),
        sa.Column("per_member_limit", sa.Integer(), nullable=False),
        sa.Column("new_members_only", BOOL, nullable=False),
        sa.Column("stackable_with_points", BOOL, nullable=False),
        sa.Column("stackable_with_coupons", BOOL, nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint(
            "issued >= 0 AND issued <= total_quantity", name="ck_coupon_template_issued"
        ),
        sa.CheckConstraint(
            "kind IN ('AMOUNT_OFF','PERCENT_OFF','NO_THRESHOLD')", name="ck_coupon_template_kind"
        ),
        sa.CheckConstraint(
            "status IN ('ACTIVE','PAUSED','ENDED')", name="ck_coupon_template_status"
        ),
    )
    op.create_index("ix_coupon_template_status", "coupon_template", ["status", "id"])
    op.create_table(
        "coupon",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("template_id", UUID, nullable=False),
        sa.Column("member_id", UUID, nullable=False),
        sa.Column("status", sa.String(9), nullable=False),
        sa.Column("source", sa.String(5), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=True),
        sa.Column("issue_key", sa.String(160), nullable=True, unique=True),
        sa.Column("valid_from", TS, nullable=False),
        sa.Column("valid_until", TS, nullable=False),
        sa.Column("issued_at", TS, nullable=False),
        sa.Column("order_id", UUID, nullable=True),
        sa.Column("used_at", TS, nullable=True),
        sa.Column("reminded_at", TS, nullable=True),
        sa.UniqueConstraint("template_id", "member_id", "slot", name="uq_coupon_slot"),
        sa.CheckConstraint(
            "status IN ('AVAILABLE','HELD','USED','EXPIRED')", name="ck_coupon_status"
        ),
        sa.CheckConstraint(
            "(status IN ('HELD','USED')) = (order_id IS NOT NULL)", name="ck_coupon_order"
        ),
    )
    op.create_index("ix_coupon_member", "coupon", ["member_id", "status", "valid_until"])
    op.create_index("ix_coupon_order", "coupon", ["order_id"])
    op.create_index("ix_coupon_status_until", "coupon", ["status", "valid_until"])
    op.create_table(
        "coupon_code",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("template_id", UUID, nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("redeemed_by", UUID, nullable=True),
        sa.Column("redeemed_at", TS, nullable=True),
    )
    op.create_index("ix_coupon_code_template", "coupon_code", ["template_id"])


def downgrade() -> None:
    op.drop_table("coupon_code")
    op.drop_table("coupon")
    op.drop_table("coupon_template")
