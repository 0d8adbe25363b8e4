"""What the points ledger and services are given."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.clock import Clock
from domain.events import EventHandlers
from domain.loyalty.model import PointsPolicy
from domain.uow import UnitOfWorkFactory


@dataclass(frozen=True)
class LoyaltyDeps:
    uow: UnitOfWorkFactory
    clock: Clock
    policy: PointsPolicy = field(default_factory=PointsPolicy)
    events: EventHandlers = field(default_factory=EventHandlers)
