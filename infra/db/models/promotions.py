"""Flash sales (promotions context; `domain/promotions/flash_sales`)."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model


class FlashSaleRow(Model):
    """One sale; `units_sold` is its counter, changed only by conditional updates."""

    id = fields.UUIDField(primary_key=True)
    variant_id = fields.UUIDField()
    price = fields.IntField()
    currency = fields.CharField(max_length=3)
    starts_at = fields.DatetimeField()
    ends_at = fields.DatetimeField()
    units_offered = fields.IntField()
    units_sold = fields.IntField()
    per_member_limit = fields.IntField()
    online = fields.BooleanField()
    location_ids: Any = fields.JSONField()  # the stores whose pickup orders it covers
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    cancelled_at = fields.DatetimeField(null=True)
    cancel_reason = fields.CharField(max_length=200, null=True)

    class Meta:
        table = "flash_sale"
        indexes = (("variant_id", "ends_at"), ("ends_at",))


class FlashSaleBuyerRow(Model):
    """How many units of a sale a member holds (unique per sale and member)."""

    id = fields.UUIDField(primary_key=True)
    flash_sale_id = fields.UUIDField()
    member_id = fields.UUIDField()
    bought = fields.IntField()

    class Meta:
        table = "flash_sale_buyer"
        unique_together = (("flash_sale_id", "member_id"),)


class FlashSaleOrderRow(Model):
    """The units an order took from a sale, until the order is cancelled (then deleted)."""

    id = fields.UUIDField(primary_key=True)
    order_id = fields.UUIDField()
    flash_sale_id = fields.UUIDField()
    member_id = fields.UUIDField()
    quantity = fields.IntField()

    class Meta:
        table = "flash_sale_order"
        unique_together = (("order_id", "flash_sale_id"),)
