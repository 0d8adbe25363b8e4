"""What the promotions services are given: `FlashSaleDeps` (flash sales)."""

from __future__ import annotations

from dataclasses import dataclass

from domain.clock import Clock
from domain.uow import UnitOfWorkFactory


@dataclass(frozen=True)
class FlashSaleDeps:
    uow: UnitOfWorkFactory
    clock: Clock
