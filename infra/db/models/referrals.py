"""Referrals (growth context; `domain/growth/referrals`)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from domain.growth.referrals_model import ProgramStatus, ReferralStatus, RefusalReason


class ReferralProgramRow(Model):
    id = fields.UUIDField(primary_key=True)
    name = fields.CharField(max_length=100)
    status = fields.CharEnumField(ProgramStatus, max_length=8)
    starts_at = fields.DatetimeField()
    ends_at = fields.DatetimeField()
    referrer_points = fields.IntField()
    referrer_template_id = fields.UUIDField(null=True)
    invitee_points = fields.IntField()
    invitee_points_per_yuan = fields.IntField()
    invitee_template_id = fields.UUIDField(null=True)
    monthly_cap = fields.IntField()
    active_slot = fields.IntField(null=True, unique=True)  # 1 while ACTIVE: one at a time
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "referral_program"
        indexes = (("status",),)


class ReferralCodeRow(Model):
    member_id = fields.UUIDField(primary_key=True)
    code = fields.CharField(max_length=16, unique=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "referral_code"


class ReferralRow(Model):
    id = fields.UUIDField(primary_key=True)
    invitee_id = fields.UUIDField(unique=True)
    referrer_id = fields.UUIDField(null=True)
    code = fields.CharField(max_length=16)
    program_id = fields.UUIDField(null=True)
    status = fields.CharEnumField(ReferralStatus, max_length=11)
    reason = fields.CharEnumField(RefusalReason, max_length=16, null=True)
    device_hash = fields.CharField(max_length=32, null=True)
    order_id = fields.UUIDField(null=True)
    referrer_paid = fields.BooleanField()
    referrer_points = fields.IntField()
    invitee_points = fields.IntField()
    created_at = fields.DatetimeField()
    decided_at = fields.DatetimeField(null=True)

    class Meta:
        table = "referral"
        indexes = (("referrer_id", "created_at"), ("device_hash",))


class ReferralMonthRow(Model):
    id = fields.UUIDField(primary_key=True)
    referrer_id = fields.UUIDField()
    month = fields.CharField(max_length=7)
    rewarded = fields.IntField()

    class Meta:
        table = "referral_month"
        unique_together = (("referrer_id", "month"),)


class ReferralErasedIdentityRow(Model):
    lookup_hash = fields.CharField(max_length=64, primary_key=True)
    erased_at = fields.DatetimeField()

    class Meta:
        table = "referral_erased_identity"
