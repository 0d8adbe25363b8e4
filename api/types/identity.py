from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from api.context import Context
from api.relay import Node, encode_id
from api.types.desk import actor_name
from api.types.locations import Location
from domain.identity import model as m
from domain.identity.model import ApiScope, DeviceKind, PrincipalKind, StaffRole

strawberry.enum(StaffRole)
strawberry.enum(DeviceKind)
strawberry.enum(PrincipalKind)
strawberry.enum(ApiScope, description="What an integration key may do.")


async def _locations(info: Info[Context, Any], keys: list[Any]) -> list[Location]:
    found = await info.context.loaders.location.load_many(keys)
    return [Location.from_domain(loc) for loc in found if loc is not None]


@strawberry.type
class StaffUser(Node):
    username: str
    display_name: str
    role: StaffRole
    is_active: bool
    store_keys: strawberry.Private[list[Any]]

    @classmethod
    def from_domain(cls, staff: m.StaffUser) -> StaffUser:
        return cls(
            id=encode_id("StaffUser", staff.id),
            username=staff.username,
            display_name=staff.display_name,
            role=staff.role,
            is_active=staff.is_active,
            store_keys=list(staff.store_ids),
        )

    @strawberry.field(description="Stores a STORE_MANAGER or STORE_CLERK may act on.")
    async def stores(self, info: Info[Context, Any]) -> list[Location]:
        return await _locations(info, self.store_keys)


@strawberry.type(description="A kiosk or POS terminal, bound to one store.")
class Device(Node):
    kind: DeviceKind
    name: str
    created_at: datetime
    revoked_at: datetime | None
    location_key: strawberry.Private[Any]

    @classmethod
    def from_domain(cls, device: m.Device) -> Device:
        return cls(
            id=encode_id("Device", device.id),
            kind=device.kind,
            name=device.name,
            created_at=device.created_at,
            revoked_at=device.revoked_at,
            location_key=device.location_id,
        )

    @strawberry.field
    async def location(self, info: Info[Context, Any]) -> Location | None:
        found = await info.context.loaders.location.load(self.location_key)
        return Location.from_domain(found) if found else None


@strawberry.type(description="An integration key; the secret is shown once, at creation.")
class ApiKey(Node):
    name: str
    prefix: str = strawberry.field(description="First characters of the key, to recognise it.")
    scopes: list[ApiScope]
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def from_domain(cls, key: m.ApiKey) -> ApiKey:
        return cls(
            id=encode_id("ApiKey", key.id),
            name=key.name,
            prefix=key.prefix,
            scopes=list(key.scopes),
            created_at=key.created_at,
            revoked_at=key.revoked_at,
        )


@strawberry.type(description="Who the current request authenticated as.")
class Viewer:
    kind: PrincipalKind
    role: StaffRole | None
    scopes: list[ApiScope]
    principal: strawberry.Private[m.Principal]

    @strawberry.field
    async def staff(self, info: Info[Context, Any]) -> StaffUser | None:
        if self.principal.kind is not m.PrincipalKind.STAFF:
            return None
        staff = await info.context.runtime.repos.staff.get(self.principal.id)
        return StaffUser.from_domain(staff) if staff else None

    @strawberry.field
    async def device(self, info: Info[Context, Any]) -> Device | None:
        if self.principal.kind is not m.PrincipalKind.DEVICE:
            return None
        device = await info.context.runtime.repos.devices.get(self.principal.id)
        return Device.from_domain(device) if device else None

    @strawberry.field(description="Stores this caller may act on (empty means all, for ADMIN).")
    async def stores(self, info: Info[Context, Any]) -> list[Location]:
        return await _locations(info, sorted(self.principal.store_ids))


@strawberry.type
class AuthTokens:
    access_token: str
    access_token_expires_at: datetime
    refresh_token: str
    refresh_token_expires_at: datetime
    token_type: str = "Bearer"

    @classmethod
    def from_domain(cls, pair: m.TokenPair) -> AuthTokens:
        return cls(
            access_token=pair.access_token,
            access_token_expires_at=pair.access_expires_at,
            refresh_token=pair.refresh_token,
            refresh_token_expires_at=pair.refresh_expires_at,
        )


@strawberry.type(description="An audited staff decision (e.g. LIFT_PICKUP_LOCK).")
class StaffAction:
    actor: str
    action: str
    subject: str
    reason: str
    at: datetime

    @strawberry.field(
        description="Who, readable: the staff username or device name, `member`, `system`."
    )
    async def actor_name(self, info: Info[Context, Any]) -> str:
        return await actor_name(info, self.actor)

    @classmethod
    def from_domain(cls, action: m.StaffAction) -> StaffAction:
        return cls(
            actor=action.actor,
            action=action.action,
            subject=action.subject,
            reason=action.reason,
            at=action.at,
        )
