from __future__ import annotations

from typing import Any

import strawberry

from api.relay import Node, encode_id
from domain.locations import model as m
from domain.locations.model import LocationStatus, LocationType

strawberry.enum(LocationType)
strawberry.enum(LocationStatus)


@strawberry.type(description="Opening ranges of one weekday, in the location's local time.")
class OpeningDay:
    day: str = strawberry.field(description="mon, tue, wed, thu, fri, sat or sun.")
    ranges: list[OpeningRange]


@strawberry.type
class OpeningRange:
    opens: str = strawberry.field(description="HH:MM local time.")
    closes: str = strawberry.field(description="HH:MM local time (24:00 allowed).")


@strawberry.input
class NearInput:
    latitude: float
    longitude: float


@strawberry.type
class GeoPoint:
    latitude: float
    longitude: float


def _opening_days(root: Location) -> list[OpeningDay]:
    """Built when asked for: most reads of a location (availability, orders) do not."""
    return [
        OpeningDay(day=day, ranges=[OpeningRange(opens=s, closes=e) for s, e in root.hours[day]])
        for day in m.DAYS
        if day in root.hours
    ]


@strawberry.type(description="A store, warehouse, front warehouse or pickup point.")
class Location(Node):
    code: str
    name: str
    type: LocationType
    status: LocationStatus
    address: str
    city: str
    coordinates: GeoPoint
    timezone: str = strawberry.field(description="IANA zone used for local dates and hours.")
    opening_hours: list[OpeningDay] = strawberry.field(resolver=_opening_days)
    pickup_enabled: bool
    ships_online: bool
    phone: str | None
    distance: float | None = strawberry.field(
        description="Metres from the `near` point of the query, when one was given."
    )
    key: strawberry.Private[Any]
    hours: strawberry.Private[m.OpeningHours]

    @classmethod
    def from_domain(cls, location: m.Location, distance: float | None = None) -> Location:
        return cls(
            id=encode_id("Location", location.id),
            code=location.code,
            name=location.name,
            type=location.type,
            status=location.status,
            address=location.address,
            city=location.city,
            coordinates=GeoPoint(
                latitude=location.point.latitude, longitude=location.point.longitude
            ),
            timezone=location.timezone,
            pickup_enabled=location.pickup_enabled,
            ships_online=location.ships_online,
            phone=location.phone,
            distance=None if distance is None else round(distance, 1),
            key=location.id,
            hours=location.opening_hours,
        )
