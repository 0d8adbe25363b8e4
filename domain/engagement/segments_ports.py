"""Storage of segments (tables `segment`, `segment_size`) and their members (over
`member_facts`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Protocol
from uuid import UUID

from domain.engagement.segment_rules import Rule
from domain.engagement.segments_model import Segment, SegmentSize, SegmentStatus
from domain.pagination import Page, PageRequest

Where = tuple[str, list[Any]]  # a WHERE over `member_facts f` with $1… parameters


class SegmentRepository(Protocol):
    async def add(self, segment: Segment) -> bool:
        """Insert unless a segment has this name (False: taken, also in a race)."""
        ...

    async def save(self, segment: Segment) -> bool:
        """Update name, rule, status, updated_at (False: the new name is taken)."""
        ...

    async def get(self, segment_id: UUID) -> Segment | None: ...
    async def names(self) -> set[str]: ...
    async def page(self, status: SegmentStatus | None, page: PageRequest) -> Page[Segment]:
        """By name."""
        ...

    async def active(self) -> list[Segment]: ...
    async def size(self, where: Where, stores: Sequence[UUID] | None) -> int:
        """Active members whose facts satisfy `where` (and, `stores`, with an order at one of
        them), in one statement."""
        ...

    async def sizes(
        self, rules: Sequence[Rule], at: datetime, stores: Sequence[UUID] | None
    ) -> list[int]:
        """`size` of each rule as of `at`, all in one statement (a page of segments)."""
        ...

    async def members(
        self, where: Where, stores: Sequence[UUID] | None, page: PageRequest
    ) -> Page[UUID]:
        """The same members by id (keyset), one statement."""
        ...

    async def record_size(self, segment_id: UUID, day: date, size: int) -> None:
        """Upsert: one size per segment and day, the last recording wins."""
        ...

    async def history(self, segment_id: UUID, since: date) -> list[SegmentSize]:
        """Oldest first."""
        ...
