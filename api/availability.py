"""Shopper availability: per request, one query for the variants' levels and one for the
active network, whatever the number of variants on the page."""

from __future__ import annotations

from uuid import UUID

from strawberry.types import Info

from api.context import Context
from api.errors import ApiError
from api.permissions import sees_quantities
from api.types.inventory import LocationAvailability
from api.types.locations import Location, NearInput
from domain.errors import DomainError
from domain.inventory.availability import availability_near
from domain.locations.model import GeoPoint

MAX_FIRST = 50


async def availability_of(
    info: Info[Context, object],
    variant_id: UUID,
    near: NearInput | None,
    pickup_only: bool,
    first: int,
) -> list[LocationAvailability]:
    if not 0 <= first <= MAX_FIRST:
        raise ApiError("INVALID_INPUT", f"`first` is 0 to {MAX_FIRST}.", field=["first"])
    try:
        point = GeoPoint.of(near.latitude, near.longitude) if near is not None else None
    except DomainError as error:
        raise ApiError(error.code.value, error.message, field=error.field) from None
    loaders = info.context.loaders
    levels = await loaders.levels_by_variant.load(variant_id)
    network = await loaders.network.load("all")
    show = sees_quantities(info.context.principal)
    return [
        LocationAvailability(
            location=Location.from_domain(row.location, row.distance_m),
            status=row.status,
            distance=None if row.distance_m is None else round(row.distance_m, 1),
            quantity=row.available if show else None,
        )
        for row in availability_near(levels, network, point, pickup_only=pickup_only, first=first)
    ]
