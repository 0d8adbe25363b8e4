"""What the engagement services are given: `MetricsDeps` (the numbers a brand runs on)."""

from __future__ import annotations

from dataclasses import dataclass

from domain.clock import Clock
from domain.uow import UnitOfWorkFactory


@dataclass(frozen=True)
class MetricsDeps:
    uow: UnitOfWorkFactory
    clock: Clock
