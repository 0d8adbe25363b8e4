from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from api.context import Context
from api.errors import AuthError
from api.mutations import attempt
from api.permissions import IsAdmin, IsAuthenticated
from api.relay import decode_id
from api.types.identity import ApiKey, AuthTokens, Device, StaffUser
from domain.identity import services
from domain.identity.model import ApiScope, DeviceKind, StaffRole

MAX_STORES = 50


@strawberry.input
class StaffLoginInput:
    username: str
    password: str


@strawberry.input
class RefreshTokenInput:
    refresh_token: str


@strawberry.type
class StaffLoginPayload:
    tokens: AuthTokens | None = None
    staff: StaffUser | None = None
    errors: list[AuthError] = strawberry.field(default_factory=list)


@strawberry.type
class RefreshTokenPayload:
    tokens: AuthTokens | None = None
    errors: list[AuthError] = strawberry.field(default_factory=list)


@strawberry.type
class LogoutPayload:
    ok: bool
    errors: list[AuthError] = strawberry.field(default_factory=list)


@strawberry.input
class StaffCreateInput:
    username: str
    password: str
    role: StaffRole
    store_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    display_name: str | None = None


@strawberry.type
class StaffCreatePayload:
    staff: StaffUser | None = None
    errors: list[AuthError] = strawberry.field(default_factory=list)


@strawberry.input
class DeviceCreateInput:
    location_id: strawberry.ID
    kind: DeviceKind
    name: str | None = None


@strawberry.type
class DeviceCreatePayload:
    device: Device | None = None
    token: str | None = strawberry.field(
        default=None, description="The device's bearer token; shown only this once."
    )
    errors: list[AuthError] = strawberry.field(default_factory=list)


@strawberry.input
class RevokeInput:
    id: strawberry.ID


@strawberry.type
class RevokePayload:
    ok: bool = False
    errors: list[AuthError] = strawberry.field(default_factory=list)


@strawberry.input
class ApiKeyCreateInput:
    name: str
    scopes: list[ApiScope]


@strawberry.type
class ApiKeyCreatePayload:
    api_key: ApiKey | None = None
    secret: str | None = strawberry.field(
        default=None, description="The key to send as a bearer token; shown only this once."
    )
    errors: list[AuthError] = strawberry.field(default_factory=list)


def _store_ids(ids: list[strawberry.ID]) -> list[Any]:
    if len(ids) > MAX_STORES:
        from domain.errors import CommonError, CommonErrorCode

        raise CommonError(
            CommonErrorCode.TOO_MANY_ITEMS, f"At most {MAX_STORES} stores.", ["storeIds"]
        )
    return [decode_id(i, "Location", ["storeIds", str(n)]) for n, i in enumerate(ids)]


@strawberry.type
class AuthMutations:
    @strawberry.mutation(description="Log a staff user in; returns an access and a refresh token.")
    async def staff_login(
        self, info: Info[Context, Any], input: StaffLoginInput
    ) -> StaffLoginPayload:
        deps, address = info.context.runtime.auth, info.context.client_address
        result, errors = await attempt(
            AuthError, lambda: services.staff_login(deps, input.username, input.password, address)
        )
        if result is None:
            return StaffLoginPayload(errors=errors)
        staff, pair = result
        return StaffLoginPayload(
            tokens=AuthTokens.from_domain(pair), staff=StaffUser.from_domain(staff)
        )

    @strawberry.mutation(
        description="Trade a refresh token for a new pair. Each refresh token works once; "
        "presenting a used one revokes the whole login."
    )
    async def refresh_token(
        self, info: Info[Context, Any], input: RefreshTokenInput
    ) -> RefreshTokenPayload:
        deps = info.context.runtime.auth
        pair, errors = await attempt(
            AuthError, lambda: services.refresh_tokens(deps, input.refresh_token)
        )
        return RefreshTokenPayload(
            tokens=AuthTokens.from_domain(pair) if pair else None, errors=errors
        )

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="End this login: its refresh tokens and access tokens stop working.",
    )
    async def logout(self, info: Info[Context, Any]) -> LogoutPayload:
        principal = info.context.principal
        assert principal is not None
        _, errors = await attempt(
            AuthError, lambda: services.logout(info.context.runtime.auth, principal)
        )
        return LogoutPayload(ok=not errors, errors=errors)

    @strawberry.mutation(permission_classes=[IsAdmin])
    async def staff_create(
        self, info: Info[Context, Any], input: StaffCreateInput
    ) -> StaffCreatePayload:
        deps = info.context.runtime.auth

        async def run() -> Any:
            return await services.create_staff(
                deps,
                input.username,
                input.password,
                input.role,
                _store_ids(input.store_ids),
                input.display_name,
            )

        staff, errors = await attempt(AuthError, run)
        return StaffCreatePayload(
            staff=StaffUser.from_domain(staff) if staff else None, errors=errors
        )

    @strawberry.mutation(permission_classes=[IsAdmin], description="Register a kiosk or POS.")
    async def device_create(
        self, info: Info[Context, Any], input: DeviceCreateInput
    ) -> DeviceCreatePayload:
        deps = info.context.runtime.auth

        async def run() -> Any:
            location_id = decode_id(input.location_id, "Location", "locationId")
            return await services.create_device(deps, location_id, input.kind, input.name)

        result, errors = await attempt(AuthError, run)
        if result is None:
            return DeviceCreatePayload(errors=errors)
        device, token = result
        return DeviceCreatePayload(device=Device.from_domain(device), token=token)

    @strawberry.mutation(permission_classes=[IsAdmin])
    async def device_revoke(self, info: Info[Context, Any], input: RevokeInput) -> RevokePayload:
        deps = info.context.runtime.auth
        _, errors = await attempt(
            AuthError, lambda: services.revoke_device(deps, decode_id(input.id, "Device"))
        )
        return RevokePayload(ok=not errors, errors=errors)

    @strawberry.mutation(permission_classes=[IsAdmin], description="Create an integration key.")
    async def api_key_create(
        self, info: Info[Context, Any], input: ApiKeyCreateInput
    ) -> ApiKeyCreatePayload:
        deps = info.context.runtime.auth
        scopes = list(input.scopes)
        result, errors = await attempt(
            AuthError, lambda: services.create_api_key(deps, input.name, scopes)
        )
        if result is None:
            return ApiKeyCreatePayload(errors=errors)
        key, secret = result
        return ApiKeyCreatePayload(api_key=ApiKey.from_domain(key), secret=secret)

    @strawberry.mutation(permission_classes=[IsAdmin])
    async def api_key_revoke(self, info: Info[Context, Any], input: RevokeInput) -> RevokePayload:
        deps = info.context.runtime.auth
        _, errors = await attempt(
            AuthError, lambda: services.revoke_api_key(deps, decode_id(input.id, "ApiKey"))
        )
        return RevokePayload(ok=not errors, errors=errors)
