"""Storage of member prices (table `member_price`, one row per variant and tier)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

from domain.promotions.member_prices_model import MemberPrice


class MemberPriceRepository(Protocol):
    async def of_tier(self, variant_ids: Sequence[UUID], tier: str) -> dict[UUID, int]:
        """The tier's price of each of these variants that has one (one statement)."""
        ...

    async def of_variants(self, variant_ids: Sequence[UUID]) -> list[MemberPrice]:
        """Every tier's price of these variants, by variant then tier (one statement)."""
        ...

    async def put(self, price: MemberPrice) -> None:
        """Insert the variant's price for the tier, or replace it."""
        ...

    async def remove(self, variant_id: UUID, tier: str) -> bool:
        """Whether there was a price to remove."""
        ...
