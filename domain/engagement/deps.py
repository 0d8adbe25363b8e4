"""What the engagement use cases need (their *Deps bundles), as every context keeps them."""

from __future__ import annotations

from dataclasses import dataclass

from domain.clock import Clock
from domain.uow import UnitOfWorkFactory


@dataclass(frozen=True)
class MetricsDeps:
    """The numbers a brand runs on: metrics and cohorts (read through `uow.metrics`)."""

    uow: UnitOfWorkFactory
    clock: Clock  # cohorts: which months have begun
