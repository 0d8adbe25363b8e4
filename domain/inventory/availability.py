"""What a shopper may know: which locations near them have a variant, and how much the
online channels can sell. Pure functions over levels and locations."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from uuid import UUID

from domain.inventory.model import StockLevel, StockStatus, status_of
from domain.inventory.ports import InventoryRepository
from domain.locations.model import GeoPoint, Location, LocationStatus


@dataclass(frozen=True)
class LocationAvailability:
    location: Location
    available: int
    status: StockStatus
    distance_m: float | None


def availability_near(
    levels: Iterable[StockLevel],
    locations: Mapping[UUID, Location],
    near: GeoPoint | None,
    *,
    pickup_only: bool,
    first: int,
) -> list[LocationAvailability]:
    """Active locations carrying the variant, nearest first (or by code without `near`).
    Locations that stock it but have none available are listed OUT_OF_STOCK."""
    rows = []
    for level in levels:
        location = locations.get(level.location_id)
        if location is None or location.status is not LocationStatus.ACTIVE:
            continue
        if pickup_only and not location.pickup_enabled:
            continue
        distance = near.distance_to(location.point) if near else None
        rows.append(
            LocationAvailability(location, level.available, status_of(level.available), distance)
        )
    rows.sort(key=lambda r: (r.distance_m if r.distance_m is not None else 0.0, r.location.code))
    return rows[:first]


def sells_online(location: Location) -> bool:
    """Whether the online channels sell from a location's stock."""
    return location.ships_online and location.status is LocationStatus.ACTIVE


async def totals_online(
    inventory: InventoryRepository,
    variant_ids: Sequence[UUID],
    locations: Mapping[UUID, Location],
) -> dict[UUID, int]:
    """What online channels can promise of each variant: the sum of `StockLevel.available` at
    the active locations that ship online. The repository sums in the database (a page of 100
    variants over 20 stores is 100 rows, not 2,000 levels)."""
    selling = sorted(loc.id for loc in locations.values() if sells_online(loc))
    return await inventory.available_totals(variant_ids, selling)
