"""Member facts: one row per member, one typed column per fact, so that a segment's rule
(`last_order_days > 60 AND orders_365 >= 2`) compiles to SQL over the table. Orders count when
paid and neither cancelled, unclaimed nor fully refunded; spend is what they brought in money
(total less points, less refunds not failed), in fen. Windows of 30/90/365 days end at the
moment of the computation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from domain.locations.model import Location, local_date

WINDOWS = (30, 90, 365)

# Facts an automatic tag's rule (and later a segment's) may compare with a whole number.
RULE_FACTS = (
    "orders_30",
    "orders_90",
    "orders_365",
    "spend_30",
    "spend_90",
    "spend_365",
    "avg_order_value",
    "points_balance",
    "referrals_count",
    "group_buys_count",
    "r_score",
    "f_score",
    "m_score",
)


@dataclass(frozen=True)
class MemberFacts:
    member_id: UUID
    first_order_at: datetime | None
    last_order_at: datetime | None
    orders_30: int
    orders_90: int
    orders_365: int
    spend_30: int
    spend_90: int
    spend_365: int
    avg_order_value: int  # spend_365 / orders_365, 0 without orders
    preferred_store_id: UUID | None  # most orders in 365 days (then the latest)
    preferred_channel: str | None
    tier: str | None
    points_balance: int
    birthday: str | None  # "MM-DD" (members' Birthday), if the member gave it
    marketing_sms: bool  # the member's latest consent record for the purpose
    marketing_wechat: bool
    referrals_count: int  # invitations rewarded as referrer
    group_buys_count: int  # group-buy seats paid
    r_score: int | None  # RFM, 1-5 (None: no order in 365 days, or not scored yet)
    f_score: int | None
    m_score: int | None
    rfm_segment: str | None
    updated_at: datetime

    def last_order_days(self, now: datetime, store: Location | None) -> int | None:
        """Days since the last order on the wall clock of the member's preferred store
        (Asia/Shanghai when none): an order at 23:30 was yesterday at 00:30. Computed at read,
        never stale."""
        if self.last_order_at is None:
            return None
        return max((local_date(now, store) - local_date(self.last_order_at, store)).days, 0)


@dataclass(frozen=True)
class Cutoffs:
    """The starts of the 30/90/365-day windows ending at `now`."""

    now: datetime
    d30: datetime
    d90: datetime
    d365: datetime

    @classmethod
    def at(cls, now: datetime) -> Cutoffs:
        return cls(now, *(now - timedelta(days=d) for d in WINDOWS))


@dataclass(frozen=True)
class RebuildCycle:
    """One pass of the rebuild over every active member: its batches take their cutoffs at
    `started_at` (a resumed cycle computes what an uncut one would), `cursor` is the last
    member id refreshed (None before the first batch), `finished_at` None while it runs."""

    started_at: datetime
    cursor: UUID | None
    finished_at: datetime | None

    def is_due(self, now: datetime, every: timedelta) -> bool:
        """Whether the job's call should start a new cycle (this one is finished and old)."""
        return self.finished_at is not None and now - self.started_at >= every


@dataclass(frozen=True)
class RebuildBudget:
    """How much of a cycle one call may do (the job's: arq cancels it at 300 s). Counted before
    each step, a batch or the scoring after the last one: a step begun within the budget runs
    to its end."""

    seconds: float | None = 240.0  # by the deps' clock since the call began
    max_steps: int | None = None  # tests cut a cycle after a number of steps

    def spent(self, elapsed: timedelta, steps: int) -> bool:
        return (self.seconds is not None and elapsed.total_seconds() >= self.seconds) or (
            self.max_steps is not None and steps >= self.max_steps
        )
