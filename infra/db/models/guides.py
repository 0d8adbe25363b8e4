"""Shopping-guide attribution (growth context; `domain/growth/guides`)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from domain.growth.guides_model import BindingSource


class GuideCodeRow(Model):
    code = fields.CharField(max_length=16, primary_key=True)
    staff_id = fields.UUIDField()
    store_id = fields.UUIDField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "guide_code"
        unique_together = (("staff_id", "store_id"),)


class GuideBindingRow(Model):
    member_id = fields.UUIDField(primary_key=True)  # one exclusive guide per member
    staff_id = fields.UUIDField()
    store_id = fields.UUIDField()
    source = fields.CharEnumField(BindingSource, max_length=8)
    actor = fields.CharField(max_length=64)
    reason = fields.CharField(max_length=200)
    bound_at = fields.DatetimeField()

    class Meta:
        table = "guide_binding"
        indexes = (("store_id", "bound_at"),)


class GuideOrderRow(Model):
    order_id = fields.UUIDField(primary_key=True)  # attributed once, at checkout
    member_id = fields.UUIDField()
    staff_id = fields.UUIDField()
    store_id = fields.UUIDField()
    placed_at = fields.DatetimeField()

    class Meta:
        table = "guide_order"
        indexes = (("store_id", "placed_at"),)
