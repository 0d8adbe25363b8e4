"""What the ordering use cases are given: ports, the deps of the contexts they call, the policy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from domain.aftersales.deps import MemberCodeDeps
from domain.clock import Clock
from domain.events import EventHandlers
from domain.identity.ports import RateLimiter
from domain.inventory.deps import InventoryDeps
from domain.live import LiveEvents
from domain.loyalty.deps import LoyaltyDeps
from domain.members.ports import PiiVault
from domain.ordering.hot_rows import HotRowGate
from domain.ordering.ports import CodeSigner, PaymentProvider, RefundGateway
from domain.ordering.reconcile import BillSource
from domain.uow import UnitOfWorkFactory


@dataclass(frozen=True)
class OrderPolicy:
    payment_timeout: timedelta = timedelta(minutes=15)
    pickup_window: timedelta = timedelta(days=3)
    reminder_before: timedelta = timedelta(hours=24)
    wrong_codes_per_store: int = 20
    wrong_code_window_seconds: int = 300
    alternatives: int = 5


@dataclass(frozen=True)
class OrderingDeps:
    uow: UnitOfWorkFactory
    clock: Clock
    inventory: InventoryDeps
    payments: Mapping[str, PaymentProvider]
    limiter: RateLimiter
    signer: CodeSigner
    vault: PiiVault
    live: LiveEvents
    loyalty: LoyaltyDeps
    member_codes: MemberCodeDeps  # a till order with a member code spends the member's points
    policy: OrderPolicy = field(default_factory=OrderPolicy)
    refunds: Mapping[str, RefundGateway] = field(default_factory=dict)  # by provider name
    events: EventHandlers = field(default_factory=EventHandlers)  # RefundCompleted
    # At most 4 checkouts of one SKU at one store at once in this process (hot_rows.py).
    hot_rows: HotRowGate = field(default_factory=HotRowGate)
    reads: UnitOfWorkFactory | None = None  # no transaction: the checkout quote's reads


@dataclass(frozen=True)
class ReconciliationDeps:
    """What reconciling a provider's bill (domain/ordering/reconcile.py) is given."""

    uow: UnitOfWorkFactory
    clock: Clock
    bills: Mapping[str, BillSource]  # by provider name: those that publish a bill
