from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from domain.locations.model import LocationStatus, LocationType


class LocationRow(Model):
    id = fields.UUIDField(primary_key=True)
    code = fields.CharField(max_length=32, unique=True)
    name = fields.CharField(max_length=100)
    type = fields.CharEnumField(LocationType, max_length=20)
    address = fields.CharField(max_length=300)
    city = fields.CharField(max_length=100)
    latitude = fields.FloatField()
    longitude = fields.FloatField()
    timezone = fields.CharField(max_length=64)
    opening_hours: Any = fields.JSONField()
    pickup_enabled = fields.BooleanField()
    ships_online = fields.BooleanField()
    status = fields.CharEnumField(LocationStatus, max_length=10)
    phone = fields.CharField(max_length=30, null=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "location"
