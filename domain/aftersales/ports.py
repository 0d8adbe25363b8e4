"""What the after-sales use cases need from storage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol
from uuid import UUID

from domain.aftersales.model import (
    AfterSale,
    AfterSaleEvent,
    AfterSaleFilter,
    AfterSaleLine,
    AfterSaleStatus,
)
from domain.pagination import Page, PageRequest


class AfterSaleRepository(Protocol):
    async def add(self, after_sale: AfterSale) -> None:
        """The after-sale with its lines."""
        ...

    async def get(self, after_sale_id: UUID) -> AfterSale | None: ...
    async def get_many(self, ids: Sequence[UUID]) -> list[AfterSale]: ...
    async def of_orders(self, order_ids: Sequence[UUID]) -> list[AfterSale]:
        """Every after-sale of these orders with its lines, oldest first."""
        ...

    async def transition(
        self, after_sale_id: UUID, current: AfterSaleStatus, target: AfterSaleStatus, **changes: Any
    ) -> bool:
        """status = target (and the changes) only if it is still `current`: of two agents
        deciding at once, one moves it."""
        ...

    async def save_lines(self, lines: Sequence[AfterSaleLine]) -> None: ...
    async def by_refund(self, refund_id: UUID) -> AfterSale | None: ...
    async def add_events(self, events: Sequence[AfterSaleEvent]) -> None: ...
    async def events_of(self, ids: Sequence[UUID]) -> list[AfterSaleEvent]: ...
    async def search(
        self, where: AfterSaleFilter, page: PageRequest, *, member_ids: Sequence[UUID] = ()
    ) -> Page[AfterSale]:
        """Newest first (keyset on created_at, id); `member_ids`: only theirs."""
        ...

    async def move_member(self, source: UUID, target: UUID) -> int: ...
