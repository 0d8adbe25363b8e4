"""Member prices (promotions context; `domain/promotions/member_prices`)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class MemberPriceRow(Model):
    id = fields.UUIDField(primary_key=True)
    variant_id = fields.UUIDField()
    tier = fields.CharField(max_length=32)
    price = fields.BigIntField()
    updated_at = fields.DatetimeField()
    updated_by = fields.CharField(max_length=100)

    class Meta:
        table = "member_price"
        unique_together = (("variant_id", "tier"),)
