from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from tortoise.exceptions import IntegrityError

from domain.errors import LocationError, LocationErrorCode
from domain.locations.model import GeoPoint, Location, LocationStatus, LocationType
from infra.db.models.locations import LocationRow


def _location(row: LocationRow) -> Location:
    return Location(
        id=row.id,
        code=row.code,
        name=row.name,
        type=row.type,
        address=row.address,
        city=row.city,
        point=GeoPoint(row.latitude, row.longitude),
        timezone=row.timezone,
        opening_hours={day: [(s, e) for s, e in spans] for day, spans in row.opening_hours.items()},
        pickup_enabled=row.pickup_enabled,
        ships_online=row.ships_online,
        status=row.status,
        created_at=row.created_at,
        updated_at=row.updated_at,
        phone=row.phone,
    )


def _fields(location: Location) -> dict[str, Any]:
    return {
        "code": location.code,
        "name": location.name,
        "type": location.type,
        "address": location.address,
        "city": location.city,
        "latitude": location.point.latitude,
        "longitude": location.point.longitude,
        "timezone": location.timezone,
        "opening_hours": {
            d: [list(r) for r in spans] for d, spans in location.opening_hours.items()
        },
        "pickup_enabled": location.pickup_enabled,
        "ships_online": location.ships_online,
        "status": location.status,
        "phone": location.phone,
        "created_at": location.created_at,
        "updated_at": location.updated_at,
    }


class TortoiseLocationRepository:
    async def get(self, location_id: UUID) -> Location | None:
        row = await LocationRow.get_or_none(id=location_id)
        return _location(row) if row else None

    async def get_many(self, ids: Sequence[UUID]) -> list[Location]:
        return [_location(r) for r in await LocationRow.filter(id__in=list(ids))]

    async def get_by_code(self, code: str) -> Location | None:
        row = await LocationRow.get_or_none(code=code)
        return _location(row) if row else None

    async def search(
        self,
        *,
        types: Sequence[LocationType] | None,
        pickup_enabled: bool | None,
        statuses: Sequence[LocationStatus],
    ) -> list[Location]:
        query = LocationRow.filter(status__in=list(statuses))
        if types:
            query = query.filter(type__in=list(types))
        if pickup_enabled is not None:
            query = query.filter(pickup_enabled=pickup_enabled)
        return [_location(r) for r in await query]

    async def add(self, location: Location) -> None:
        try:
            await LocationRow.create(id=location.id, **_fields(location))
        except IntegrityError:
            raise LocationError(
                LocationErrorCode.DUPLICATE_CODE, "Location code exists.", ["code"]
            ) from None

    async def save(self, location: Location) -> None:
        await LocationRow.filter(id=location.id).update(**_fields(location))
