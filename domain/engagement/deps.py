"""What the engagement services are given: `FactsDeps` (tags, member facts and RFM),
`MetricsDeps` (metrics and cohorts)."""

from __future__ import annotations

from dataclasses import dataclass

from domain.clock import Clock
from domain.uow import UnitOfWorkFactory


@dataclass(frozen=True)
class FactsDeps:
    uow: UnitOfWorkFactory
    clock: Clock
    batch_size: int = 500  # members per statement of the nightly rebuild


@dataclass(frozen=True)
class MetricsDeps:
    """The numbers a brand runs on: metrics and cohorts (read through `uow.metrics`)."""

    uow: UnitOfWorkFactory
    clock: Clock  # cohorts: which months have begun
