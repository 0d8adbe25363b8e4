"""Till sales' lines and their returns in memory (`TillReturnRepository`)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import replace
from uuid import UUID

from domain.inventory.till_model import PosReturn, TillSale, TillSaleLine
from domain.inventory.till_ports import TillReturnRepository
from domain.pagination import Page, PageRequest
from tests.fakes.tables import Tables, page_of


class FakeTillReturns(TillReturnRepository):
    def __init__(self, tables: Tables):
        self._t = tables

    async def keep_sale(
        self,
        location_id: UUID,
        transaction_id: str,
        member_id: UUID | None,
        lines: Sequence[TillSaleLine],
    ) -> None:
        # The fake inventory keeps sales by key only: the kept sale is its row here.
        self._t.till_sales[(location_id, transaction_id)] = TillSale(
            UUID(int=len(self._t.till_sales) + 1),
            location_id,
            transaction_id,
            member_id,
            [copy.deepcopy(line) for line in lines],
        )

    async def sale(self, location_id: UUID, transaction_id: str) -> TillSale | None:
        return copy.deepcopy(self._t.till_sales.get((location_id, transaction_id)))

    async def take_returned(self, sale_id: UUID, variant_id: UUID, quantity: int) -> int | None:
        for key, sale in self._t.till_sales.items():
            if sale.id != sale_id:
                continue
            for index, line in enumerate(sale.lines):
                if line.variant_id == variant_id and line.returned + quantity <= line.quantity:
                    lines = list(sale.lines)
                    lines[index] = replace(line, returned=line.returned + quantity)
                    self._t.till_sales[key] = replace(sale, lines=lines)
                    return line.returned
        return None

    async def add_return(self, pos_return: PosReturn) -> None:
        self._t.pos_returns[pos_return.id] = copy.deepcopy(pos_return)

    async def get_return(self, return_id: UUID) -> PosReturn | None:
        return copy.deepcopy(self._t.pos_returns.get(return_id))

    async def returns_at(self, location_id: UUID, page: PageRequest) -> Page[PosReturn]:
        rows = [r for r in self._t.pos_returns.values() if r.location_id == location_id]
        return page_of(rows, lambda r: str(r.id), page, newest_first=True)
