"""What the subscription services and the renewal engine are given."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.clock import Clock
from domain.events import EventHandlers
from domain.members.ports import PiiVault
from domain.ordering.deps import OrderingDeps
from domain.subscriptions.model import RenewalPolicy
from domain.subscriptions.ports import AgreementPayments
from domain.uow import UnitOfWorkFactory


@dataclass(frozen=True)
class SubscriptionDeps:
    uow: UnitOfWorkFactory
    clock: Clock
    ordering: OrderingDeps
    agreements: AgreementPayments
    vault: PiiVault
    events: EventHandlers
    policy: RenewalPolicy = field(default_factory=RenewalPolicy)
