"""A store as the domain sees it, for rule tests that need its time zone or hours."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from domain.locations.model import (
    GeoPoint,
    Location,
    LocationStatus,
    LocationType,
    OpeningHours,
)

SHANGHAI = GeoPoint(31.2304, 121.4737)


def location(hours: OpeningHours, zone: str = "Asia/Shanghai") -> Location:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    return Location(
        id=uuid4(),
        code="SH-A",
        name="Store",
        type=LocationType.STORE,
        address="1 Rd",
        city="Shanghai",
        point=SHANGHAI,
        timezone=zone,
        opening_hours=hours,
        pickup_enabled=True,
        ships_online=False,
        status=LocationStatus.ACTIVE,
        created_at=now,
        updated_at=now,
    )
