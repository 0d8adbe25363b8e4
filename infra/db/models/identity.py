from __future__ import annotations

from typing import Any
from uuid import UUID

from tortoise import fields
from tortoise.models import Model

from domain.identity.model import DeviceKind, PrincipalKind, StaffRole


class StaffUserRow(Model):
    id = fields.UUIDField(primary_key=True)
    username = fields.CharField(max_length=64, unique=True)
    password_hash = fields.CharField(max_length=255)
    role = fields.CharEnumField(StaffRole, max_length=20)
    display_name = fields.CharField(max_length=100)
    is_active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "staff_user"


class StaffStoreRow(Model):
    id = fields.UUIDField(primary_key=True)
    staff: fields.ForeignKeyRelation[StaffUserRow] = fields.ForeignKeyField(
        "models.StaffUserRow", related_name="stores", on_delete=fields.CASCADE
    )
    location_id = fields.UUIDField()

    class Meta:
        table = "staff_store"
        unique_together = (("staff", "location_id"),)


class DeviceRow(Model):
    id = fields.UUIDField(primary_key=True)
    location_id = fields.UUIDField(db_index=True)
    kind = fields.CharEnumField(DeviceKind, max_length=10)
    name = fields.CharField(max_length=100)
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "device"


class ApiKeyRow(Model):
    id = fields.UUIDField(primary_key=True)
    name = fields.CharField(max_length=100)
    prefix = fields.CharField(max_length=16)
    secret_hash = fields.CharField(max_length=64, unique=True)
    scopes: Any = fields.JSONField()
    created_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_key"


class AuthSessionRow(Model):
    id = fields.UUIDField(primary_key=True)
    principal_kind = fields.CharEnumField(PrincipalKind, max_length=10)
    principal_id = fields.UUIDField(db_index=True)
    created_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)
    revoked_reason = fields.CharField(max_length=100, null=True)

    class Meta:
        table = "auth_session"


class RefreshTokenRow(Model):
    id = fields.UUIDField(primary_key=True)
    session: fields.ForeignKeyRelation[AuthSessionRow] = fields.ForeignKeyField(
        "models.AuthSessionRow", related_name="tokens", on_delete=fields.CASCADE, db_index=True
    )
    token_hash = fields.CharField(max_length=64, unique=True)
    issued_at = fields.DatetimeField()
    expires_at = fields.DatetimeField(db_index=True)
    used_at = fields.DatetimeField(null=True)

    session_id: UUID

    class Meta:
        table = "refresh_token"


class StaffActionRow(Model):
    """Append-only audit of staff decisions no other record holds."""

    id = fields.UUIDField(primary_key=True)
    actor = fields.CharField(max_length=60)
    action = fields.CharField(max_length=40)
    subject = fields.CharField(max_length=100)
    reason = fields.CharField(max_length=200)
    at = fields.DatetimeField()

    class Meta:
        table = "staff_action"
