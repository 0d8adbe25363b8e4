"""What the growth services are given: `ReferralDeps` (referrals)."""

from __future__ import annotations

from dataclasses import dataclass

from domain.clock import Clock
from domain.loyalty.deps import LoyaltyDeps
from domain.promotions.deps import CouponDeps
from domain.uow import UnitOfWorkFactory


@dataclass(frozen=True)
class ReferralDeps:
    uow: UnitOfWorkFactory
    clock: Clock
    key: bytes  # derives members' codes and hashes device fingerprints
    loyalty: LoyaltyDeps  # points rewards (credited and reversed with keys)
    coupons: CouponDeps  # coupon rewards (granted with keys)
