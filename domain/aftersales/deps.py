"""What the after-sales use cases are given: the ordering deps (refunds, stock, points)."""

from __future__ import annotations

from dataclasses import dataclass

from domain.clock import Clock
from domain.ordering.deps import OrderingDeps
from domain.uow import UnitOfWorkFactory


@dataclass(frozen=True)
class AfterSaleDeps:
    uow: UnitOfWorkFactory
    clock: Clock
    ordering: OrderingDeps
