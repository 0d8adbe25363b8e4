"""A shop that sells subscriptions, driven through the domain's services on the test database:
plans, members, renewals, and what they ordered and charged."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from uuid import UUID, uuid4

from domain.catalog.services import ProductDraft, VariantDraft, create_product
from domain.identity.model import Principal, PrincipalKind, StaffRole
from domain.ids import new_id
from domain.inventory.model import MovementKind, StockLine
from domain.inventory.reservations import sweep_expired
from domain.inventory.stock import Adjustment, adjust
from domain.members.login import login_with_wechat
from domain.members.services import member_principal
from domain.ordering.lifecycle import (
    cancel_unpaid,
)
from domain.ordering.model import Order
from domain.outbox import OutboxMessage
from domain.pagination import PageRequest
from domain.subscriptions import plans, renewals, services
from domain.subscriptions.deps import SubscriptionDeps
from domain.subscriptions.model import (
    Cycle,
    Interval,
    IntervalUnit,
    Plan,
    Subscription,
)
from infra.runtime import Runtime
from tests.support import MovableClock

ADMIN = Principal(kind=PrincipalKind.STAFF, id=new_id(), role=StaffRole.ADMIN)
CS = Principal(kind=PrincipalKind.STAFF, id=new_id(), role=StaffRole.CS_AGENT)
WEEKLY = Interval(IntervalUnit.WEEK, 1)
MONTHLY = Interval(IntervalUnit.MONTH, 1)
PRICE = 5000  # fen, the catalog price
LOCKED = 4500  # with the plan's 10 % discount
QUANTITY = 2
ADDRESS = "88 Nanjing East Rd, Shanghai"


@dataclass
class Shop:
    runtime: Runtime
    clock: MovableClock
    stores: dict[str, Any]
    variant_id: UUID

    @property
    def deps(self) -> SubscriptionDeps:
        return self.runtime.subscriptions

    @property
    def store(self) -> UUID:
        store_id: UUID = self.stores["SH-A"].id
        return store_id


async def receive(shop: Shop, location_id: UUID, units: int) -> None:
    await adjust(
        shop.runtime.inventory,
        ADMIN,
        Adjustment(location_id, shop.variant_id, units, MovementKind.RECEIPT, "delivery"),
        None,
    )


async def open_shop(
    runtime: Runtime,
    clock: MovableClock,
    stores: dict[str, Any],
    *,
    stock: int = 500,
    code: str = "FB-1",
) -> Shop:
    product = await create_product(
        runtime.catalog,
        ProductDraft(name="Fruit box", variants=[VariantDraft(code=code, name="box", price=PRICE)]),
    )
    [variant] = await runtime.repos.catalog.variants_of([product.id])
    shop = Shop(runtime, clock, stores, variant.id)
    if stock:
        await receive(shop, shop.store, stock)
    return shop


async def a_member(runtime: Runtime, name: str) -> Principal:
    member, _, created = await login_with_wechat(runtime.members, "wx-demo", f"test:{name}")
    assert created
    return member_principal(member)


async def a_plan(shop: Shop, interval: Interval = WEEKLY, discount: int = 10) -> Plan:
    name = f"Fruit every {interval.count} {interval.unit.value.lower()}"
    return await plans.create_plan(shop.deps, name, [shop.variant_id], interval, discount, 0)


def agreement() -> str:
    """A fresh agreement: the payment fake lives as long as the test session."""
    return f"agreement-{uuid4().hex[:12]}"


async def subscribe(
    shop: Shop,
    member: Principal,
    plan: Plan,
    first: date,
    *,
    agreement_ref: str | None = None,
    delivery: bool = False,
) -> Subscription:
    signup = services.SignUp(
        plan.id,
        [StockLine(shop.variant_id, QUANTITY)],
        first,
        pickup_location_id=None if delivery else shop.store,
        delivery_address=ADDRESS if delivery else None,
        delivery_latitude=31.2397 if delivery else None,
        delivery_longitude=121.4998 if delivery else None,
        payment_agreement=agreement_ref or agreement(),
    )
    return await services.create_subscription(shop.deps, member, signup, f"signup-{uuid4()}")


async def renew(shop: Shop, runs: int = 2) -> None:
    for _ in range(runs):
        await renewals.renew_due(shop.deps)


async def production_sweeps(shop: Shop) -> None:
    """The ordering jobs that run beside the renewals in production."""
    await cancel_unpaid(shop.runtime.ordering)
    await sweep_expired(shop.runtime.inventory)


async def day_by_day(
    shop: Shop, until: date, *, runs: int = 2, reminders: bool = False, sweeps: bool = False
) -> None:
    """Advance one day at a time until the local date is `until`, running the jobs each day."""
    while shop.clock.today() < until:
        shop.clock.advance(timedelta(days=1))
        if sweeps:
            await production_sweeps(shop)
        if reminders:
            for _ in range(runs):
                await renewals.send_reminders(shop.deps)
        await renew(shop, runs)


async def current(shop: Shop, subscription_id: UUID) -> Subscription:
    found = await shop.runtime.repos.subscriptions.get(subscription_id)
    assert found is not None
    return found


async def cycles(shop: Shop, subscription_id: UUID) -> list[Cycle]:
    return await shop.runtime.repos.subscriptions.cycles_of([subscription_id])


async def orders_of(shop: Shop, member_id: UUID) -> list[Order]:
    page = await shop.runtime.repos.orders.search(PageRequest(first=100), member_id=member_id)
    return sorted(page.items, key=lambda o: o.created_at)


async def order(shop: Shop, order_id: UUID | None) -> Order:
    assert order_id is not None
    found = await shop.runtime.repos.orders.get(order_id)
    assert found is not None
    return found


def charges(shop: Shop, subscription_id: UUID) -> set[str]:
    """The idempotency keys the payment fake charged for this subscription."""
    charged: dict[str, str] = shop.runtime.agreements._charged  # the fake's own ledger
    return {key for key in charged if key.startswith(f"subscription:{subscription_id}:")}


async def agreement_payments(shop: Shop, order_ids: Sequence[UUID]) -> list[Any]:
    payments = await shop.runtime.repos.orders.payments_of(list(order_ids))
    return [p for p in payments if p.method == "AGREEMENT"]


async def messages(shop: Shop, member_id: UUID, kind: str) -> list[OutboxMessage]:
    page = await shop.runtime.repos.outbox.for_member(member_id, PageRequest(first=100))
    return sorted((m for m in page.items if m.kind == kind), key=lambda m: m.created_at)


async def history(shop: Shop, subscription_id: UUID) -> list[str]:
    changes = await shop.runtime.repos.subscriptions.changes_of([subscription_id])
    return [c.what for c in changes]


async def level(shop: Shop) -> tuple[int, int]:
    found = await shop.runtime.repos.inventory.level(shop.store, shop.variant_id)
    assert found is not None
    return found.on_hand, found.reserved
