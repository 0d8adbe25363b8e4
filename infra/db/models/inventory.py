from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from domain.inventory.model import DiscrepancyKind, MovementKind, ReservationState, TransferState


class StockLevelRow(Model):
    id = fields.UUIDField(primary_key=True)
    location_id = fields.UUIDField()
    variant_id = fields.UUIDField(db_index=True)
    on_hand = fields.IntField()
    reserved = fields.IntField()
    safety_stock = fields.IntField()

    class Meta:
        table = "stock_level"
        unique_together = (("location_id", "variant_id"),)


class ReservationRow(Model):
    id = fields.UUIDField(primary_key=True)
    owner = fields.CharField(max_length=100, db_index=True)
    location_id = fields.UUIDField()
    variant_id = fields.UUIDField()
    quantity = fields.IntField()
    state = fields.CharEnumField(ReservationState, max_length=10)
    expires_at = fields.DatetimeField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "stock_reservation"
        # The sweeper's held-and-expired scan, and a level's held reservations.
        indexes = (("state", "expires_at"), ("location_id", "variant_id", "state"))


class MovementRow(Model):
    id = fields.UUIDField(primary_key=True)
    location_id = fields.UUIDField()
    variant_id = fields.UUIDField()
    kind = fields.CharEnumField(MovementKind, max_length=20)
    on_hand_delta = fields.IntField()
    reserved_delta = fields.IntField()
    reason = fields.CharField(max_length=200)
    reference = fields.CharField(max_length=100, db_index=True)
    actor = fields.CharField(max_length=60)
    created_at = fields.DatetimeField()

    class Meta:
        table = "stock_movement"
        indexes = (("location_id", "variant_id"),)


class TransferRow(Model):
    id = fields.UUIDField(primary_key=True)
    from_location_id = fields.UUIDField(db_index=True)
    to_location_id = fields.UUIDField(db_index=True)
    state = fields.CharEnumField(TransferState, max_length=10)
    lines: Any = fields.JSONField()
    actor = fields.CharField(max_length=60)
    created_at = fields.DatetimeField()
    shipped_at = fields.DatetimeField(null=True)
    received_at = fields.DatetimeField(null=True)

    class Meta:
        table = "stock_transfer"


class PosTransactionRow(Model):
    id = fields.UUIDField(primary_key=True)
    location_id = fields.UUIDField()
    transaction_id = fields.CharField(max_length=64)
    summary: Any = fields.JSONField()
    created_at = fields.DatetimeField()
    member_id = fields.UUIDField(null=True)  # who the sale was for, kept for its returns

    class Meta:
        table = "pos_transaction"
        unique_together = (("location_id", "transaction_id"),)


class DiscrepancyRow(Model):
    id = fields.UUIDField(primary_key=True)
    location_id = fields.UUIDField(db_index=True)
    variant_id = fields.UUIDField()
    kind = fields.CharEnumField(DiscrepancyKind, max_length=20)
    quantity = fields.IntField()
    reference = fields.CharField(max_length=100)
    created_at = fields.DatetimeField()

    class Meta:
        table = "stock_discrepancy"


class IdempotencyRow(Model):
    id = fields.UUIDField(primary_key=True)
    scope = fields.CharField(max_length=150)
    key = fields.CharField(max_length=100)
    fingerprint = fields.CharField(max_length=64)
    result: Any = fields.JSONField(null=True)
    created_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "idempotency_record"
        unique_together = (("scope", "key"),)
