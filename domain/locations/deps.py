"""What the location services are given."""

from __future__ import annotations

from dataclasses import dataclass

from domain.clock import Clock
from domain.uow import UnitOfWorkFactory


@dataclass(frozen=True)
class LocationDeps:
    uow: UnitOfWorkFactory
    clock: Clock
