"""Location use cases: the store network (ADMIN) and a store's own settings (its manager)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from domain.errors import LocationError, LocationErrorCode
from domain.identity.model import Principal
from domain.ids import new_id
from domain.locations.deps import LocationDeps
from domain.locations.model import (
    DEFAULT_TIMEZONE,
    GeoPoint,
    Location,
    LocationStatus,
    LocationType,
    OpeningHours,
    clean_opening_hours,
    clean_text,
    clean_timezone,
)
from domain.pagination import Page, PageRequest
from domain.uow import UnitOfWork

CODE_LIMIT = 32


@dataclass(frozen=True)
class LocationDraft:
    code: str
    name: str
    type: LocationType
    address: str
    city: str
    latitude: float
    longitude: float
    timezone: str = DEFAULT_TIMEZONE
    opening_hours: OpeningHours | None = None
    pickup_enabled: bool = False
    ships_online: bool = False
    phone: str | None = None


@dataclass(frozen=True)
class LocationPatch:
    name: str | None = None
    address: str | None = None
    city: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    timezone: str | None = None
    opening_hours: OpeningHours | None = None
    pickup_enabled: bool | None = None
    ships_online: bool | None = None
    phone: str | None = None
    status: LocationStatus | None = None

    # What a store manager may change on their own store; the rest is the network's (ADMIN).
    STORE_FIELDS = frozenset({"opening_hours", "pickup_enabled", "phone"})

    def touched(self) -> set[str]:
        return {name for name in self.__dataclass_fields__ if getattr(self, name) is not None}


@dataclass(frozen=True)
class NearbyLocation:
    location: Location
    distance_m: float | None


def _cursor_key(item: NearbyLocation) -> str:
    distance = "" if item.distance_m is None else f"{item.distance_m:015.3f}"
    return f"{distance}|{item.location.code}"


async def create_location(deps: LocationDeps, draft: LocationDraft) -> Location:
    code = clean_text(draft.code.upper(), "code", CODE_LIMIT)  # "ß".upper() is "SS": longer
    now = deps.clock.now()
    location = Location(
        id=new_id(),
        code=code,
        name=clean_text(draft.name, "name", 100),
        type=draft.type,
        address=clean_text(draft.address, "address", 300),
        city=clean_text(draft.city, "city", 100),
        point=GeoPoint.of(draft.latitude, draft.longitude),
        timezone=clean_timezone(draft.timezone),
        opening_hours=clean_opening_hours(draft.opening_hours or {}),
        pickup_enabled=draft.pickup_enabled,
        ships_online=draft.ships_online,
        status=LocationStatus.ACTIVE,
        created_at=now,
        updated_at=now,
        phone=clean_text(draft.phone, "phone", 30, required=False) if draft.phone else None,
    )
    async with deps.uow() as uow:
        if await uow.locations.get_by_code(code):
            raise LocationError(
                LocationErrorCode.DUPLICATE_CODE, f"Location code {code!r} exists.", ["code"]
            )
        await uow.locations.add(location)
    return location


async def update_location(
    deps: LocationDeps, actor: Principal, location_id: UUID, patch: LocationPatch
) -> Location:
    if not actor.is_admin:
        if not actor.can_act_on_store(location_id):
            raise LocationError(
                LocationErrorCode.FORBIDDEN, "You may only manage your own stores.", ["id"]
            )
        extra = patch.touched() - LocationPatch.STORE_FIELDS
        if extra:
            raise LocationError(
                LocationErrorCode.FORBIDDEN,
                "Store managers may change opening hours, pickup and phone only.",
                sorted(extra),
            )
    async with deps.uow() as uow:
        location = await uow.locations.get(location_id)
        if location is None:
            raise LocationError(LocationErrorCode.NOT_FOUND, "Unknown location.", ["id"])
        _apply(location, patch)
        location.updated_at = deps.clock.now()
        await uow.locations.save(location)
    return location


def _apply(location: Location, patch: LocationPatch) -> None:
    if patch.name is not None:
        location.name = clean_text(patch.name, "name", 100)
    if patch.address is not None:
        location.address = clean_text(patch.address, "address", 300)
    if patch.city is not None:
        location.city = clean_text(patch.city, "city", 100)
    if patch.latitude is not None or patch.longitude is not None:
        location.point = GeoPoint.of(
            location.point.latitude if patch.latitude is None else patch.latitude,
            location.point.longitude if patch.longitude is None else patch.longitude,
        )
    if patch.timezone is not None:
        location.timezone = clean_timezone(patch.timezone)
    if patch.opening_hours is not None:
        location.opening_hours = clean_opening_hours(patch.opening_hours)
    if patch.pickup_enabled is not None:
        location.pickup_enabled = patch.pickup_enabled
    if patch.ships_online is not None:
        location.ships_online = patch.ships_online
    if patch.phone is not None:
        location.phone = clean_text(patch.phone, "phone", 30, required=False) or None
    if patch.status is not None:
        location.status = patch.status


async def find_locations(
    deps: LocationDeps,
    page: PageRequest,
    *,
    near: GeoPoint | None,
    types: Sequence[LocationType] | None,
    pickup_enabled: bool | None,
    include_closed: bool = False,
) -> Page[NearbyLocation]:
    """Active locations, nearest first when `near` is given, else by code.

    The network is hundreds to a few thousand rows: one query fetches the candidates and
    distances are computed here, identically on PostgreSQL and SQLite.
    """
    statuses = list(LocationStatus) if include_closed else [LocationStatus.ACTIVE]
    async with deps.uow() as uow:
        rows = await uow.locations.search(
            types=types, pickup_enabled=pickup_enabled, statuses=statuses
        )
    items = [NearbyLocation(row, near.distance_to(row.point) if near else None) for row in rows]
    items.sort(key=_cursor_key)
    if page.after is not None:
        items = [item for item in items if _cursor_key(item) > page.after]
    window = items[: page.first + 1]
    return Page.from_rows(window, [_cursor_key(i) for i in window], page)


async def timezones_in_uow(uow: UnitOfWork, location_ids: Sequence[UUID]) -> dict[UUID, str]:
    """Each location's timezone by id, in one read (engagement's quiet hours on a member's
    store clock); a location unknown is left out (the caller takes DEFAULT_TIMEZONE)."""
    return {loc.id: loc.timezone for loc in await uow.locations.get_many(sorted(set(location_ids)))}
