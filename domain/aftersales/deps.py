"""What the after-sales services are given."""

from __future__ import annotations

from dataclasses import dataclass

from domain.clock import Clock
from domain.members.ports import PiiVault
from domain.uow import UnitOfWorkFactory


@dataclass(frozen=True)
class DeskDeps:
    """The customer-service desk: notes and invoice requests (invoice details are encrypted
    with the PII vault, under a key of each request's own)."""

    uow: UnitOfWorkFactory
    clock: Clock
    vault: PiiVault
