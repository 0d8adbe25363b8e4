"""After-sales: requests, their lines (units asked for, received, refunded) and timeline."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from domain.aftersales.model import AfterSaleKind, AfterSaleStatus


class AfterSaleRow(Model):
    id = fields.UUIDField(primary_key=True)
    order_id = fields.UUIDField(db_index=True)
    member_id = fields.UUIDField(null=True)
    location_id = fields.UUIDField()  # the order's store
    kind = fields.CharEnumField(AfterSaleKind, max_length=20)
    status = fields.CharEnumField(AfterSaleStatus, max_length=20)
    reason = fields.CharField(max_length=500)
    photo_urls: Any = fields.JSONField()
    requested_by = fields.CharField(max_length=60)
    decision_reason = fields.CharField(max_length=500)
    received_at_location_id = fields.UUIDField(null=True)
    refund_amount = fields.BigIntField()
    refund_payment_id = fields.UUIDField(null=True, unique=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "after_sale"
        # A member's newest first; a store's (by status) newest first.
        indexes = (("member_id", "created_at"), ("location_id", "status", "created_at"))


class AfterSaleLineRow(Model):
    id = fields.UUIDField(primary_key=True)
    after_sale_id = fields.UUIDField(db_index=True)
    order_line_id = fields.UUIDField(db_index=True)
    variant_id = fields.UUIDField()
    quantity = fields.IntField()
    received = fields.IntField()
    damaged = fields.IntField()
    refunded = fields.IntField()
    refund_amount = fields.BigIntField()
    points_returned = fields.BigIntField()

    class Meta:
        table = "after_sale_line"


class AfterSaleEventRow(Model):
    id = fields.UUIDField(primary_key=True)
    after_sale_id = fields.UUIDField(db_index=True)
    from_status = fields.CharEnumField(AfterSaleStatus, max_length=20, null=True)
    to_status = fields.CharEnumField(AfterSaleStatus, max_length=20)
    actor = fields.CharField(max_length=60)
    note = fields.CharField(max_length=500)
    at = fields.DatetimeField()

    class Meta:
        table = "after_sale_event"
