"""Coupon templates, coupons and redemption codes (promotions; `domain/promotions/coupons`)."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from domain.promotions.coupons_model import CouponKind, CouponSource, CouponStatus, TemplateStatus


class CouponTemplateRow(Model):
    id = fields.UUIDField(primary_key=True)
    name = fields.CharField(max_length=60)
    kind = fields.CharEnumField(CouponKind, max_length=12)
    amount_off = fields.BigIntField()
    percent_off_bp = fields.IntField()
    max_discount = fields.BigIntField(null=True)
    threshold = fields.BigIntField()
    currency = fields.CharField(max_length=3)
    scope: Any = fields.JSONField()
    starts_at = fields.DatetimeField(null=True)
    ends_at = fields.DatetimeField(null=True)
    valid_days = fields.IntField(null=True)
    total_quantity = fields.IntField()
    issued = fields.IntField()  # CHECK issued <= total_quantity (Alembic)
    per_member_limit = fields.IntField()
    new_members_only = fields.BooleanField()
    stackable_with_points = fields.BooleanField()
    stackable_with_coupons = fields.BooleanField()
    status = fields.CharEnumField(TemplateStatus, max_length=8)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "coupon_template"
        indexes = (("status", "id"),)


class CouponRow(Model):
    id = fields.UUIDField(primary_key=True)
    template_id = fields.UUIDField()
    member_id = fields.UUIDField()
    status = fields.CharEnumField(CouponStatus, max_length=9)
    source = fields.CharEnumField(CouponSource, max_length=5)
    slot = fields.IntField(null=True)  # claims and codes: 1..per_member_limit
    issue_key = fields.CharField(max_length=160, null=True, unique=True)  # grants
    valid_from = fields.DatetimeField()
    valid_until = fields.DatetimeField()
    issued_at = fields.DatetimeField()
    order_id = fields.UUIDField(null=True)
    discount = fields.BigIntField(default=0)  # fen it takes off the order holding or using it
    used_at = fields.DatetimeField(null=True)
    reminded_at = fields.DatetimeField(null=True)

    class Meta:
        table = "coupon"
        unique_together = (("template_id", "member_id", "slot"),)
        indexes = (
            ("member_id", "status", "valid_until"),
            ("order_id",),
            ("status", "valid_until"),
        )


class CouponCodeRow(Model):
    id = fields.UUIDField(primary_key=True)
    template_id = fields.UUIDField()
    code_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField()
    redeemed_by = fields.UUIDField(null=True)
    redeemed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "coupon_code"
        indexes = (("template_id",),)
