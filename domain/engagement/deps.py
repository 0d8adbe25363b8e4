"""What the engagement services are given: `FactsDeps` (tags, member facts and RFM),
`MetricsDeps` (metrics and cohorts), `AutomationDeps` (automations: grants go through
promotions' coupons and loyalty's points, messages through the outbox), `SegmentDeps`
(segments)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from domain.clock import Clock
from domain.loyalty.deps import LoyaltyDeps
from domain.loyalty.model import PointsPolicy
from domain.members.deps import MemberDeps
from domain.promotions.deps import CouponDeps
from domain.uow import UnitOfWorkFactory


@dataclass(frozen=True)
class FactsDeps:
    uow: UnitOfWorkFactory
    clock: Clock
    batch_size: int = 500  # members per statement (and per transaction) of the rebuild
    cycle_every: timedelta = timedelta(hours=20)  # the job starts a new cycle this long after


@dataclass(frozen=True)
class MetricsDeps:
    """The numbers a brand runs on: metrics and cohorts (read through `uow.metrics`)."""

    uow: UnitOfWorkFactory
    clock: Clock  # cohorts: which months have begun


@dataclass(frozen=True)
class AutomationPolicy:
    batch: int = 500  # sends claimed per transaction, members scanned per statement
    max_batches: int = 200  # per job run, of the scans and of the due sends (the next run goes on)
    scan_seconds: float = 120.0  # of a run's scan triggers' sweeps (the due sends get the rest)
    run_seconds: float = 240.0  # a whole run, scans and sends: no batch begins after (arq: 300 s)
    dry_run_limit: int = 10_000  # pending sends a dry run of an event trigger looks at
    paused: bool = False  # AUTOMATIONS_PAUSED: the job does nothing (every automation waits)


@dataclass(frozen=True)
class AutomationDeps:
    uow: UnitOfWorkFactory
    clock: Clock
    coupons: CouponDeps
    loyalty: LoyaltyDeps
    policy: AutomationPolicy = AutomationPolicy()


@dataclass(frozen=True)
class SegmentDeps:
    """Segments: rules are read against today's tiers (loyalty's policy)."""

    uow: UnitOfWorkFactory
    clock: Clock
    members: MemberDeps  # the PII access log of the CSV export
    loyalty_policy: PointsPolicy = field(default_factory=PointsPolicy)
    export_batch: int = 100  # members per page (and per transaction) of the CSV export
