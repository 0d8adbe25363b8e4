"""Segments and their daily sizes (engagement; `domain/engagement/segments`)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from domain.engagement.segments_model import SegmentStatus


class SegmentRow(Model):
    id = fields.UUIDField(primary_key=True)
    name = fields.CharField(max_length=60, unique=True)
    rule = fields.TextField()
    built_in = fields.BooleanField()
    status = fields.CharEnumField(SegmentStatus, max_length=8)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "segment"


class SegmentSizeRow(Model):
    id = fields.UUIDField(primary_key=True)
    segment_id = fields.UUIDField()
    day = fields.DateField()
    size = fields.IntField()

    class Meta:
        table = "segment_size"
        unique_together = (("segment_id", "day"),)
