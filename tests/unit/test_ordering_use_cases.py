"""Checkout and the order's life through the ordering use cases, over the in-memory fakes:
a short store refuses with the nearby stores that could cover the order and keeps nothing,
an idempotency key places one order, and a pickup order goes from placed to picked up (stock
committed, points held, spent and earned) or is cancelled (everything given back)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from domain.errors import OrderError, OrderErrorCode
from domain.identity.model import Principal
from domain.ids import new_id
from domain.inventory.model import ReservationState, StockLine
from domain.locations.model import Location
from domain.loyalty.model import EntryKind, HoldState
from domain.members.model import Channel, ConsentPurpose, ConsentRecord
from domain.ordering.checkout import Checkout, DeliveryTo, PickupShortage, place_order
from domain.ordering.deps import OrderingDeps
from domain.ordering.lifecycle import (
    cancel_order,
    complete_pickup,
    mark_ready,
    start_preparing,
)
from domain.ordering.model import Order, OrderStatus, SalesChannel
from domain.ordering.payments import record_in_store_payment
from tests.fakes.deps import ordering_deps
from tests.fakes.shop import FakeShop

PRICE = 1990


@pytest.fixture
def shop() -> FakeShop:
    return FakeShop()


@pytest.fixture
def deps(shop: FakeShop) -> OrderingDeps:
    return ordering_deps(shop.db, shop.clock)


def pickup(member: Principal, store: Location, *lines: StockLine, points: int = 0) -> Checkout:
    return Checkout(
        channel=SalesChannel.MINI_PROGRAM,
        lines=lines,
        member_id=member.id,
        pickup_location_id=store.id,
        points_to_redeem=points,
    )


def statuses(shop: FakeShop, order: Order) -> list[tuple[OrderStatus | None, OrderStatus]]:
    events = [e for e in shop.db.tables.order_events if e.order_id == order.id]
    return [(e.from_status, e.to_status) for e in events]


async def test_a_short_store_names_the_nearest_stores_that_can_cover_and_keeps_nothing(
    shop: FakeShop, deps: OrderingDeps
) -> None:
    here = shop.store("SH-A", 31.2304, 121.4737)
    far = shop.store("SH-C", 31.3800, 120.9800)  # made first: the answer is by distance
    near = shop.store("SH-B", 31.1880, 121.4365)
    short = shop.store("SH-D", 31.2000, 121.4500)
    mango, lime = shop.variant("M-1", PRICE), shop.variant("L-1", 500)
    shop.stock(here, mango, 5)  # the lime is missing here
    for store in (near, far):
        shop.stock(store, mango, 5)
        shop.stock(store, lime, 5)
    shop.stock(short, mango, 1)
    shop.stock(short, lime, 5)
    member = shop.member()

    with pytest.raises(PickupShortage) as refused:
        await place_order(
            deps, member, pickup(member, here, StockLine(mango.id, 2), StockLine(lime.id, 1)), None
        )

    assert refused.value.code is OrderErrorCode.INSUFFICIENT_STOCK
    assert [a.location_id for a in refused.value.alternatives] == [near.id, far.id]
    assert [(s.variant_id, s.available) for s in refused.value.shortages] == [(lime.id, 0)]
    # The mango that fitted is not held and no order was kept.
    assert shop.level(here, mango) == (5, 0)
    assert shop.db.tables.orders == {} and shop.db.tables.reservations == {}


async def test_one_idempotency_key_places_one_order(shop: FakeShop, deps: OrderingDeps) -> None:
    store, mango = shop.store("SH-A", 31.23, 121.47), shop.variant("M-1", PRICE)
    shop.stock(store, mango, 5)
    member = shop.member()
    checkout = pickup(member, store, StockLine(mango.id, 2))

    first = await place_order(deps, member, checkout, "tap-1")
    again = await place_order(deps, member, checkout, "tap-1")

    assert again.id == first.id and len(shop.db.tables.orders) == 1
    assert shop.level(store, mango) == (5, 2)
    assert (first.status, first.total) == (OrderStatus.PENDING_PAYMENT, 2 * PRICE)
    assert first.payment_deadline == shop.clock.now() + deps.policy.payment_timeout


async def test_a_pickup_order_from_placed_to_picked_up(shop: FakeShop, deps: OrderingDeps) -> None:
    store, mango = shop.store("SH-A", 31.23, 121.47), shop.variant("M-1", 10_000)
    shop.stock(store, mango, 5)
    member, manager = shop.member(), shop.staff(store)
    await _give_points(shop, member, 1_000)

    order = await place_order(
        deps, member, pickup(member, store, StockLine(mango.id, 1), points=1_000), None
    )
    assert order.amount_due == 10_000 - 1_000  # 100 points pay 1 yuan
    await record_in_store_payment(deps, manager, order.id, "CASH", order.amount_due)
    await start_preparing(deps, manager, order.id)
    await mark_ready(deps, manager, order.id)
    [code] = shop.db.tables.pickups.values()
    done = await complete_pickup(deps, manager, store.id, code.code)

    assert done.status is OrderStatus.PICKED_UP
    assert statuses(shop, order) == [
        (None, OrderStatus.PENDING_PAYMENT),
        (OrderStatus.PENDING_PAYMENT, OrderStatus.PAID),
        (OrderStatus.PAID, OrderStatus.PREPARING),
        (OrderStatus.PREPARING, OrderStatus.READY_FOR_PICKUP),
        (OrderStatus.READY_FOR_PICKUP, OrderStatus.PICKED_UP),
    ]
    assert shop.level(store, mango) == (4, 0)  # committed: the goods left
    assert shop.db.tables.pickups == {}
    # Points: held at checkout, spent when paid, and earned on what was paid in money.
    entries = [(e.kind, e.amount) for e in shop.db.tables.entries if e.member_id == member.id]
    assert entries[1:] == [(EntryKind.HOLD, 0), (EntryKind.REDEEM, -1_000), (EntryKind.EARN, 90)]
    account = shop.db.tables.accounts[member.id]
    assert (account.balance, account.held) == (90, 0)
    # The member never consented to marketing: no review invitation (it is marketing).
    kinds = [m.kind for m in shop.db.tables.outbox.values()]
    assert kinds == ["ORDER_PAID", "ORDER_READY_FOR_PICKUP"]


async def test_a_review_invitation_follows_a_pickup_only_with_marketing_consent(
    shop: FakeShop, deps: OrderingDeps
) -> None:
    store, mango = shop.store("SH-A", 31.23, 121.47), shop.variant("M-1", 10_000)
    shop.stock(store, mango, 5)
    fan, manager = shop.member("王粉丝"), shop.staff(store)
    grant = ConsentRecord(
        new_id(),
        fan.id,
        ConsentPurpose.MARKETING_WECHAT,
        True,
        "2026-10",
        Channel.MINI_PROGRAM,
        shop.clock.now(),
    )
    shop.db.tables.consents[grant.id] = grant
    order = await place_order(deps, fan, pickup(fan, store, StockLine(mango.id, 1)), None)
    await record_in_store_payment(deps, manager, order.id, "CASH", order.amount_due)
    await start_preparing(deps, manager, order.id)
    await mark_ready(deps, manager, order.id)
    [code] = shop.db.tables.pickups.values()
    await complete_pickup(deps, manager, store.id, code.code)
    invitations = [m for m in shop.db.tables.outbox.values() if m.kind == "REVIEW_INVITATION"]
    assert [(m.member_id, m.order_id) for m in invitations] == [(fan.id, order.id)]


async def test_cancelling_an_unpaid_order_gives_back_the_stock_and_the_points(
    shop: FakeShop, deps: OrderingDeps
) -> None:
    store, mango = shop.store("SH-A", 31.23, 121.47), shop.variant("M-1", 10_000)
    shop.stock(store, mango, 5)
    member = shop.member()
    await _give_points(shop, member, 500)
    order = await place_order(
        deps, member, pickup(member, store, StockLine(mango.id, 2), points=500), None
    )
    assert shop.level(store, mango) == (5, 2)
    assert shop.db.tables.accounts[member.id].held == 500

    cancelled = await cancel_order(deps, member, order.id, "changed my mind")

    assert (cancelled.status, cancelled.cancel_reason) == (OrderStatus.CANCELLED, "changed my mind")
    assert shop.level(store, mango) == (5, 0)
    assert {r.state for r in shop.db.tables.reservations.values()} == {ReservationState.RELEASED}
    [held] = shop.db.tables.holds.values()
    account = shop.db.tables.accounts[member.id]
    assert (held.state, account.balance, account.held) == (HoldState.RELEASED, 500, 0)


async def test_an_illegal_step_is_a_typed_error_and_changes_nothing(
    shop: FakeShop, deps: OrderingDeps
) -> None:
    store, mango = shop.store("SH-A", 31.23, 121.47), shop.variant("M-1", PRICE)
    shop.stock(store, mango, 5)
    member, manager = shop.member(), shop.staff(store)
    order = await place_order(deps, member, pickup(member, store, StockLine(mango.id, 1)), None)

    with pytest.raises(OrderError) as refused:
        await mark_ready(deps, manager, order.id)  # not paid, not prepared

    assert refused.value.code is OrderErrorCode.ILLEGAL_TRANSITION
    assert shop.db.tables.orders[order.id].status is OrderStatus.PENDING_PAYMENT
    assert shop.db.tables.pickups == {} and shop.db.tables.outbox == {}


async def test_staff_of_another_store_cannot_work_the_order(
    shop: FakeShop, deps: OrderingDeps
) -> None:
    store, other = shop.store("SH-A", 31.23, 121.47), shop.store("SH-B", 31.19, 121.44)
    mango = shop.variant("M-1", PRICE)
    shop.stock(store, mango, 5)
    member = shop.member()
    order = await place_order(deps, member, pickup(member, store, StockLine(mango.id, 1)), None)

    with pytest.raises(OrderError) as refused:
        await record_in_store_payment(deps, shop.staff(other), order.id, "CASH", PRICE)

    assert refused.value.code is OrderErrorCode.FORBIDDEN
    assert shop.db.tables.payments == {}


async def test_pickup_numbers_count_per_store_and_store_local_day(
    shop: FakeShop, deps: OrderingDeps
) -> None:
    """A001, A002... per store, starting again at the store's midnight (Shanghai), not UTC's:
    16:01 UTC is still the same UTC date but already the next day in the store."""
    store, other = shop.store("SH-A", 31.23, 121.47), shop.store("SH-B", 31.19, 121.44)
    mango = shop.variant("M-1", PRICE)
    shop.stock(store, mango, 50)
    shop.stock(other, mango, 50)
    member = shop.member()

    async def number(at: Location) -> tuple[str | None, date | None]:
        order = await place_order(deps, member, pickup(member, at, StockLine(mango.id, 1)), None)
        stored = shop.db.tables.orders[order.id]
        assert (stored.pickup_number, stored.pickup_day) == (order.pickup_number, order.pickup_day)
        return order.pickup_number, order.pickup_day

    monday, tuesday = date(2026, 3, 2), date(2026, 3, 3)
    assert [await number(store), await number(store)] == [("A001", monday), ("A002", monday)]
    assert await number(other) == ("A001", monday)
    shop.clock.advance(datetime(2026, 3, 2, 15, 59, tzinfo=UTC) - shop.clock.now())  # 23:59
    assert await number(store) == ("A003", monday)
    shop.clock.advance(timedelta(minutes=2))  # 00:01 on Tuesday in Shanghai
    assert shop.clock.now().date() == monday  # ... while UTC is still on Monday
    assert await number(store) == ("A001", tuesday)
    assert await number(other) == ("A001", tuesday)


async def test_a_delivery_order_has_no_pickup_number(shop: FakeShop, deps: OrderingDeps) -> None:
    warehouse = shop.store("WH-1", 31.23, 121.47, pickup=False, ships=True)
    mango = shop.variant("M-1", PRICE)
    shop.stock(warehouse, mango, 5)
    member = shop.member()
    checkout = Checkout(
        channel=SalesChannel.MINI_PROGRAM,
        lines=[StockLine(mango.id, 1)],
        member_id=member.id,
        delivery=DeliveryTo("1 Delivery Rd, Shanghai", 31.23, 121.47),
    )

    order = await place_order(deps, member, checkout, None)

    assert (order.pickup_number, order.pickup_day) == (None, None)
    assert shop.db.tables.pickup_counters == {}


async def _give_points(shop: FakeShop, member: Principal, points: int) -> None:
    """Points earned earlier, through the ledger (they expire a year on)."""
    from domain.loyalty.ledger import credit

    deps = ordering_deps(shop.db, shop.clock).loyalty
    async with deps.uow() as uow:
        await credit(
            deps, uow, member.id, points, EntryKind.ADJUST, "cs:1", "CS", "goodwill", "gift-1"
        )
    shop.clock.advance(timedelta(minutes=1))
