"""The numbers a brand runs on: periods cut on the stores' wall clock, the figures of each
period, and the rates derived from them (basis points, never floats)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from uuid import UUID
from zoneinfo import ZoneInfo

from domain.ordering.model import SalesChannel

BP = 10_000  # a share of 1 in basis points


class Granularity(StrEnum):
    DAY = "DAY"
    WEEK = "WEEK"  # Monday to Sunday, the first and last cut at the range's ends
    MONTH = "MONTH"


# The longest range each granularity reads, in days: a year by day, two by week, three by month.
MAX_DAYS = {Granularity.DAY: 366, Granularity.WEEK: 731, Granularity.MONTH: 1096}


@dataclass(frozen=True)
class Scope:
    """Which orders count: one store's or all, one channel's or all."""

    store_id: UUID | None = None
    channel: SalesChannel | None = None


@dataclass(frozen=True)
class Window:
    """[start, end) in UTC: the instants of a period of store-local days."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class Period:
    first_day: date
    last_day: date  # inclusive

    def days(self) -> list[date]:
        return [
            self.first_day + timedelta(days=n)
            for n in range((self.last_day - self.first_day).days + 1)
        ]

    def window(self, zone: ZoneInfo) -> Window:
        start = datetime.combine(self.first_day, time(), zone)
        end = datetime.combine(self.last_day + timedelta(days=1), time(), zone)
        return Window(start.astimezone(UTC), end.astimezone(UTC))


def periods(first: date, last: date, granularity: Granularity) -> list[Period]:
    """[first, last] cut into days, weeks (Monday-Sunday) or calendar months."""
    found: list[Period] = []
    day = first
    while day <= last:
        if granularity is Granularity.DAY:
            following = day + timedelta(days=1)
        elif granularity is Granularity.WEEK:
            following = day + timedelta(days=7 - day.weekday())
        else:
            following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
        found.append(Period(day, min(following - timedelta(days=1), last)))
        day = following
    return found


@dataclass(frozen=True)
class Figures:
    """What happened in one period (the read model's answer). Money in fen."""

    orders: int = 0  # paid, not cancelled nor unclaimed, by the time they were paid
    gmv: int = 0  # what those orders brought in money (points excluded), less refunds
    new_members: int = 0  # members whose first such order ever is in the period
    active_members: int = 0  # members with at least one such order
    repeat_members: int = 0  # members with two or more
    coupons_used: int = 0
    coupon_orders: int = 0
    coupon_gmv: int = 0
    handovers: int = 0  # pickup orders picked up in the period
    handover_median_seconds: int | None = None  # paid -> picked up
    handover_p90_seconds: int | None = None
    handed_over: int = 0  # orders picked up or delivered in the period
    with_after_sale: int = 0  # of those, orders with an after-sale request
    subscriptions_active: int = 0  # active at the period's start
    subscriptions_churned: int = 0  # of those, cancelled in the period

    @property
    def average_order_value(self) -> int:
        return self.gmv // self.orders if self.orders else 0

    @property
    def repurchase_rate_bp(self) -> int:
        return share_bp(self.repeat_members, self.active_members)

    @property
    def subscription_churn_bp(self) -> int:
        return share_bp(self.subscriptions_churned, self.subscriptions_active)

    @property
    def after_sales_rate_bp(self) -> int:
        return share_bp(self.with_after_sale, self.handed_over)


def share_bp(part: int, whole: int) -> int:
    """part / whole in basis points, rounded half up; 0 of nothing is 0."""
    return (part * BP * 2 + whole) // (whole * 2) if whole else 0


Histogram = list[tuple[int, int]]  # (whole seconds, how many), by seconds ascending


def percentile_ranks(total: int, per_cent: int) -> tuple[int, int]:
    """The 0-based ranks (of `total` values in order) that PostgreSQL's `percentile_cont`
    interpolates between for `per_cent`; in whole numbers, so SQL computes the same."""
    low = per_cent * (total - 1) // 100
    return low, min(low + 1, total - 1)


def interpolate(below: int, above: int, total: int, per_cent: int) -> int:
    """`percentile_cont`'s answer from the values at the two ranks, rounded to the second."""
    part = per_cent * (total - 1) % 100
    return round(below + (above - below) * part / 100)


def percentile_of_histogram(histogram: Histogram, per_cent: int) -> int | None:
    """PostgreSQL's `percentile_cont(per_cent / 100)` over the values the histogram counts
    (linear interpolation between the closest ranks), rounded to the second; None of none."""
    total = sum(count for _, count in histogram)
    if not total:
        return None

    def at(index: int) -> int:
        seen = 0
        for value, count in histogram:
            seen += count
            if index < seen:
                return value
        return histogram[-1][0]

    low, high = percentile_ranks(total, per_cent)
    return interpolate(at(low), at(high), total, per_cent)


@dataclass(frozen=True)
class Bucket:
    period: Period
    figures: Figures


@dataclass(frozen=True)
class Metrics:
    first_day: date
    last_day: date
    granularity: Granularity
    timezone: str
    scope: Scope
    buckets: list[Bucket]
    total: Figures  # the whole range as one period
