"""Locations and the rules for where they are and when they open."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.errors import LocationError, LocationErrorCode

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TIME_RE = re.compile(r"^(?:[01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")
EARTH_RADIUS_M = 6_371_008.8
DEFAULT_TIMEZONE = "Asia/Shanghai"

OpeningHours = dict[str, list[tuple[str, str]]]


class LocationType(StrEnum):
    STORE = "STORE"
    WAREHOUSE = "WAREHOUSE"
    FRONT_WAREHOUSE = "FRONT_WAREHOUSE"
    PICKUP_POINT = "PICKUP_POINT"


class LocationStatus(StrEnum):
    ACTIVE = "ACTIVE"
    CLOSED = "CLOSED"


@dataclass(frozen=True)
class GeoPoint:
    latitude: float
    longitude: float

    @classmethod
    def of(cls, latitude: float, longitude: float) -> GeoPoint:
        for name, value, limit in (("latitude", latitude, 90), ("longitude", longitude, 180)):
            if not (math.isfinite(value) and -limit <= value <= limit):
                raise LocationError(
                    LocationErrorCode.INVALID_COORDINATES,
                    "Latitude must be within ±90 and longitude within ±180 degrees.",
                    [name],
                )
        return cls(latitude, longitude)

    def distance_to(self, other: GeoPoint) -> float:
        """Great-circle distance in metres (haversine)."""
        lat1, lat2 = math.radians(self.latitude), math.radians(other.latitude)
        dlat = lat2 - lat1
        dlon = math.radians(other.longitude - self.longitude)
        a = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
        return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


@dataclass
class Location:
    id: UUID
    code: str
    name: str
    type: LocationType
    address: str
    city: str
    point: GeoPoint
    timezone: str
    opening_hours: OpeningHours
    pickup_enabled: bool
    ships_online: bool
    status: LocationStatus
    created_at: datetime
    updated_at: datetime
    phone: str | None = None

    def is_open_at(self, moment: datetime) -> bool:
        local = moment.astimezone(ZoneInfo(self.timezone))
        hhmm = local.strftime("%H:%M")
        day = DAYS[local.weekday()]
        return any(start <= hhmm < end for start, end in self.opening_hours.get(day, []))


def local_time_text(moment: datetime, location: Location | None) -> str:
    """A moment as the store's customers and staff read it, on the store's wall clock
    (Asia/Shanghai when the store is unknown): "2027-01-05 04:00". Times are stored in UTC;
    every message that shows one to a person formats it here."""
    zone = ZoneInfo(location.timezone if location is not None else DEFAULT_TIMEZONE)
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def local_date(moment: datetime, location: Location | None) -> date:
    """The day on the store's wall clock at `moment` (Asia/Shanghai when the store is
    unknown): in Shanghai, 23:30 UTC is already the next day."""
    zone = ZoneInfo(location.timezone if location is not None else DEFAULT_TIMEZONE)
    return moment.astimezone(zone).date()


def clean_timezone(value: str) -> str:
    try:
        if len(value) > 64:  # longer than any IANA name, and than the column
            raise ValueError(value)
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "Asia" is a directory
        raise LocationError(
            LocationErrorCode.INVALID_TIMEZONE,
            f"{value!r} is not an IANA time zone (e.g. Asia/Shanghai).",
            ["timezone"],
        ) from None
    return value


def clean_opening_hours(hours: OpeningHours) -> OpeningHours:
    """Days mon..sun, each a list of non-overlapping [open, close) ranges in local HH:MM."""
    cleaned: OpeningHours = {}
    for day, ranges in hours.items():
        if day not in DAYS:
            raise LocationError(
                LocationErrorCode.INVALID_OPENING_HOURS,
                f"Unknown day {day!r}; use one of {', '.join(DAYS)}.",
                ["openingHours", day],
            )
        if len(ranges) > 4:
            raise LocationError(
                LocationErrorCode.INVALID_OPENING_HOURS,
                "At most 4 opening ranges per day.",
                ["openingHours", day],
            )
        ordered = sorted(ranges)
        for index, (start, end) in enumerate(ordered):
            if not (TIME_RE.fullmatch(start) and TIME_RE.fullmatch(end)) or start >= end:
                raise LocationError(
                    LocationErrorCode.INVALID_OPENING_HOURS,
                    f"{day}: {start}-{end} is not a range of HH:MM times with open before close.",
                    ["openingHours", day],
                )
            if index and ordered[index - 1][1] > start:
                raise LocationError(
                    LocationErrorCode.INVALID_OPENING_HOURS,
                    f"{day}: opening ranges overlap.",
                    ["openingHours", day],
                )
        cleaned[day] = [(s, e) for s, e in ordered]
    return cleaned


def clean_text(value: str, field_name: str, limit: int, *, required: bool = True) -> str:
    text = value.strip()
    if (required and not text) or len(text) > limit or "\x00" in text:  # PostgreSQL: no U+0000
        raise LocationError(
            LocationErrorCode.INVALID_INPUT,
            f"`{field_name}` must be {'1' if required else '0'}-{limit} characters (and no NUL).",
            [field_name],
        )
    return text
