"""Identity use cases for staff, devices and integration keys; each call is one transaction."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

from domain.errors import AuthError, AuthErrorCode
from domain.identity.deps import AuthDeps
from domain.identity.model import (
    ApiKey,
    ApiScope,
    AuthSession,
    Device,
    DeviceKind,
    Principal,
    PrincipalKind,
    RefreshToken,
    StaffAction,
    StaffRole,
    StaffUser,
    TokenPair,
)
from domain.identity.ports import PasswordHasher
from domain.ids import new_id
from domain.uow import UnitOfWork

DEVICE_TOKEN_PREFIX = "dev_"
API_KEY_PREFIX = "key_"
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
MIN_PASSWORD_LENGTH = 10


def hash_secret(secret: str) -> str:
    """Tokens we hand out are long random strings: a plain SHA-256 is the right lookup hash."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _unauthenticated(detail: str = "The token is invalid, expired or revoked.") -> AuthError:
    return AuthError(AuthErrorCode.UNAUTHENTICATED, f"{detail} Log in again to get a new one.")


async def issue_tokens(deps: AuthDeps, uow: UnitOfWork, principal: Principal) -> TokenPair:
    """Open a new refresh family (a login) for the principal and hand out its first pair."""
    now = deps.clock.now()
    session = AuthSession(
        id=new_id(), principal_kind=principal.kind, principal_id=principal.id, created_at=now
    )
    await uow.sessions.add_session(session)
    return await _rotate_into(deps, uow, session, principal)


async def _rotate_into(
    deps: AuthDeps, uow: UnitOfWork, session: AuthSession, principal: Principal
) -> TokenPair:
    now = deps.clock.now()
    refresh = secrets.token_urlsafe(32)
    token = RefreshToken(
        id=new_id(),
        session_id=session.id,
        token_hash=hash_secret(refresh),
        issued_at=now,
        expires_at=now + deps.policy.refresh_ttl,
    )
    await uow.sessions.add_token(token)
    scoped = Principal(
        kind=principal.kind,
        id=principal.id,
        role=principal.role,
        store_ids=principal.store_ids,
        scopes=principal.scopes,
        session_id=session.id,
    )
    access, access_exp = deps.tokens.issue(scoped)
    return TokenPair(access, access_exp, refresh, token.expires_at)


async def staff_login(
    deps: AuthDeps, username: str, password: str, client_address: str
) -> tuple[StaffUser, TokenPair]:
    name = username.strip().lower()
    policy = deps.policy
    for key, limit in (
        (f"login:user:{name}", policy.login_limit_per_username),
        (f"login:addr:{client_address}", policy.login_limit_per_address),
    ):
        wait = await deps.limiter.hit(key, limit, policy.login_window_seconds)
        if wait:
            raise AuthError(
                AuthErrorCode.TOO_MANY_ATTEMPTS,
                f"Too many login attempts. Try again in {wait} seconds.",
            )
    async with deps.uow() as uow:
        staff = await uow.staff.get_by_username(name)
        # Verify against a dummy hash when the user is unknown so timing does not tell.
        stored = staff.password_hash if staff else _DUMMY_HASH.get(deps.hasher)
        valid = deps.hasher.verify(stored, password)
        if staff is None or not valid or not staff.is_active:
            raise AuthError(
                AuthErrorCode.INVALID_CREDENTIALS,
                "Unknown username or wrong password.",
                ["password"],
            )
        pair = await issue_tokens(deps, uow, staff.principal())
    await deps.limiter.reset(f"login:user:{name}")
    return staff, pair


class _DummyHash:
    _cache: dict[int, str] = {}

    def get(self, hasher: PasswordHasher) -> str:
        key = id(hasher)
        if key not in self._cache:
            self._cache[key] = hasher.hash(secrets.token_urlsafe(16))
        return self._cache[key]


_DUMMY_HASH = _DummyHash()


async def refresh_tokens(deps: AuthDeps, refresh_token: str) -> TokenPair:
    """Rotate: the presented token is spent; presenting a spent token revokes its family."""
    now = deps.clock.now()
    reused = False
    async with deps.uow() as uow:
        token = await uow.sessions.get_token_by_hash(hash_secret(refresh_token))
        if token is None:
            raise AuthError(
                AuthErrorCode.INVALID_REFRESH_TOKEN,
                "Unknown refresh token. Log in again.",
                ["refreshToken"],
            )
        session = await uow.sessions.get_session(token.session_id)
        if session is None or session.revoked_at is not None or token.expires_at <= now:
            raise AuthError(
                AuthErrorCode.INVALID_REFRESH_TOKEN,
                "This refresh token has expired or was revoked. Log in again.",
                ["refreshToken"],
            )
        if token.used_at is not None or not await uow.sessions.mark_used(token.id, now):
            await uow.sessions.revoke_session(session.id, now, "refresh token re-used")
            reused = True
        else:
            principal = await _principal_for(uow, session)
            if principal is None:
                raise AuthError(
                    AuthErrorCode.INVALID_REFRESH_TOKEN,
                    "The account behind this token is no longer active.",
                    ["refreshToken"],
                )
            return await _rotate_into(deps, uow, session, principal)
    # Raised outside the block so the revocation above commits.
    assert reused
    raise AuthError(
        AuthErrorCode.REFRESH_TOKEN_REUSED,
        "This refresh token was already used; every session of this login is now revoked. "
        "Log in again.",
        ["refreshToken"],
    )


async def _principal_for(uow: UnitOfWork, session: AuthSession) -> Principal | None:
    if session.principal_kind is PrincipalKind.STAFF:
        staff = await uow.staff.get(session.principal_id)
        return staff.principal() if staff and staff.is_active else None
    if session.principal_kind is PrincipalKind.MEMBER:
        member = await uow.members.get(session.principal_id)
        active = member is not None and member.is_active
        return Principal(kind=PrincipalKind.MEMBER, id=session.principal_id) if active else None
    return None


async def revoke_sessions_in_uow(
    uow: UnitOfWork, kind: PrincipalKind, principal_id: UUID, at: datetime, reason: str
) -> int:
    """End every session of the principal (a member merged away or erased): their refresh
    tokens stop working; returns how many were open."""
    return await uow.sessions.revoke_sessions_of(kind, principal_id, at, reason)


async def logout(deps: AuthDeps, principal: Principal) -> None:
    if principal.session_id is None:
        raise AuthError(AuthErrorCode.FORBIDDEN, "Only token logins can log out.")
    async with deps.uow() as uow:
        await uow.sessions.revoke_session(principal.session_id, deps.clock.now(), "logout")


async def authenticate(deps: AuthDeps, bearer: str) -> Principal:
    """Turn an `Authorization: Bearer ...` value into a principal, or fail UNAUTHENTICATED.
    One read each, without a transaction, through `deps.reads` (which may keep what it
    read: the runtime's forgets it when a revocation commits, in every process within
    0.1 s)."""
    reads = deps.reads or deps.uow
    if bearer.startswith(DEVICE_TOKEN_PREFIX):
        async with reads() as uow:
            device = await uow.devices.get_by_token_hash(hash_secret(bearer))
        if device is None or not device.is_active:
            raise _unauthenticated("The device token is unknown or revoked.")
        return device.principal()
    if bearer.startswith(API_KEY_PREFIX):
        async with reads() as uow:
            key = await uow.api_keys.get_by_secret_hash(hash_secret(bearer))
        if key is None or not key.is_active:
            raise _unauthenticated("The API key is unknown or revoked.")
        return key.principal()
    principal = deps.tokens.verify(bearer)
    if principal.session_id is None:  # every login's tokens name their session
        raise _unauthenticated("The token names no session. Log in again.")
    async with reads() as uow:
        session = await uow.sessions.get_session(principal.session_id)
    if session is None or session.revoked_at is not None:
        raise _unauthenticated("This session was logged out or revoked.")
    return principal


def validate_username(username: str) -> str:
    name = username.strip().lower()
    if not USERNAME_RE.fullmatch(name):
        raise AuthError(
            AuthErrorCode.INVALID_INPUT,
            "Usernames are 3-64 characters: letters, digits, '.', '_' or '-'.",
            ["username"],
        )
    return name


def validate_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH or len(password) > 256:
        raise AuthError(
            AuthErrorCode.INVALID_INPUT,
            f"Passwords need {MIN_PASSWORD_LENGTH} to 256 characters.",
            ["password"],
        )


def _label(text: str, field: str) -> str:
    """A display name: trimmed and cut to 100 characters; NUL refused (PostgreSQL cannot
    store U+0000)."""
    if "\x00" in text:
        raise AuthError(AuthErrorCode.INVALID_INPUT, f"`{field}` may not contain NUL.", [field])
    return text.strip()[:100]


MAX_STAFF_STORES = 50


async def create_staff(
    deps: AuthDeps,
    username: str,
    password: str,
    role: StaffRole,
    store_ids: Sequence[UUID],
    display_name: str | None = None,
) -> StaffUser:
    if len(store_ids) > MAX_STAFF_STORES:
        raise AuthError(
            AuthErrorCode.TOO_MANY_ITEMS, f"At most {MAX_STAFF_STORES} stores.", ["storeIds"]
        )
    name = validate_username(username)
    validate_password(password)
    if role.is_store_scoped and not store_ids:
        raise AuthError(
            AuthErrorCode.INVALID_INPUT,
            f"A {role.value} must be bound to at least one store.",
            ["storeIds"],
        )
    async with deps.uow() as uow:
        if await uow.staff.get_by_username(name):
            raise AuthError(
                AuthErrorCode.DUPLICATE_USERNAME,
                f"The username {name!r} is taken.",
                ["username"],
            )
        for store_id in store_ids:
            if await uow.locations.get(store_id) is None:
                raise AuthError(AuthErrorCode.NOT_FOUND, "Unknown store.", ["storeIds"])
        staff = StaffUser(
            id=new_id(),
            username=name,
            password_hash=deps.hasher.hash(password),
            role=role,
            display_name=_label(display_name or name, "displayName"),
            store_ids=list(dict.fromkeys(store_ids)),
            created_at=deps.clock.now(),
        )
        await uow.staff.add(staff)
    return staff


async def create_device(
    deps: AuthDeps, location_id: UUID, kind: DeviceKind, name: str | None = None
) -> tuple[Device, str]:
    """Returns the device and its token; the token is shown once and stored only hashed."""
    async with deps.uow() as uow:
        location = await uow.locations.get(location_id)
        if location is None:
            raise AuthError(AuthErrorCode.NOT_FOUND, "Unknown location.", ["locationId"])
        token = DEVICE_TOKEN_PREFIX + secrets.token_urlsafe(32)
        device = Device(
            id=new_id(),
            location_id=location_id,
            kind=kind,
            name=_label(name or f"{location.code} {kind.value.lower()}", "name"),
            token_hash=hash_secret(token),
            created_at=deps.clock.now(),
        )
        await uow.devices.add(device)
    return device, token


async def revoke_device(deps: AuthDeps, device_id: UUID) -> None:
    async with deps.uow() as uow:
        if not await uow.devices.revoke(device_id, deps.clock.now()):
            raise AuthError(AuthErrorCode.NOT_FOUND, "Unknown or already revoked device.", ["id"])


async def create_api_key(
    deps: AuthDeps, name: str, scopes: Sequence[ApiScope]
) -> tuple[ApiKey, str]:
    clean = name.strip()
    if not clean or len(clean) > 100 or "\x00" in clean:  # PostgreSQL cannot store U+0000
        raise AuthError(
            AuthErrorCode.INVALID_INPUT, "Name the key (1-100 characters, no NUL).", ["name"]
        )
    if not scopes:
        raise AuthError(AuthErrorCode.INVALID_INPUT, "Give the key at least one scope.", ["scopes"])
    secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        id=new_id(),
        name=clean,
        prefix=secret[:12],
        secret_hash=hash_secret(secret),
        scopes=sorted(set(scopes), key=lambda s: s.value),
        created_at=deps.clock.now(),
    )
    async with deps.uow() as uow:
        await uow.api_keys.add(key)
    return key, secret


async def revoke_api_key(deps: AuthDeps, key_id: UUID) -> None:
    async with deps.uow() as uow:
        if not await uow.api_keys.revoke(key_id, deps.clock.now()):
            raise AuthError(AuthErrorCode.NOT_FOUND, "Unknown or already revoked API key.", ["id"])


async def purge_expired_sessions(deps: AuthDeps) -> int:
    """Job: drop refresh tokens that expired more than a day ago (idempotent)."""
    async with deps.uow() as uow:
        return await uow.sessions.delete_expired(deps.clock.now() - timedelta(days=1))


async def staff_in_uow(uow: UnitOfWork, staff_ids: Sequence[UUID]) -> dict[UUID, StaffUser]:
    """Staff users by id (in a constant number of statements), for other contexts to name
    and check them."""
    return {s.id: s for s in await uow.staff.get_many(list(dict.fromkeys(staff_ids)))}


async def record_staff_action_in_uow(
    uow: UnitOfWork, actor: str, action: str, subject: str, reason: str, at: datetime
) -> StaffAction:
    """Audit a staff decision that no other record holds (see StaffAction)."""
    record = StaffAction(new_id(), actor, action, subject, reason, at)
    await uow.staff.add_action(record)
    return record
