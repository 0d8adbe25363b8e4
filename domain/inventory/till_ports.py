"""Storage of till sales' lines and of their in-store returns (`till_model`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

from domain.inventory.till_model import PosReturn, TillSale, TillSaleLine
from domain.pagination import Page, PageRequest


class TillReturnRepository(Protocol):
    async def keep_sale(
        self,
        location_id: UUID,
        transaction_id: str,
        member_id: UUID | None,
        lines: Sequence[TillSaleLine],
    ) -> None:
        """Keep a till sale's member and lines on its `pos_transaction` row."""
        ...

    async def sale(self, location_id: UUID, transaction_id: str) -> TillSale | None:
        """The sale with its lines; None when unknown or recorded before lines were kept."""
        ...

    async def take_returned(self, sale_id: UUID, variant_id: UUID, quantity: int) -> int | None:
        """returned += q only if it stays <= quantity (the line's row is held until commit);
        the units returned before these, or None when the condition fails."""
        ...

    async def add_return(self, pos_return: PosReturn) -> None: ...
    async def get_return(self, return_id: UUID) -> PosReturn | None: ...
    async def returns_at(self, location_id: UUID, page: PageRequest) -> Page[PosReturn]:
        """A store's returns, newest first."""
        ...
