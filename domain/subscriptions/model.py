"""Plans, subscriptions, their renewal cycles and history, and the calendar arithmetic."""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from uuid import UUID

from domain.errors import SubscriptionError, SubscriptionErrorCode
from domain.inventory.model import StockLine

MAX_LINE_QUANTITY = 99


class IntervalUnit(StrEnum):
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"


class SubscriptionStatus(StrEnum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    CANCELLED = "CANCELLED"
    PAST_DUE = "PAST_DUE"


class CycleStatus(StrEnum):
    PENDING = "PENDING"  # claimed; the order is being made
    ORDERED = "ORDERED"  # order placed, payment failed: retried on a schedule
    PAID = "PAID"
    SKIPPED = "SKIPPED"  # by the member
    SHORT = "SHORT"  # stock shortfall: skipped by policy, member told
    FAILED = "FAILED"  # payment failed for good: subscription paused


@dataclass(frozen=True)
class Interval:
    unit: IntervalUnit
    count: int

    def __post_init__(self) -> None:
        limit = {IntervalUnit.DAY: 90, IntervalUnit.WEEK: 12, IntervalUnit.MONTH: 12}[self.unit]
        if not 1 <= self.count <= limit:
            raise SubscriptionError(
                SubscriptionErrorCode.INVALID_INPUT,
                f"Every 1 to {limit} {self.unit.value.lower()}s.",
                ["interval"],
            )

    def after(self, anchor: date, cycles: int) -> date:
        """The date `cycles` intervals after `anchor`; months keep the anchor's day where the
        month has it (Jan 31 -> Feb 28/29 -> Mar 31)."""
        if self.unit is IntervalUnit.DAY:
            return anchor + timedelta(days=self.count * cycles)
        if self.unit is IntervalUnit.WEEK:
            return anchor + timedelta(weeks=self.count * cycles)
        months = anchor.month - 1 + self.count * cycles
        year, month = anchor.year + months // 12, months % 12 + 1
        return date(year, month, min(anchor.day, calendar.monthrange(year, month)[1]))


@dataclass
class Plan:
    """A plan is charged per cycle through a payment agreement, or prepaid (周期购): the member
    pays `prepaid_deliveries` deliveries up front with the first order."""

    id: UUID
    name: str
    variant_ids: list[UUID]
    interval: Interval
    discount_percent: int  # 0-50, applied to the catalog price at sign-up
    min_cycles: int
    active: bool
    created_at: datetime
    prepaid_deliveries: int = 0  # 0: charged per cycle through the agreement; N: paid up front

    @property
    def prepaid(self) -> bool:
        return self.prepaid_deliveries > 0


@dataclass(frozen=True)
class SubscriptionLine:
    variant_id: UUID
    quantity: int
    unit_price: int  # fen, locked at sign-up


@dataclass
class Subscription:
    id: UUID
    member_id: UUID
    plan_id: UUID
    lines: list[SubscriptionLine]
    interval: Interval
    anchor_date: date  # the first delivery; later dates count intervals from it
    next_date: date  # store-local date of the next delivery
    cycles_done: int  # scheduled dates passed since the anchor (the schedule's position)
    sequence: int  # cycles processed in the subscription's life (numbers its cycles)
    status: SubscriptionStatus
    pickup_location_id: UUID | None
    delivery_address: str | None  # encrypted under the member's key
    delivery_latitude: float | None
    delivery_longitude: float | None
    payment_agreement: str
    timezone: str
    created_at: datetime
    updated_at: datetime
    paused_until: date | None = None
    cancel_reason: str | None = None
    failed_attempts: int = 0
    next_retry_at: datetime | None = None
    # 周期购: N deliveries paid up front by the first order (cycle 1's, `prepayment_order_id`,
    # N x `total`); each delivered cycle uses one (`prepaid_used`), skipped ones none.
    prepaid_deliveries: int = 0
    prepaid_used: int = 0
    prepayment_order_id: UUID | None = None

    @property
    def total(self) -> int:
        return sum(line.unit_price * line.quantity for line in self.lines)

    @property
    def prepaid(self) -> bool:
        return self.prepaid_deliveries > 0

    @property
    def prepaid_left(self) -> int:
        return self.prepaid_deliveries - self.prepaid_used


@dataclass
class Cycle:
    id: UUID
    subscription_id: UUID
    number: int
    scheduled_date: date
    status: CycleStatus
    order_id: UUID | None
    attempts: int
    note: str
    created_at: datetime
    updated_at: datetime
    location_id: UUID | None = None  # where its order is fulfilled (the store's queue)


@dataclass(frozen=True)
class SubscriptionChange:
    id: UUID
    subscription_id: UUID
    what: str
    detail: str
    actor: str
    at: datetime


@dataclass(frozen=True)
class RenewalPolicy:
    lead_time: timedelta = timedelta(days=2)  # order this long before the delivery date
    reminder_before: timedelta = timedelta(days=3)
    reschedule_window_days: int = 3
    max_days_ahead: int = 366  # a first delivery or a pause end at most this far ahead
    retry_delays: tuple[timedelta, ...] = field(
        default=(timedelta(hours=1), timedelta(days=1), timedelta(days=3))
    )
    max_lines: int = 20


def clean_signup_lines(lines: Sequence[StockLine], max_lines: int) -> dict[UUID, int]:
    """What a member subscribes to, by variant: 1 to `max_lines` lines (more is TOO_MANY_ITEMS,
    the code of every over-long list), each 1 to MAX_LINE_QUANTITY units, each variant once;
    errors name the line by its index."""
    if not lines:
        raise SubscriptionError(
            SubscriptionErrorCode.INVALID_INPUT, "Subscribe to at least one line.", ["lines"]
        )
    if len(lines) > max_lines:
        raise SubscriptionError(
            SubscriptionErrorCode.TOO_MANY_ITEMS, f"At most {max_lines} lines.", ["lines"]
        )
    chosen: dict[UUID, int] = {}
    for index, line in enumerate(lines):
        if not 1 <= line.quantity <= MAX_LINE_QUANTITY:
            raise SubscriptionError(
                SubscriptionErrorCode.INVALID_INPUT,
                f"Quantities are 1 to {MAX_LINE_QUANTITY}.",
                ["lines", str(index), "quantity"],
            )
        if line.variant_id in chosen:
            raise SubscriptionError(
                SubscriptionErrorCode.INVALID_INPUT,
                "Each variant once; add the quantities up.",
                ["lines", str(index), "variantId"],
            )
        chosen[line.variant_id] = line.quantity
    return chosen
