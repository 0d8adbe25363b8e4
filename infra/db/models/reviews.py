from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from domain.aftersales.review_model import ReviewStatus


class ReviewRow(Model):
    """A member's review of one handed-over order line (one per line: the unique key)."""

    id = fields.UUIDField(primary_key=True)
    member_id = fields.UUIDField()
    order_id = fields.UUIDField()
    order_line_id = fields.UUIDField(unique=True)
    product_id = fields.UUIDField()
    variant_id = fields.UUIDField()
    rating = fields.SmallIntField()
    text = fields.TextField()
    photo_urls: Any = fields.JSONField()
    status = fields.CharEnumField(ReviewStatus, max_length=10)
    held_for: Any = fields.JSONField()  # the banned words that held it for CS
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    moderated_by = fields.CharField(max_length=60, null=True)
    moderation_reason = fields.CharField(max_length=200, null=True)

    class Meta:
        table = "review"
        # a product's page of published reviews, a member's reviews, CS's queue per state
        indexes = (("product_id", "status", "id"), ("member_id", "id"), ("status", "id"))
