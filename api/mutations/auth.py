from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.context import Context
from api.errors import AuthUserError
from api.mutations import actor, mutate
from api.permissions import IsAdmin, IsAuthenticated
from api.relay import decode_id
from api.types.identity import ApiKey, AuthTokens, Device, StaffUser
from domain.identity import services
from domain.identity.model import ApiScope, DeviceKind, StaffRole


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
    errors: list[AuthUserError] = strawberry.field(default_factory=list)


@strawberry.type
class RefreshTokenPayload:
    tokens: AuthTokens | None = None
    errors: list[AuthUserError] = strawberry.field(default_factory=list)


@strawberry.type
class LogoutPayload:
    ok: bool = False
    errors: list[AuthUserError] = strawberry.field(default_factory=list)


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
    errors: list[AuthUserError] = strawberry.field(default_factory=list)


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
    errors: list[AuthUserError] = strawberry.field(default_factory=list)


@strawberry.input
class RevokeInput:
    id: strawberry.ID


@strawberry.type
class RevokePayload:
    ok: bool = False
    errors: list[AuthUserError] = strawberry.field(default_factory=list)


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
    errors: list[AuthUserError] = strawberry.field(default_factory=list)


@strawberry.type
class AuthMutations:
    @strawberry.mutation(description="Log a staff user in; returns an access and a refresh token.")
    async def staff_login(
        self, info: Info[Context, object], input: StaffLoginInput
    ) -> StaffLoginPayload:
        deps, address = info.context.runtime.auth, info.context.client_address
        return await mutate(
            StaffLoginPayload,
            AuthUserError,
            lambda: services.staff_login(deps, input.username, input.password, address),
            lambda result: StaffLoginPayload(
                tokens=AuthTokens.from_domain(result[1]), staff=StaffUser.from_domain(result[0])
            ),
        )

    @strawberry.mutation(
        description="Trade a refresh token for a new pair. Each refresh token works once; "
        "presenting a used one revokes the whole login."
    )
    async def refresh_token(
        self, info: Info[Context, object], input: RefreshTokenInput
    ) -> RefreshTokenPayload:
        deps = info.context.runtime.auth
        return await mutate(
            RefreshTokenPayload,
            AuthUserError,
            lambda: services.refresh_tokens(deps, input.refresh_token),
            lambda pair: RefreshTokenPayload(tokens=AuthTokens.from_domain(pair)),
        )

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="End this login: its refresh tokens and access tokens stop working.",
    )
    async def logout(self, info: Info[Context, object]) -> LogoutPayload:
        deps, caller = info.context.runtime.auth, actor(info)
        return await mutate(
            LogoutPayload,
            AuthUserError,
            lambda: services.logout(deps, caller),
            lambda _: LogoutPayload(ok=True),
        )

    @strawberry.mutation(permission_classes=[IsAdmin])
    async def staff_create(
        self, info: Info[Context, object], input: StaffCreateInput
    ) -> StaffCreatePayload:
        deps = info.context.runtime.auth
        return await mutate(
            StaffCreatePayload,
            AuthUserError,
            lambda: services.create_staff(
                deps,
                input.username,
                input.password,
                input.role,
                [
                    decode_id(i, "Location", ["storeIds", str(n)])
                    for n, i in enumerate(input.store_ids)
                ],
                input.display_name,
            ),
            lambda staff: StaffCreatePayload(staff=StaffUser.from_domain(staff)),
        )

    @strawberry.mutation(permission_classes=[IsAdmin], description="Register a kiosk or POS.")
    async def device_create(
        self, info: Info[Context, object], input: DeviceCreateInput
    ) -> DeviceCreatePayload:
        deps = info.context.runtime.auth
        return await mutate(
            DeviceCreatePayload,
            AuthUserError,
            lambda: services.create_device(
                deps, decode_id(input.location_id, "Location", "locationId"), input.kind, input.name
            ),
            lambda made: DeviceCreatePayload(device=Device.from_domain(made[0]), token=made[1]),
        )

    @strawberry.mutation(permission_classes=[IsAdmin])
    async def device_revoke(self, info: Info[Context, object], input: RevokeInput) -> RevokePayload:
        deps = info.context.runtime.auth
        return await mutate(
            RevokePayload,
            AuthUserError,
            lambda: services.revoke_device(deps, decode_id(input.id, "Device")),
            lambda _: RevokePayload(ok=True),
        )

    @strawberry.mutation(permission_classes=[IsAdmin], description="Create an integration key.")
    async def api_key_create(
        self, info: Info[Context, object], input: ApiKeyCreateInput
    ) -> ApiKeyCreatePayload:
        deps = info.context.runtime.auth
        return await mutate(
            ApiKeyCreatePayload,
            AuthUserError,
            lambda: services.create_api_key(deps, input.name, list(input.scopes)),
            lambda made: ApiKeyCreatePayload(api_key=ApiKey.from_domain(made[0]), secret=made[1]),
        )

    @strawberry.mutation(permission_classes=[IsAdmin])
    async def api_key_revoke(
        self, info: Info[Context, object], input: RevokeInput
    ) -> RevokePayload:
        deps = info.context.runtime.auth
        return await mutate(
            RevokePayload,
            AuthUserError,
            lambda: services.revoke_api_key(deps, decode_id(input.id, "ApiKey")),
            lambda _: RevokePayload(ok=True),
        )
