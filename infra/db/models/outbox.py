from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from domain.outbox import OutboxStatus


class OutboxMessageRow(Model):
    id = fields.UUIDField(primary_key=True)
    kind = fields.CharField(max_length=40)
    member_id = fields.UUIDField(null=True, db_index=True)
    order_id = fields.UUIDField(null=True, db_index=True)
    data: Any = fields.JSONField()
    dedupe_key = fields.CharField(max_length=150, unique=True)
    status = fields.CharEnumField(OutboxStatus, max_length=10)
    attempts = fields.IntField()
    next_attempt_at = fields.DatetimeField()
    last_error = fields.CharField(max_length=500, null=True)
    created_at = fields.DatetimeField()
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "outbox_message"
        indexes = (("status", "next_attempt_at"),)
