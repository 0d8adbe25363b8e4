from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from domain.identity.model import (
    ApiKey,
    ApiScope,
    AuthSession,
    Device,
    DeviceKind,
    PrincipalKind,
    RefreshToken,
    StaffAction,
    StaffUser,
)
from domain.ids import new_id
from domain.pagination import Page, PageRequest
from infra.db import sql
from infra.db.models.identity import (
    ApiKeyRow,
    AuthSessionRow,
    DeviceRow,
    RefreshTokenRow,
    StaffActionRow,
    StaffStoreRow,
    StaffUserRow,
)
from infra.repositories.paging import after_uuid

USERNAME_MAX_LENGTH = 64  # staff_user.username is VARCHAR(64)


def _staff(row: StaffUserRow, store_ids: list[UUID]) -> StaffUser:
    return StaffUser(
        id=row.id,
        username=row.username,
        password_hash=row.password_hash,
        role=row.role,
        display_name=row.display_name,
        store_ids=store_ids,
        is_active=row.is_active,
        created_at=row.created_at,
    )


class TortoiseStaffRepository:
    async def _with_stores(self, row: StaffUserRow | None) -> StaffUser | None:
        if row is None:
            return None
        stores = await StaffStoreRow.filter(staff_id=row.id).values_list("location_id", flat=True)
        return _staff(row, [UUID(str(s)) for s in stores])

    async def get(self, staff_id: UUID) -> StaffUser | None:
        return await self._with_stores(await StaffUserRow.get_or_none(id=staff_id))

    async def get_many(self, staff_ids: Sequence[UUID]) -> list[StaffUser]:
        if not staff_ids:
            return []
        rows = await StaffUserRow.filter(id__in=list(staff_ids))
        stores: dict[UUID, list[UUID]] = {}
        for staff_id, location_id in await StaffStoreRow.filter(
            staff_id__in=[r.id for r in rows]
        ).values_list("staff_id", "location_id"):
            stores.setdefault(UUID(str(staff_id)), []).append(UUID(str(location_id)))
        return [_staff(r, stores.get(r.id, [])) for r in rows]

    async def add_action(self, action: StaffAction) -> None:
        await StaffActionRow.create(
            id=action.id,
            actor=action.actor,
            action=action.action,
            subject=action.subject,
            reason=action.reason,
            at=action.at,
        )

    async def actions(self, page: PageRequest) -> Page[StaffAction]:
        query = StaffActionRow.all()
        if page.after is not None:
            query = query.filter(id__lt=after_uuid(page.after))
        rows = await query.order_by("-id").limit(page.first + 1)
        items = [StaffAction(r.id, r.actor, r.action, r.subject, r.reason, r.at) for r in rows]
        return Page.from_rows(items, [str(r.id) for r in rows], page)

    async def get_by_username(self, username: str) -> StaffUser | None:
        if len(username) > USERNAME_MAX_LENGTH or "\x00" in username:
            return None  # no such user, and the ORM or PostgreSQL would refuse the filter
        return await self._with_stores(await StaffUserRow.get_or_none(username=username))

    async def add(self, staff: StaffUser) -> None:
        await StaffUserRow.create(
            id=staff.id,
            username=staff.username,
            password_hash=staff.password_hash,
            role=staff.role,
            display_name=staff.display_name,
            is_active=staff.is_active,
            created_at=staff.created_at,
        )
        if staff.store_ids:
            await StaffStoreRow.bulk_create(
                [
                    StaffStoreRow(id=new_id(), staff_id=staff.id, location_id=store)
                    for store in staff.store_ids
                ]
            )


def _device(row: DeviceRow) -> Device:
    return Device(
        id=row.id,
        location_id=row.location_id,
        kind=row.kind,
        name=row.name,
        token_hash=row.token_hash,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


class TortoiseDeviceRepository:
    # The unit of work tells the credentials cache after committing a revocation.
    touched = False

    async def get(self, device_id: UUID) -> Device | None:
        row = await DeviceRow.get_or_none(id=device_id)
        return _device(row) if row else None

    async def get_by_token_hash(self, token_hash: str) -> Device | None:
        """Every POS and kiosk request authenticates here: prebuilt SQL, not the ORM."""
        rows = await sql.fetch(
            "SELECT id, location_id, kind, name, token_hash, created_at, revoked_at "
            "FROM device WHERE token_hash = $1",
            token_hash,
        )
        if not rows:
            return None
        row = rows[0]
        return Device(
            id=sql.as_uuid(row["id"]),
            location_id=sql.as_uuid(row["location_id"]),
            kind=DeviceKind(row["kind"]),
            name=row["name"],
            token_hash=row["token_hash"],
            created_at=sql.as_datetime(row["created_at"]),
            revoked_at=sql.as_optional_datetime(row["revoked_at"]),
        )

    async def add(self, device: Device) -> None:
        await DeviceRow.create(
            id=device.id,
            location_id=device.location_id,
            kind=device.kind,
            name=device.name,
            token_hash=device.token_hash,
            created_at=device.created_at,
        )

    async def revoke(self, device_id: UUID, at: datetime) -> bool:
        self.touched = True
        count = await DeviceRow.filter(id=device_id, revoked_at__isnull=True).update(revoked_at=at)
        return bool(count)


def _api_key(row: ApiKeyRow) -> ApiKey:
    return ApiKey(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        secret_hash=row.secret_hash,
        scopes=[ApiScope(s) for s in row.scopes],
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


class TortoiseApiKeyRepository:
    # The unit of work tells the credentials cache after committing a revocation.
    touched = False

    async def get(self, key_id: UUID) -> ApiKey | None:
        row = await ApiKeyRow.get_or_none(id=key_id)
        return _api_key(row) if row else None

    async def get_by_secret_hash(self, secret_hash: str) -> ApiKey | None:
        row = await ApiKeyRow.get_or_none(secret_hash=secret_hash)
        return _api_key(row) if row else None

    async def add(self, key: ApiKey) -> None:
        await ApiKeyRow.create(
            id=key.id,
            name=key.name,
            prefix=key.prefix,
            secret_hash=key.secret_hash,
            scopes=[s.value for s in key.scopes],
            created_at=key.created_at,
        )

    async def revoke(self, key_id: UUID, at: datetime) -> bool:
        self.touched = True
        count = await ApiKeyRow.filter(id=key_id, revoked_at__isnull=True).update(revoked_at=at)
        return bool(count)


class TortoiseSessionRepository:
    # The unit of work tells the credentials cache after committing a revocation.
    touched = False

    async def add_session(self, session: AuthSession) -> None:
        await AuthSessionRow.create(
            id=session.id,
            principal_kind=session.principal_kind,
            principal_id=session.principal_id,
            created_at=session.created_at,
        )

    async def get_session(self, session_id: UUID) -> AuthSession | None:
        """Every request with an access token checks its session here: prebuilt SQL."""
        rows = await sql.fetch(
            "SELECT id, principal_kind, principal_id, created_at, revoked_at, revoked_reason "
            "FROM auth_session WHERE id = $1",
            session_id,
        )
        if not rows:
            return None
        row = rows[0]
        return AuthSession(
            id=sql.as_uuid(row["id"]),
            principal_kind=PrincipalKind(row["principal_kind"]),
            principal_id=sql.as_uuid(row["principal_id"]),
            created_at=sql.as_datetime(row["created_at"]),
            revoked_at=sql.as_optional_datetime(row["revoked_at"]),
            revoked_reason=row["revoked_reason"],
        )

    async def add_token(self, token: RefreshToken) -> None:
        await RefreshTokenRow.create(
            id=token.id,
            session_id=token.session_id,
            token_hash=token.token_hash,
            issued_at=token.issued_at,
            expires_at=token.expires_at,
        )

    async def get_token_by_hash(self, token_hash: str) -> RefreshToken | None:
        row = await RefreshTokenRow.get_or_none(token_hash=token_hash)
        if row is None:
            return None
        return RefreshToken(
            id=row.id,
            session_id=row.session_id,
            token_hash=row.token_hash,
            issued_at=row.issued_at,
            expires_at=row.expires_at,
            used_at=row.used_at,
        )

    async def mark_used(self, token_id: UUID, at: datetime) -> bool:
        count = await RefreshTokenRow.filter(id=token_id, used_at__isnull=True).update(used_at=at)
        return bool(count)

    async def revoke_session(self, session_id: UUID, at: datetime, reason: str) -> None:
        self.touched = True
        await AuthSessionRow.filter(id=session_id, revoked_at__isnull=True).update(
            revoked_at=at, revoked_reason=reason
        )

    async def revoke_sessions_of(
        self, kind: PrincipalKind, principal_id: UUID, at: datetime, reason: str
    ) -> int:
        self.touched = True
        return await AuthSessionRow.filter(
            principal_kind=kind, principal_id=principal_id, revoked_at__isnull=True
        ).update(revoked_at=at, revoked_reason=reason)

    async def delete_expired(self, before: datetime) -> int:
        return await RefreshTokenRow.filter(expires_at__lt=before).delete()
