"""What the growth services are given: `GroupBuyDeps` (group-buys)."""

from __future__ import annotations

from dataclasses import dataclass

from domain.clock import Clock
from domain.live import LiveEvents
from domain.ordering.deps import OrderingDeps
from domain.uow import UnitOfWorkFactory


@dataclass(frozen=True)
class GroupBuyDeps:
    uow: UnitOfWorkFactory
    clock: Clock
    ordering: OrderingDeps  # each seat is an order placed, paid and cancelled by ordering
    live: LiveEvents
    batch: int = 200  # groups or orders per run of the failure job
