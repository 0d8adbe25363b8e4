"""What the after-sales services are given."""

from __future__ import annotations

from dataclasses import dataclass

from domain.clock import Clock
from domain.members.deps import MemberDeps
from domain.members.ports import PiiVault
from domain.subscriptions.deps import SubscriptionDeps
from domain.uow import UnitOfWorkFactory


@dataclass(frozen=True)
class DeskDeps:
    """The customer-service desk: notes and invoice requests (invoice details are encrypted
    with the PII vault, under a key of each request's own), and acting for a member through
    the members' and subscriptions' own `*_in_uow` services."""

    uow: UnitOfWorkFactory
    clock: Clock
    vault: PiiVault
    members: MemberDeps
    subscriptions: SubscriptionDeps
