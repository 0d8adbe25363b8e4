"""Tags on members (engagement; `domain/engagement/tags`)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from domain.engagement.tags_model import TagKind


class TagRow(Model):
    id = fields.UUIDField(primary_key=True)
    name = fields.CharField(max_length=40, unique=True)
    kind = fields.CharEnumField(TagKind, max_length=9)
    description = fields.CharField(max_length=200)
    rule = fields.CharField(max_length=80, null=True)  # AUTOMATIC: `orders_365 >= 3`
    created_by = fields.CharField(max_length=64)
    created_at = fields.DatetimeField()

    class Meta:
        table = "tag"


class MemberTagRow(Model):
    id = fields.UUIDField(primary_key=True)
    member_id = fields.UUIDField()
    tag_id = fields.UUIDField()
    actor = fields.CharField(max_length=64)
    reason = fields.CharField(max_length=200)
    tagged_at = fields.DatetimeField()

    class Meta:
        table = "member_tag"
        unique_together = (("member_id", "tag_id"),)  # a tag once per member
        indexes = (("tag_id", "member_id"),)
