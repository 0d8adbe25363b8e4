from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from tortoise.exceptions import IntegrityError

from domain.errors import LocationError, LocationErrorCode
from domain.locations.model import GeoPoint, Location, LocationStatus, LocationType
from infra.db import sql

LOCATION_COLUMNS = (
    "id, code, name, type, address, city, latitude, longitude, timezone, opening_hours, "
    "pickup_enabled, ships_online, status, created_at, updated_at, phone"
)
SELECT_LOCATIONS = f"SELECT {LOCATION_COLUMNS} FROM location"


def _location(row: dict[str, Any]) -> Location:
    hours = sql.as_json(row["opening_hours"])
    return Location(
        id=sql.as_uuid(row["id"]),
        code=row["code"],
        name=row["name"],
        type=LocationType(row["type"]),
        address=row["address"],
        city=row["city"],
        point=GeoPoint(row["latitude"], row["longitude"]),
        timezone=row["timezone"],
        opening_hours={day: [(s, e) for s, e in spans] for day, spans in hours.items()},
        pickup_enabled=bool(row["pickup_enabled"]),
        ships_online=bool(row["ships_online"]),
        status=LocationStatus(row["status"]),
        created_at=sql.as_datetime(row["created_at"]),
        updated_at=sql.as_datetime(row["updated_at"]),
        phone=row["phone"],
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
    """Reads and writes through prebuilt SQL (the network is read on every availability
    request). `touched`: this instance wrote (the unit of work tells the
    locations cache after its commit)."""

    touched = False

    async def get(self, location_id: UUID) -> Location | None:
        rows = await sql.fetch(f"{SELECT_LOCATIONS} WHERE id = $1", location_id)
        return _location(rows[0]) if rows else None

    async def get_many(self, ids: Sequence[UUID]) -> list[Location]:
        if not ids:
            return []
        keys = list(ids)
        rows = await sql.fetch(
            f"{SELECT_LOCATIONS} WHERE id IN ({sql.placeholders(len(keys))})", *keys
        )
        return [_location(r) for r in rows]

    async def get_by_code(self, code: str) -> Location | None:
        rows = await sql.fetch(f"{SELECT_LOCATIONS} WHERE code = $1", code)
        return _location(rows[0]) if rows else None

    async def search(
        self,
        *,
        types: Sequence[LocationType] | None,
        pickup_enabled: bool | None,
        statuses: Sequence[LocationStatus],
    ) -> list[Location]:
        values: list[Any] = [s.value for s in statuses]
        where = [f"status IN ({sql.placeholders(len(values))})"]
        if types:
            where.append(f"type IN ({sql.placeholders(len(types), len(values) + 1)})")
            values.extend(t.value for t in types)
        if pickup_enabled is not None:
            values.append(pickup_enabled)
            where.append(f"pickup_enabled = ${len(values)}")
        rows = await sql.fetch(f"{SELECT_LOCATIONS} WHERE {' AND '.join(where)}", *values)
        return [_location(r) for r in rows]

    async def add(self, location: Location) -> None:
        self.touched = True
        try:
            await sql.insert_row("location", {"id": location.id, **_fields(location)})
        except IntegrityError:
            raise LocationError(
                LocationErrorCode.DUPLICATE_CODE, "Location code exists.", ["code"]
            ) from None

    async def save(self, location: Location) -> None:
        self.touched = True
        await sql.update("location", _fields(location), "id = $1", location.id)
