from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.context import Context
from api.errors import LocationUserError
from api.mutations import actor, mutate
from api.permissions import CanManageStores, CanWriteLocations
from api.relay import decode_id
from api.types.locations import Location
from domain.errors import CommonError, CommonErrorCode
from domain.locations import services
from domain.locations.model import DAYS, LocationStatus, LocationType, OpeningHours
from domain.locations.model import Location as DomainLocation


@strawberry.input
class OpeningRangeInput:
    opens: str = strawberry.field(description="HH:MM local time.")
    closes: str = strawberry.field(description="HH:MM local time; 24:00 for midnight.")


@strawberry.input
class OpeningDayInput:
    day: str = strawberry.field(description="mon, tue, wed, thu, fri, sat or sun.")
    ranges: list[OpeningRangeInput]


@strawberry.input
class LocationCreateInput:
    code: str
    name: str
    type: LocationType
    address: str
    city: str
    latitude: float
    longitude: float
    timezone: str = "Asia/Shanghai"
    opening_hours: list[OpeningDayInput] = strawberry.field(default_factory=list)
    pickup_enabled: bool = False
    ships_online: bool = False
    phone: str | None = None


@strawberry.input
class LocationUpdateInput:
    id: strawberry.ID
    name: str | None = None
    address: str | None = None
    city: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    timezone: str | None = None
    opening_hours: list[OpeningDayInput] | None = None
    pickup_enabled: bool | None = None
    ships_online: bool | None = None
    phone: str | None = None
    status: LocationStatus | None = None


@strawberry.type
class LocationPayload:
    location: Location | None = None
    errors: list[LocationUserError] = strawberry.field(default_factory=list)


def _hours(days: list[OpeningDayInput] | None) -> OpeningHours | None:
    if days is None:
        return None
    if len(days) > len(DAYS):
        raise CommonError(
            CommonErrorCode.TOO_MANY_ITEMS, "At most one entry per weekday.", ["openingHours"]
        )
    hours: OpeningHours = {}
    for entry in days:
        if entry.day in hours:
            raise CommonError(
                CommonErrorCode.INVALID_INPUT, f"{entry.day} appears twice.", ["openingHours"]
            )
        hours[entry.day] = [(r.opens, r.closes) for r in entry.ranges[:10]]
    return hours


def _present(location: DomainLocation) -> LocationPayload:
    return LocationPayload(location=Location.from_domain(location))


@strawberry.type
class LocationMutations:
    @strawberry.mutation(permission_classes=[CanWriteLocations])
    async def location_create(
        self, info: Info[Context, object], input: LocationCreateInput
    ) -> LocationPayload:
        deps = info.context.runtime.locations

        async def run() -> DomainLocation:
            draft = services.LocationDraft(
                code=input.code,
                name=input.name,
                type=input.type,
                address=input.address,
                city=input.city,
                latitude=input.latitude,
                longitude=input.longitude,
                timezone=input.timezone,
                opening_hours=_hours(input.opening_hours),
                pickup_enabled=input.pickup_enabled,
                ships_online=input.ships_online,
                phone=input.phone,
            )
            return await services.create_location(deps, draft)

        return await mutate(LocationPayload, LocationUserError, run, _present)

    @strawberry.mutation(
        permission_classes=[CanManageStores],
        description="ADMIN changes anything; a STORE_MANAGER changes hours, pickup and phone "
        "of their own stores.",
    )
    async def location_update(
        self, info: Info[Context, object], input: LocationUpdateInput
    ) -> LocationPayload:
        deps, caller = info.context.runtime.locations, actor(info)

        async def run() -> DomainLocation:
            patch = services.LocationPatch(
                name=input.name,
                address=input.address,
                city=input.city,
                latitude=input.latitude,
                longitude=input.longitude,
                timezone=input.timezone,
                opening_hours=_hours(input.opening_hours),
                pickup_enabled=input.pickup_enabled,
                ships_online=input.ships_online,
                phone=input.phone,
                status=input.status,
            )
            return await services.update_location(
                deps, caller, decode_id(input.id, "Location"), patch
            )

        return await mutate(LocationPayload, LocationUserError, run, _present)
