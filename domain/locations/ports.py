"""Storage the locations context needs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

from domain.locations.model import Location, LocationStatus, LocationType


class LocationRepository(Protocol):
    async def get(self, location_id: UUID) -> Location | None: ...
    async def get_many(self, ids: Sequence[UUID]) -> list[Location]: ...
    async def get_by_code(self, code: str) -> Location | None: ...
    async def search(
        self,
        *,
        types: Sequence[LocationType] | None,
        pickup_enabled: bool | None,
        statuses: Sequence[LocationStatus],
    ) -> list[Location]: ...
    async def add(self, location: Location) -> None: ...
    async def save(self, location: Location) -> None: ...
