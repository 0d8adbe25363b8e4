"""In-memory member prices, keyed as the unique index is: (variant, tier)."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from domain.promotions.member_prices_model import MemberPrice
from domain.promotions.member_prices_ports import MemberPriceRepository
from tests.fakes.tables import Tables


class FakeMemberPrices(MemberPriceRepository):
    def __init__(self, tables: Tables):
        self._t = tables

    async def of_tier(self, variant_ids: Sequence[UUID], tier: str) -> dict[UUID, int]:
        found = (self._t.member_prices.get((v, tier)) for v in variant_ids)
        return {p.variant_id: p.price for p in found if p is not None}

    async def of_variants(self, variant_ids: Sequence[UUID]) -> list[MemberPrice]:
        wanted = set(variant_ids)
        return sorted(
            (p for p in self._t.member_prices.values() if p.variant_id in wanted),
            key=lambda p: (str(p.variant_id), p.tier),
        )

    async def put(self, price: MemberPrice) -> None:
        self._t.member_prices[(price.variant_id, price.tier)] = price

    async def remove(self, variant_id: UUID, tier: str) -> bool:
        return self._t.member_prices.pop((variant_id, tier), None) is not None
