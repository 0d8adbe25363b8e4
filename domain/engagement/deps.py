"""What the engagement services are given: `FactsDeps` (tags, member facts and RFM)."""

from __future__ import annotations

from dataclasses import dataclass

from domain.clock import Clock
from domain.uow import UnitOfWorkFactory


@dataclass(frozen=True)
class FactsDeps:
    uow: UnitOfWorkFactory
    clock: Clock
    batch_size: int = 500  # members per statement of the nightly rebuild
