from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from domain.loyalty.model import ClaimState, EntryKind, HoldState


class PointsAccountRow(Model):
    id = fields.UUIDField(primary_key=True)
    member_id = fields.UUIDField(unique=True)
    balance = fields.BigIntField()
    held = fields.BigIntField()
    debt = fields.BigIntField()
    growth_value = fields.BigIntField()
    tier = fields.CharField(max_length=20)

    class Meta:
        table = "points_account"


class PointsEntryRow(Model):
    """Append-only: the application never updates or deletes an entry."""

    id = fields.UUIDField(primary_key=True)
    member_id = fields.UUIDField(db_index=True)
    kind = fields.CharEnumField(EntryKind, max_length=10)
    amount = fields.BigIntField()
    held_change = fields.BigIntField()
    balance_after = fields.BigIntField()
    held_after = fields.BigIntField()
    source = fields.CharField(max_length=100)
    actor = fields.CharField(max_length=60)
    reason = fields.CharField(max_length=200)
    idempotency_key = fields.CharField(max_length=150)
    created_at = fields.DatetimeField()

    class Meta:
        table = "points_entry"
        unique_together = (("member_id", "idempotency_key"),)


class PointsLotRow(Model):
    id = fields.UUIDField(primary_key=True)
    member_id = fields.UUIDField(db_index=True)
    amount = fields.BigIntField()
    remaining = fields.BigIntField()
    held = fields.BigIntField()
    earned_at = fields.DatetimeField()
    expires_at = fields.DatetimeField(db_index=True)
    source = fields.CharField(max_length=100)

    class Meta:
        table = "points_lot"


class PointsHoldRow(Model):
    id = fields.UUIDField(primary_key=True)
    member_id = fields.UUIDField(db_index=True)
    owner = fields.CharField(max_length=100, unique=True)
    amount = fields.BigIntField()
    state = fields.CharEnumField(HoldState, max_length=10)
    allocations: Any = fields.JSONField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "points_hold"


class GrowthRecordRow(Model):
    id = fields.UUIDField(primary_key=True)
    member_id = fields.UUIDField(db_index=True)
    amount = fields.BigIntField()
    at = fields.DatetimeField()
    reference = fields.CharField(max_length=100)

    class Meta:
        table = "growth_record"


class TierChangeRow(Model):
    id = fields.UUIDField(primary_key=True)
    member_id = fields.UUIDField(db_index=True)
    old_tier = fields.CharField(max_length=20)
    new_tier = fields.CharField(max_length=20)
    at = fields.DatetimeField()

    class Meta:
        table = "tier_change"


class PointsClaimRow(Model):
    """A till sale's points above the per-sale cap, waiting for a decision."""

    id = fields.UUIDField(primary_key=True)
    member_id = fields.UUIDField(db_index=True)
    location_id = fields.UUIDField()
    reference = fields.CharField(max_length=100, unique=True)
    paid = fields.BigIntField()
    points = fields.BigIntField()
    state = fields.CharEnumField(ClaimState, max_length=10)
    created_at = fields.DatetimeField()
    decided_by = fields.CharField(max_length=60, null=True)
    decided_at = fields.DatetimeField(null=True)
    reason = fields.CharField(max_length=200)

    class Meta:
        table = "points_claim"
        indexes = (("location_id", "state"),)
