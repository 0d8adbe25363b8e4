"""In memory: the flash sales (`Tables.flash_sales` and its counters) and the member prices,
keyed as the unique index is: (variant, tier)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from uuid import UUID

from domain.promotions.flash_sales_model import FlashSale, FlashTake
from domain.promotions.flash_sales_ports import FlashSaleRepository
from domain.promotions.member_prices_model import MemberPrice
from domain.promotions.member_prices_ports import MemberPriceRepository
from tests.fakes.tables import Tables


class FakeFlashSales(FlashSaleRepository):
    def __init__(self, tables: Tables):
        self._t = tables

    async def add_flash_sale(self, sale: FlashSale) -> None:
        self._t.flash_sales[sale.id] = replace(sale)

    async def update_flash_sale(self, sale: FlashSale) -> None:
        sold = self._t.flash_sales[sale.id].units_sold
        self._t.flash_sales[sale.id] = replace(sale, units_sold=sold)

    async def get_flash_sale(self, sale_id: UUID, lock: bool = False) -> FlashSale | None:
        found = self._t.flash_sales.get(sale_id)
        return replace(found) if found else None

    async def flash_sales_of_variants(
        self, variant_ids: Sequence[UUID], ending_after: datetime
    ) -> list[FlashSale]:
        found = [
            replace(s)
            for s in self._t.flash_sales.values()
            if s.variant_id in variant_ids and s.ends_at > ending_after and s.cancelled_at is None
        ]
        return sorted(found, key=lambda s: (s.ends_at, s.id))

    async def list_flash_sales(
        self, now: datetime, active: bool | None, limit: int
    ) -> list[FlashSale]:
        found = [
            replace(s)
            for s in self._t.flash_sales.values()
            if active is None or active == (s.ends_at > now and s.cancelled_at is None)
        ]
        return sorted(found, key=lambda s: s.starts_at, reverse=True)[:limit]

    async def take_units(self, sale_id: UUID, quantity: int) -> bool:
        sale = self._t.flash_sales[sale_id]
        if sale.cancelled_at is not None or sale.units_sold + quantity > sale.units_offered:
            return False
        sale.units_sold += quantity
        return True

    async def take_member_units(
        self, sale_id: UUID, member_id: UUID, quantity: int, limit: int
    ) -> bool:
        bought = self._t.flash_sale_buyers.get((sale_id, member_id), 0)
        if bought + quantity > limit:
            return False
        self._t.flash_sale_buyers[(sale_id, member_id)] = bought + quantity
        return True

    async def record_take(self, order_id: UUID, take: FlashTake) -> None:
        self._t.flash_sale_takes.setdefault(order_id, []).append(take)

    async def pop_takes(self, order_id: UUID) -> list[FlashTake]:
        return sorted(self._t.flash_sale_takes.pop(order_id, []), key=lambda t: t.flash_sale_id)

    async def move_member(self, source: UUID, target: UUID) -> None:
        buyers = self._t.flash_sale_buyers
        for sale_id, member_id in list(buyers):
            if member_id == source:
                moved = buyers.pop((sale_id, source))
                buyers[(sale_id, target)] = buyers.get((sale_id, target), 0) + moved
        for order_id, takes in self._t.flash_sale_takes.items():
            self._t.flash_sale_takes[order_id] = [
                replace(t, member_id=target) if t.member_id == source else t for t in takes
            ]

    async def give_back(self, take: FlashTake) -> None:
        key = (take.flash_sale_id, take.member_id)
        self._t.flash_sale_buyers[key] -= take.quantity
        self._t.flash_sales[take.flash_sale_id].units_sold -= take.quantity


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
