from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class PersistedQueryRow(Model):
    """An operation registered for the allow-list (`omnishelf persisted-queries add`)."""

    id = fields.UUIDField(primary_key=True)
    sha256 = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=200, null=True)
    document = fields.TextField()
    added_at = fields.DatetimeField()

    class Meta:
        table = "persisted_query"
