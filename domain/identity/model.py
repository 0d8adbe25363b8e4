"""Who is calling: staff users, store devices, integration keys, and the principal they become."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID


class PrincipalKind(StrEnum):
    MEMBER = "MEMBER"
    STAFF = "STAFF"
    DEVICE = "DEVICE"
    API_KEY = "API_KEY"


class StaffRole(StrEnum):
    ADMIN = "ADMIN"
    STORE_MANAGER = "STORE_MANAGER"
    STORE_CLERK = "STORE_CLERK"
    CS_AGENT = "CS_AGENT"

    @property
    def is_store_scoped(self) -> bool:
        return self in (StaffRole.STORE_MANAGER, StaffRole.STORE_CLERK)


class DeviceKind(StrEnum):
    KIOSK = "KIOSK"
    POS = "POS"


class ApiScope(StrEnum):
    CATALOG_READ = "catalog:read"
    CATALOG_WRITE = "catalog:write"
    LOCATIONS_READ = "locations:read"
    LOCATIONS_WRITE = "locations:write"
    STOCK_READ = "stock:read"
    STOCK_WRITE = "stock:write"
    ORDERS_READ = "orders:read"  # every store's orders, their lines, payments and timeline
    MEMBERS_READ = "members:read"  # members with identifiers and names masked


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of one request."""

    kind: PrincipalKind
    id: UUID
    role: StaffRole | None = None
    store_ids: frozenset[UUID] = frozenset()
    scopes: frozenset[ApiScope] = frozenset()
    session_id: UUID | None = None
    device_kind: DeviceKind | None = None

    @property
    def is_admin(self) -> bool:
        return self.kind is PrincipalKind.STAFF and self.role is StaffRole.ADMIN

    def has_role(self, *roles: StaffRole) -> bool:
        return self.kind is PrincipalKind.STAFF and self.role in roles

    @property
    def has_pii_access(self) -> bool:
        """Roles that may see identifiers unmasked (every such read is logged)."""
        return self.has_role(StaffRole.ADMIN, StaffRole.CS_AGENT)

    @property
    def is_member(self) -> bool:
        return self.kind is PrincipalKind.MEMBER

    @property
    def label(self) -> str:
        """How audit records name the actor."""
        return f"{self.kind.value}:{self.id}"

    def has_scope(self, scope: ApiScope) -> bool:
        return self.kind is PrincipalKind.API_KEY and scope in self.scopes

    def can_act_on_store(self, location_id: UUID) -> bool:
        """ADMIN and CS act everywhere; store roles and devices only on their own stores."""
        if self.kind is PrincipalKind.STAFF:
            if self.role is not None and self.role.is_store_scoped:
                return location_id in self.store_ids
            return True
        if self.kind is PrincipalKind.DEVICE:
            return location_id in self.store_ids
        return False


@dataclass
class StaffUser:
    id: UUID
    username: str
    password_hash: str
    role: StaffRole
    display_name: str
    store_ids: list[UUID] = field(default_factory=list)
    is_active: bool = True
    created_at: datetime | None = None

    def principal(self, session_id: UUID | None = None) -> Principal:
        return Principal(
            kind=PrincipalKind.STAFF,
            id=self.id,
            role=self.role,
            store_ids=frozenset(self.store_ids),
            session_id=session_id,
        )


@dataclass
class Device:
    id: UUID
    location_id: UUID
    kind: DeviceKind
    name: str
    token_hash: str
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def principal(self) -> Principal:
        return Principal(
            kind=PrincipalKind.DEVICE,
            id=self.id,
            store_ids=frozenset({self.location_id}),
            device_kind=self.kind,
        )


@dataclass
class ApiKey:
    id: UUID
    name: str
    prefix: str
    secret_hash: str
    scopes: list[ApiScope]
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def principal(self) -> Principal:
        return Principal(kind=PrincipalKind.API_KEY, id=self.id, scopes=frozenset(self.scopes))


@dataclass
class AuthSession:
    """A refresh-token family: every rotation stays in it; re-use of an old token kills it."""

    id: UUID
    principal_kind: PrincipalKind
    principal_id: UUID
    created_at: datetime
    revoked_at: datetime | None = None
    revoked_reason: str | None = None


@dataclass
class RefreshToken:
    id: UUID
    session_id: UUID
    token_hash: str
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime


@dataclass(frozen=True)
class StaffAction:
    """An audited staff decision that no other record holds (a store's pickup-code lock
    lifted, ...): who, what, on what, why, when."""

    id: UUID
    actor: str  # Principal.label
    action: str
    subject: str  # "location:<id>", "order:<id>", ...
    reason: str
    at: datetime
