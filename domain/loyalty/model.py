"""Points accounts, the immutable entry ledger, lots with expiry, holds, and tiers."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from uuid import UUID
from zoneinfo import ZoneInfo

MAX_POINTS = 100_000_000


class EntryKind(StrEnum):
    EARN = "EARN"
    REDEEM = "REDEEM"
    HOLD = "HOLD"
    RELEASE = "RELEASE"
    EXPIRE = "EXPIRE"
    REVERSE = "REVERSE"
    ADJUST = "ADJUST"
    CHECK_IN = "CHECK_IN"
    MERGE_IN = "MERGE_IN"
    MERGE_OUT = "MERGE_OUT"
    REWARD = "REWARD"  # growth's rewards (friend-assist, referrals), once per key


class ClaimState(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


class HoldState(StrEnum):
    OPEN = "OPEN"
    POSTED = "POSTED"
    RELEASED = "RELEASED"
    REVERSED = "REVERSED"


@dataclass
class Account:
    """balance = sum of entry amounts = sum of lot points (spendable + held) - debt.
    held = sum of open holds. A reversal of points already spent leaves a debt (the
    balance may go below zero); later earnings pay it off first."""

    member_id: UUID
    balance: int
    held: int
    debt: int
    growth_value: int  # qualifying spend in fen over the rolling window
    tier: str

    @property
    def available(self) -> int:
        return max(0, self.balance - self.held)


@dataclass(frozen=True)
class Entry:
    id: UUID
    member_id: UUID
    kind: EntryKind
    amount: int  # signed change of the balance (holds and releases change `held` only: 0)
    held_change: int
    balance_after: int
    held_after: int
    source: str  # "order:<id>", "checkin:<date>", "cs:<ticket>", "merge:<id>", ...
    actor: str
    reason: str
    idempotency_key: str
    created_at: datetime


@dataclass
class Lot:
    id: UUID
    member_id: UUID
    amount: int
    remaining: int  # spendable
    held: int  # earmarked by open holds
    earned_at: datetime
    expires_at: datetime
    source: str


@dataclass
class Hold:
    id: UUID
    member_id: UUID
    owner: str
    amount: int
    state: HoldState
    allocations: dict[UUID, int]  # lot id -> points earmarked (restored on reversal)
    created_at: datetime


@dataclass
class PointsClaim:
    """Points of a till sale above the per-sale cap: they wait, and neither points nor growth
    count, until a store manager of that store or a CS agent approves (or rejects) them."""

    id: UUID
    member_id: UUID
    location_id: UUID
    reference: str  # "pos:<location>:<till transaction>", the earn entry's source
    paid: int  # fen the till recorded as paid
    points: int  # what the sale would earn at the member's tier when it was recorded
    state: ClaimState
    created_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str = ""


@dataclass(frozen=True)
class Tier:
    name: str
    threshold: int  # growth value (fen of qualifying spend) needed
    multiplier_bps: int  # points multiplier in basis points: 12_000 is x1.2 (no floats)


BPS = 10_000  # basis points in one
DEFAULT_TIERS = (
    Tier("MEMBER", 0, 10_000),
    Tier("SILVER", 100_000, 12_000),
    Tier("GOLD", 500_000, 15_000),
    Tier("DIAMOND", 1_500_000, 20_000),
)


@dataclass(frozen=True)
class PointsPolicy:
    points_per_yuan: int = 1  # earned per yuan paid, before the tier multiplier
    points_per_yuan_redeemed: int = 100  # 100 points pay 1 yuan
    max_redeem_bps: int = 5_000  # at most half of an order paid with points
    check_in_points: int = 10
    expiry_months: int = 12
    growth_window: timedelta = timedelta(days=365)
    tiers: tuple[Tier, ...] = DEFAULT_TIERS
    timezone: str = "Asia/Shanghai"
    expiring_soon: timedelta = timedelta(days=30)
    till_points_cap: int = 5_000  # a till sale earning more waits for approval (PointsClaim)

    def tier_of(self, account: Account | None) -> str:
        """A member's tier, wherever it is shown: its account's (the one its purchases earn
        at, moved by `recompute_tier`), or the first tier while it has no account."""
        return account.tier if account is not None else self.tiers[0].name

    def tier_for(self, growth_value: int) -> Tier:
        reached = [t for t in self.tiers if growth_value >= t.threshold]
        return max(reached, key=lambda t: t.threshold) if reached else self.tiers[0]

    def next_tier(self, growth_value: int) -> Tier | None:
        above = [t for t in self.tiers if t.threshold > growth_value]
        return min(above, key=lambda t: t.threshold) if above else None

    def multiplier(self, tier: str) -> int:
        return next((t.multiplier_bps for t in self.tiers if t.name == tier), BPS)

    def earned_for(self, paid_fen: int, tier: str) -> int:
        """Points for a hand-over: per whole yuan, times the tier multiplier, rounded down in
        integers (x1.15 of 100 yuan is 115, not float's 114), at most MAX_POINTS."""
        return min(
            MAX_POINTS, (paid_fen // 100) * self.points_per_yuan * self.multiplier(tier) // BPS
        )

    def value_of(self, points: int) -> int:
        """Fen that `points` pay for."""
        return points * 100 // self.points_per_yuan_redeemed

    def expiry_for(self, earned_at: datetime) -> datetime:
        """End of the month, `expiry_months` after earning, in the brand's time zone."""
        local = earned_at.astimezone(ZoneInfo(self.timezone))
        month_index = local.month - 1 + self.expiry_months
        year, month = local.year + month_index // 12, month_index % 12 + 1
        last_day = calendar.monthrange(year, month)[1]
        end = datetime.combine(
            local.date().replace(year=year, month=month, day=last_day),
            time(23, 59, 59),
            tzinfo=ZoneInfo(self.timezone),
        )
        return end.astimezone(UTC)


@dataclass(frozen=True)
class LedgerChange:
    """What one operation did, for its result and its tests."""

    entries: list[Entry] = field(default_factory=list)
    account: Account | None = None
