"""The port of flash sales: the sales, their counter, each member's counter and each order's
take (see `flash_sales_model`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from domain.promotions.flash_sales_model import FlashSale, FlashTake


class FlashSaleRepository(Protocol):
    async def add_flash_sale(self, sale: FlashSale) -> None: ...

    async def update_flash_sale(self, sale: FlashSale) -> None:
        """Write the sale's terms (not `units_sold`, which only `take`/`give_back` change)."""
        ...

    async def get_flash_sale(self, sale_id: UUID, lock: bool = False) -> FlashSale | None: ...

    async def flash_sales_of_variants(
        self, variant_ids: Sequence[UUID], ending_after: datetime
    ) -> list[FlashSale]:
        """The sales of these variants not cancelled that end after the time (live or upcoming)."""
        ...

    async def list_flash_sales(
        self, now: datetime, active: bool | None, limit: int
    ) -> list[FlashSale]:
        """The latest `limit` to start, latest first; `active`: live or upcoming (True), ended
        or cancelled (False)."""
        ...

    async def take_units(self, sale_id: UUID, quantity: int) -> bool:
        """Add to `units_sold` if it stays within `units_offered` (False: sold out)."""
        ...

    async def take_member_units(
        self, sale_id: UUID, member_id: UUID, quantity: int, limit: int
    ) -> bool:
        """Add to the member's count if it stays within `limit` (False: limit reached)."""
        ...

    async def record_take(self, order_id: UUID, take: FlashTake) -> None: ...

    async def pop_takes(self, order_id: UUID) -> list[FlashTake]:
        """Remove and return the order's takes (once: a second call finds none)."""
        ...

    async def move_member(self, source: UUID, target: UUID) -> None:
        """A merge: the source's counts are added to the target's, sale by sale, and its
        orders' takes name the target."""
        ...

    async def give_back(self, take: FlashTake) -> None:
        """Subtract the take from the sale's and the member's counts."""
        ...
