"""What the growth services are given: `AssistDeps` (friend-assist), `GroupBuyDeps`
(group-buys), `ReferralDeps` (referrals), `GuideDeps` (shopping-guide attribution). Rewards
go through promotions' coupons and loyalty's points, each with its own deps; a group-buy
seat is an order, placed, paid and cancelled by ordering."""

from __future__ import annotations

from dataclasses import dataclass

from domain.clock import Clock
from domain.live import LiveEvents
from domain.loyalty.deps import LoyaltyDeps
from domain.ordering.deps import OrderingDeps
from domain.promotions.deps import CouponDeps
from domain.uow import UnitOfWorkFactory


@dataclass(frozen=True)
class AssistPolicy:
    batch: int = 500  # tasks per expiry run
    my_tasks: int = 50  # the newest tasks `me { assistTasks }` lists


@dataclass(frozen=True)
class AssistDeps:
    uow: UnitOfWorkFactory
    clock: Clock
    coupons: CouponDeps
    loyalty: LoyaltyDeps
    policy: AssistPolicy = AssistPolicy()


@dataclass(frozen=True)
class GroupBuyDeps:
    uow: UnitOfWorkFactory
    clock: Clock
    ordering: OrderingDeps  # each seat is an order placed, paid and cancelled by ordering
    live: LiveEvents
    batch: int = 200  # groups or orders per run of the failure job


@dataclass(frozen=True)
class ReferralDeps:
    uow: UnitOfWorkFactory
    clock: Clock
    key: bytes  # derives members' codes and hashes device fingerprints
    loyalty: LoyaltyDeps  # points rewards (credited and reversed with keys)
    coupons: CouponDeps  # coupon rewards (granted with keys)


@dataclass(frozen=True)
class GuideDeps:
    uow: UnitOfWorkFactory
    clock: Clock
    key: bytes  # derives guides' codes
