"""A flash sale (秒杀): one variant at a sale price between a start and an end, for at most
`units_offered` units, at most `per_member_limit` of them per member, at the listed stores
(pickup orders there) and/or online (delivery orders).

`units_sold` counts the units of orders that hold the sale's price: unpaid orders within their
payment time and paid ones. An order cancelled or timed out gives its units back (and the
member's), so a buyer who never pays does not keep a unit from the others; a unit is never
sold twice because the take is a conditional update of the sale's counter row."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID

MAX_UNITS = 1_000_000
MAX_LOCATIONS = 200


class FlashSalePhase(StrEnum):
    UPCOMING = "UPCOMING"
    LIVE = "LIVE"
    ENDED = "ENDED"
    CANCELLED = "CANCELLED"


@dataclass
class FlashSale:
    id: UUID
    variant_id: UUID
    price: int  # fen, below the variant's list price
    currency: str
    starts_at: datetime
    ends_at: datetime
    units_offered: int
    per_member_limit: int
    online: bool  # delivery orders
    location_ids: tuple[UUID, ...]  # pickup orders at these stores
    created_at: datetime
    updated_at: datetime
    units_sold: int = 0
    cancelled_at: datetime | None = None
    cancel_reason: str | None = field(default=None)

    def phase(self, now: datetime) -> FlashSalePhase:
        if self.cancelled_at is not None:
            return FlashSalePhase.CANCELLED
        if now < self.starts_at:
            return FlashSalePhase.UPCOMING
        return FlashSalePhase.LIVE if now < self.ends_at else FlashSalePhase.ENDED

    def is_live(self, now: datetime) -> bool:
        return self.phase(now) is FlashSalePhase.LIVE

    @property
    def units_left(self) -> int:
        return max(self.units_offered - self.units_sold, 0)

    def covers(self, pickup_location_id: UUID | None) -> bool:
        """A pickup order at a listed store, or a delivery order (no pickup store) online."""
        if pickup_location_id is None:
            return self.online
        return pickup_location_id in self.location_ids

    def overlaps(self, other: FlashSale) -> bool:
        """Two sales of one variant whose windows and places meet: a price would be ambiguous."""
        if other.variant_id != self.variant_id or other.cancelled_at is not None:
            return False
        if other.starts_at >= self.ends_at or self.starts_at >= other.ends_at:
            return False
        return (self.online and other.online) or bool(
            set(self.location_ids) & set(other.location_ids)
        )


@dataclass(frozen=True)
class FlashTake:
    """Units of one sale taken by one order (given back when the order is cancelled)."""

    flash_sale_id: UUID
    member_id: UUID
    quantity: int
