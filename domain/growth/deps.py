"""What the growth services are given: `AssistDeps` (friend-assist). Rewards go through
promotions' coupons and loyalty's points, each with its own deps."""

from __future__ import annotations

from dataclasses import dataclass

from domain.clock import Clock
from domain.loyalty.deps import LoyaltyDeps
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
