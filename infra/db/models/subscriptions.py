from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from domain.subscriptions.model import CycleStatus, IntervalUnit, SubscriptionStatus


class PlanRow(Model):
    id = fields.UUIDField(primary_key=True)
    name = fields.CharField(max_length=100)
    variant_ids: Any = fields.JSONField()
    interval_unit = fields.CharEnumField(IntervalUnit, max_length=10)
    interval_count = fields.IntField()
    discount_percent = fields.IntField()
    min_cycles = fields.IntField()
    active = fields.BooleanField()
    created_at = fields.DatetimeField()
    prepaid_deliveries = fields.IntField(default=0)

    class Meta:
        table = "subscription_plan"


class SubscriptionRow(Model):
    id = fields.UUIDField(primary_key=True)
    member_id = fields.UUIDField(db_index=True)
    plan_id = fields.UUIDField()
    lines: Any = fields.JSONField()
    interval_unit = fields.CharEnumField(IntervalUnit, max_length=10)
    interval_count = fields.IntField()
    anchor_date = fields.DateField()
    next_date = fields.DateField(db_index=True)
    cycles_done = fields.IntField()
    sequence = fields.IntField()
    status = fields.CharEnumField(SubscriptionStatus, max_length=10)
    pickup_location_id = fields.UUIDField(null=True)
    delivery_address = fields.TextField(null=True)
    delivery_latitude = fields.FloatField(null=True)
    delivery_longitude = fields.FloatField(null=True)
    payment_agreement = fields.CharField(max_length=100)
    timezone = fields.CharField(max_length=64)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    paused_until = fields.DateField(null=True)
    cancel_reason = fields.CharField(max_length=200, null=True)
    failed_attempts = fields.IntField()
    next_retry_at = fields.DatetimeField(null=True)
    prepaid_deliveries = fields.IntField(default=0)
    prepaid_used = fields.IntField(default=0)
    prepayment_order_id = fields.UUIDField(null=True)

    class Meta:
        table = "subscription"


class CycleRow(Model):
    id = fields.UUIDField(primary_key=True)
    subscription_id = fields.UUIDField()
    number = fields.IntField()
    scheduled_date = fields.DateField()
    status = fields.CharEnumField(CycleStatus, max_length=10)
    order_id = fields.UUIDField(null=True, db_index=True)
    location_id = fields.UUIDField(null=True)
    attempts = fields.IntField()
    note = fields.CharField(max_length=200)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "subscription_cycle"
        unique_together = (("subscription_id", "number"),)
        indexes = (("location_id", "scheduled_date"),)


class SubscriptionChangeRow(Model):
    id = fields.UUIDField(primary_key=True)
    subscription_id = fields.UUIDField(db_index=True)
    what = fields.CharField(max_length=20)
    detail = fields.CharField(max_length=200)
    actor = fields.CharField(max_length=60)
    at = fields.DatetimeField()

    class Meta:
        table = "subscription_change"
