"""The in-memory after-sales repository."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from domain.aftersales.model import (
    AfterSale,
    AfterSaleEvent,
    AfterSaleFilter,
    AfterSaleLine,
    AfterSaleStatus,
)
from domain.aftersales.ports import AfterSaleRepository
from domain.pagination import Page, PageRequest
from tests.fakes.tables import Tables, page_of


class FakeAfterSales(AfterSaleRepository):
    def __init__(self, tables: Tables):
        self._t = tables

    async def add(self, after_sale: AfterSale) -> None:
        self._t.after_sales[after_sale.id] = copy.deepcopy(after_sale)

    async def get(self, after_sale_id: UUID) -> AfterSale | None:
        found = self._t.after_sales.get(after_sale_id)
        return copy.deepcopy(found) if found else None

    async def get_many(self, ids: Sequence[UUID]) -> list[AfterSale]:
        return [copy.deepcopy(self._t.after_sales[i]) for i in ids if i in self._t.after_sales]

    async def of_orders(self, order_ids: Sequence[UUID]) -> list[AfterSale]:
        found = [a for a in self._t.after_sales.values() if a.order_id in order_ids]
        return [copy.deepcopy(a) for a in sorted(found, key=lambda a: (a.created_at, a.id))]

    async def transition(
        self, after_sale_id: UUID, current: AfterSaleStatus, target: AfterSaleStatus, **changes: Any
    ) -> bool:
        found = self._t.after_sales.get(after_sale_id)
        if found is None or found.status is not current:
            return False
        found.status = target
        for name, value in changes.items():
            setattr(found, name, value)
        return True

    async def save_lines(self, lines: Sequence[AfterSaleLine]) -> None:
        for line in lines:
            stored = self._t.after_sales[line.after_sale_id]
            stored.lines = [copy.deepcopy(line) if x.id == line.id else x for x in stored.lines]

    async def by_refund(self, refund_id: UUID) -> AfterSale | None:
        for found in self._t.after_sales.values():
            if found.refund_payment_id == refund_id:
                return copy.deepcopy(found)
        return None

    async def add_events(self, events: Sequence[AfterSaleEvent]) -> None:
        self._t.after_sale_events.extend(events)

    async def events_of(self, ids: Sequence[UUID]) -> list[AfterSaleEvent]:
        found = [e for e in self._t.after_sale_events if e.after_sale_id in ids]
        return sorted(found, key=lambda e: (e.at, e.id))

    async def search(
        self, where: AfterSaleFilter, page: PageRequest, *, member_ids: Sequence[UUID] = ()
    ) -> Page[AfterSale]:
        rows = [
            copy.deepcopy(a)
            for a in self._t.after_sales.values()
            if (not member_ids or a.member_id in member_ids)
            and (where.location_ids is None or a.location_id in where.location_ids)
            and (where.status is None or a.status is where.status)
        ]
        return page_of(rows, lambda a: str(a.id), page, newest_first=True)

    async def move_member(self, source: UUID, target: UUID) -> int:
        moved = [a for a in self._t.after_sales.values() if a.member_id == source]
        for found in moved:
            found.member_id = target
        return len(moved)
