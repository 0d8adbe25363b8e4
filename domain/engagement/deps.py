"""What the engagement services are given: `AutomationDeps` (automations). Grants go through
promotions' coupons and loyalty's points, messages through the outbox."""

from __future__ import annotations

from dataclasses import dataclass

from domain.clock import Clock
from domain.loyalty.deps import LoyaltyDeps
from domain.promotions.deps import CouponDeps
from domain.uow import UnitOfWorkFactory


@dataclass(frozen=True)
class AutomationPolicy:
    batch: int = 500  # sends claimed per transaction, members scanned per statement
    max_batches: int = 200  # per job run (bounded work; the next run goes on)
    dry_run_limit: int = 10_000  # pending sends a dry run of an event trigger looks at
    paused: bool = False  # AUTOMATIONS_PAUSED: the job does nothing (every automation waits)


@dataclass(frozen=True)
class AutomationDeps:
    uow: UnitOfWorkFactory
    clock: Clock
    coupons: CouponDeps
    loyalty: LoyaltyDeps
    policy: AutomationPolicy = AutomationPolicy()
