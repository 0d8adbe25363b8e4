"""Storage of reviews."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from domain.aftersales.review_model import Rating, Review, ReviewStatus
from domain.pagination import Page, PageRequest


class ReviewRepository(Protocol):
    async def add(self, review: Review) -> bool:
        """Insert the review; False (and nothing written) when its order line has one already,
        also one a concurrent transaction is inserting (the unique key decides)."""
        ...

    async def get(self, review_id: UUID, *, lock: bool = False) -> Review | None: ...
    async def save(self, review: Review) -> None:
        """Write the moderation fields (status, held words, moderator, reason, updated)."""
        ...

    async def of_lines(self, line_ids: Sequence[UUID]) -> list[Review]: ...
    async def for_member(self, member_id: UUID, page: PageRequest) -> Page[Review]:
        """The member's reviews in every state, newest first."""
        ...

    async def by_status(self, status: ReviewStatus | None, page: PageRequest) -> Page[Review]:
        """CS's list, oldest first (a queue)."""
        ...

    async def published_of(
        self, product_ids: Sequence[UUID], page: PageRequest
    ) -> dict[UUID, Page[Review]]:
        """One page of each product's PUBLISHED reviews, newest first, in one statement."""
        ...

    async def ratings(self, product_ids: Sequence[UUID]) -> dict[UUID, Rating]:
        """Count and star total of each product's PUBLISHED reviews (absent: none)."""
        ...

    async def move_member(self, source: UUID, target: UUID) -> int: ...
    async def erase_member(self, member_id: UUID, at: datetime) -> int:
        """An erased member's reviews: text and photos gone, HIDDEN "account deleted"."""
        ...
