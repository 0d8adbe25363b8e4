"""Storage of shopping-guide attribution (tables `guide_code`, `guide_binding`,
`guide_order`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from domain.growth.guides_model import GuideBinding, GuideCode


class GuideRepository(Protocol):
    async def put_code(self, code: GuideCode, at: datetime) -> None:
        """Store a guide's code (once: a second put is nothing)."""
        ...

    async def code(self, code: str) -> GuideCode | None: ...
    async def binding(self, member_id: UUID) -> GuideBinding | None: ...
    async def bindings(self, member_ids: Sequence[UUID]) -> list[GuideBinding]:
        """In one statement (a list of members reads their guides at once)."""
        ...

    async def bind_first(self, binding: GuideBinding) -> bool:
        """Insert unless the member has a guide already (first touch wins, also in a race)."""
        ...

    async def put_binding(self, binding: GuideBinding) -> None:
        """Insert or replace the member's binding (assigned by a manager or CS)."""
        ...

    async def clear(self, member_id: UUID) -> bool: ...
    async def attribute(self, order_id: UUID, member_id: UUID, placed_at: datetime) -> None:
        """Attribute the order to the member's guide, if any, in one statement (once)."""
        ...

    async def attributed(
        self, store_id: UUID, start: datetime, end: datetime
    ) -> list[tuple[UUID, UUID, UUID]]:
        """(order id, member id, guide's staff id) of the store's orders placed in [start, end)."""
        ...

    async def bound_counts(self, store_id: UUID, start: datetime, end: datetime) -> dict[UUID, int]:
        """Members bound in [start, end) at the store, per guide."""
        ...

    async def move_member(self, source: UUID, target: UUID) -> None:
        """A merge: the survivor keeps its guide, or takes the absorbed member's."""
        ...
