"""What the promotions services are given: `CouponDeps` (coupon templates and coupons),
`FlashSaleDeps` (flash sales), `MemberPriceDeps` (member prices)."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.clock import Clock
from domain.identity.ports import RateLimiter
from domain.loyalty.model import PointsPolicy
from domain.ordering.model import SalesChannel
from domain.uow import UnitOfWorkFactory


@dataclass(frozen=True)
class CouponPolicy:
    code_attempts: int = 10  # wrong redemption codes per member per window
    code_window_seconds: int = 3600
    channels: tuple[str, ...] = tuple(c.value for c in SalesChannel)
    batch: int = 500  # coupons per expiry or reminder run


@dataclass(frozen=True)
class CouponDeps:
    uow: UnitOfWorkFactory
    clock: Clock
    limiter: RateLimiter
    policy: CouponPolicy = field(default_factory=CouponPolicy)


@dataclass(frozen=True)
class FlashSaleDeps:
    uow: UnitOfWorkFactory
    clock: Clock


@dataclass(frozen=True)
class MemberPriceDeps:
    uow: UnitOfWorkFactory
    clock: Clock
    policy: PointsPolicy  # loyalty's: the tiers a price may name
