"""Group-buys (拼团): a campaign sells one variant at a group price to groups of `group_size`
members; a leader opens a group, others join it, each with an order of their own at the group
price, and the group completes when all its seats are paid before `expires_at`, or fails.

Counters, each changed only by conditional updates (so no race passes them):
- `GroupBuyCampaign.units_taken`: `group_size` units per group opened, within `units_offered`
  (a failed group gives its units back);
- `Group.seats_taken`: seats held by unpaid or paid orders, never past `size` (a join beyond
  is refused with GROUP_FULL before any payment); a seat of an order cancelled or timed out
  while the group is open is free again;
- `Group.paid`: seats paid; when it reaches `size` the group is COMPLETED in the same update;
- a member's seats in a campaign, never past `per_member_limit`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

MAX_GROUP_SIZE = 50
MAX_UNITS = 1_000_000
MAX_LOCATIONS = 200
MIN_TIME_LIMIT = timedelta(minutes=5)
MAX_TIME_LIMIT = timedelta(days=7)


class GroupStatus(StrEnum):
    OPEN = "OPEN"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


class SeatStatus(StrEnum):
    HELD = "HELD"  # the member's order waits for payment
    PAID = "PAID"
    CANCELLED = "CANCELLED"  # the order was cancelled after the group completed or failed


@dataclass
class GroupBuyCampaign:
    id: UUID
    variant_id: UUID
    price: int  # fen per unit, below the variant's list price
    currency: str
    group_size: int
    time_limit: timedelta  # from opening to failure
    per_member_limit: int  # seats one member may hold in the campaign's groups
    location_ids: tuple[UUID, ...]  # pickup at these stores
    delivery: bool  # or delivery orders
    starts_at: datetime
    ends_at: datetime
    units_offered: int
    created_at: datetime
    units_taken: int = 0
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None

    def is_live(self, now: datetime) -> bool:
        return self.cancelled_at is None and self.starts_at <= now < self.ends_at


@dataclass
class Seat:
    id: UUID
    group_id: UUID
    campaign_id: UUID
    member_id: UUID
    order_id: UUID
    label: str  # the member's display name masked (王**) for the share page
    leader: bool
    status: SeatStatus
    joined_at: datetime


@dataclass
class Group:
    id: UUID
    campaign_id: UUID
    leader_id: UUID
    size: int
    status: GroupStatus
    opened_at: datetime
    expires_at: datetime
    seats_taken: int = 0
    paid: int = 0
    closed_at: datetime | None = None  # completed or failed
    seats: list[Seat] = field(default_factory=list)

    @property
    def remaining(self) -> int:
        """Seats still to pay for the group to complete."""
        return max(self.size - self.paid, 0) if self.status is GroupStatus.OPEN else 0

    def is_open(self, now: datetime) -> bool:
        return self.status is GroupStatus.OPEN and now < self.expires_at
