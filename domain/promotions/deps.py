"""What the promotions use cases are given (one bundle per part: member prices here)."""

from __future__ import annotations

from dataclasses import dataclass

from domain.clock import Clock
from domain.loyalty.model import PointsPolicy
from domain.uow import UnitOfWorkFactory


@dataclass(frozen=True)
class MemberPriceDeps:
    uow: UnitOfWorkFactory
    clock: Clock
    policy: PointsPolicy  # loyalty's: the tiers a price may name
