"""Group-buys (growth context; `domain/growth/group_buys`)."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model


class GroupBuyCampaignRow(Model):
    """One campaign; `units_taken` is its counter, changed only by conditional updates."""

    id = fields.UUIDField(primary_key=True)
    variant_id = fields.UUIDField()
    price = fields.IntField()
    currency = fields.CharField(max_length=3)
    group_size = fields.IntField()
    time_limit_seconds = fields.IntField()
    per_member_limit = fields.IntField()
    location_ids: Any = fields.JSONField()  # pickup at these stores
    delivery = fields.BooleanField()
    starts_at = fields.DatetimeField()
    ends_at = fields.DatetimeField()
    units_offered = fields.IntField()
    units_taken = fields.IntField()
    created_at = fields.DatetimeField()
    cancelled_at = fields.DatetimeField(null=True)
    cancel_reason = fields.CharField(max_length=200, null=True)

    class Meta:
        table = "group_buy_campaign"
        indexes = (("starts_at",),)


class GroupBuyRow(Model):
    """One group; `seats_taken` and `paid` change only by conditional updates."""

    id = fields.UUIDField(primary_key=True)
    campaign_id = fields.UUIDField()
    leader_id = fields.UUIDField()
    size = fields.IntField()
    status = fields.CharField(max_length=16)
    seats_taken = fields.IntField()
    paid = fields.IntField()
    opened_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    closed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "group_buy"
        indexes = (("status", "expires_at"),)


class GroupBuySeatRow(Model):
    """A member's seat in a group and the order that pays for it."""

    id = fields.UUIDField(primary_key=True)
    group_id = fields.UUIDField()
    campaign_id = fields.UUIDField()
    member_id = fields.UUIDField()
    order_id = fields.UUIDField(unique=True)
    label = fields.CharField(max_length=40)
    leader = fields.BooleanField()
    status = fields.CharField(max_length=16)
    joined_at = fields.DatetimeField()

    class Meta:
        table = "group_buy_seat"
        unique_together = (("group_id", "member_id"),)


class GroupBuyMemberRow(Model):
    """How many seats a member holds in a campaign's groups (unique per campaign and member)."""

    id = fields.UUIDField(primary_key=True)
    campaign_id = fields.UUIDField()
    member_id = fields.UUIDField()
    seats = fields.IntField()

    class Meta:
        table = "group_buy_member"
        unique_together = (("campaign_id", "member_id"),)
