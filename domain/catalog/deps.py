"""What the catalog's services are given."""

from __future__ import annotations

from dataclasses import dataclass

from domain.clock import Clock
from domain.uow import UnitOfWorkFactory


@dataclass(frozen=True)
class CatalogDeps:
    uow: UnitOfWorkFactory
    clock: Clock
