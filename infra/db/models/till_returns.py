"""Till sales' lines (what each was charged, paid with points, and returned since) and the
in-store returns of them (inventory context; `domain/inventory/till_returns`)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from domain.aftersales.model import Condition
from domain.inventory.till_model import RefundMethod


class PosSaleLineRow(Model):
    id = fields.UUIDField(primary_key=True)
    sale_id = fields.UUIDField()  # pos_transaction.id
    variant_id = fields.UUIDField()
    quantity = fields.IntField()
    charged = fields.BigIntField()
    points_value = fields.BigIntField()
    points = fields.BigIntField()
    returned = fields.IntField()  # CHECK (returned <= quantity) in the migration

    class Meta:
        table = "pos_sale_line"
        unique_together = (("sale_id", "variant_id"),)


class PosReturnRow(Model):
    id = fields.UUIDField(primary_key=True)
    location_id = fields.UUIDField()
    sale_id = fields.UUIDField(db_index=True)
    transaction_id = fields.CharField(max_length=64)
    member_id = fields.UUIDField(null=True)
    refund_method = fields.CharEnumField(RefundMethod, max_length=20)
    refund_amount = fields.BigIntField()
    points_returned = fields.BigIntField()
    points_reversed = fields.BigIntField()
    reason = fields.CharField(max_length=200)
    actor = fields.CharField(max_length=60)
    created_at = fields.DatetimeField()

    class Meta:
        table = "pos_return"
        indexes = (("location_id", "id"),)  # a store's returns, newest first


class PosReturnLineRow(Model):
    id = fields.UUIDField(primary_key=True)
    return_id = fields.UUIDField(db_index=True)
    variant_id = fields.UUIDField()
    condition = fields.CharEnumField(Condition, max_length=10)
    quantity = fields.IntField()
    refund_amount = fields.BigIntField()
    points_returned = fields.BigIntField()

    class Meta:
        table = "pos_return_line"
