"""Orders racing each other on a real database: no oversell, one payment, one hand-over.

On PostgreSQL every racer runs in its own transaction on its own pooled connection, so they
really overlap: the conditional UPDATE on the stock level, the conditional payment and order
transitions and the row lock on the order decide who wins. SQLite serialises writers; the
same invariants must hold there.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import timedelta
from typing import Any
from uuid import UUID

import httpx
from tortoise.transactions import in_transaction

from api.relay import encode_id
from domain.errors import OrderErrorCode
from domain.identity.model import Principal, PrincipalKind, StaffRole
from domain.ids import new_id
from domain.inventory.model import MovementKind, ReservationState
from domain.inventory.reservations import sweep_expired
from domain.ordering.checkout import PickupShortage, place_order
from domain.ordering.lifecycle import mark_ready, start_preparing
from domain.ordering.model import Order, OrderStatus, PaymentStatus, pickup_number
from domain.ordering.payments import CLOSE_GRACE, pay_order
from infra.db.models.inventory import MovementRow, ReservationRow
from infra.db.models.orders import OrderRow
from infra.payments import SIGNATURE_HEADER, sign_body
from infra.runtime import Runtime
from tests.support import MovableClock, is_postgres
from tests.support.api import Api
from tests.support.racing import a_variant, assert_ledger_agrees, attempt, members, pickup, receive

STOCK = 20
BUYERS = 100


async def test_concurrent_buyers_never_oversell(runtime: Runtime, stores: dict[str, Any]) -> None:
    store = stores["SH-A"].id
    variant = await a_variant(runtime)
    await receive(runtime, store, variant, STOCK)
    buyers = await members(runtime, BUYERS)

    results = await asyncio.gather(
        *(
            attempt(runtime, buyer, pickup(buyer, store, variant), f"cart-{n}")
            for n, buyer in enumerate(buyers)
        )
    )

    orders = [r for r in results if isinstance(r, Order)]
    refused = [r for r in results if not isinstance(r, Order)]
    assert len(orders) == STOCK
    assert len(refused) == BUYERS - STOCK
    assert all(isinstance(r, PickupShortage) for r in refused), Counter(map(type, refused))
    assert {r.code for r in refused} == {OrderErrorCode.INSUFFICIENT_STOCK}
    for shortage in refused:
        assert [(s.variant_id, s.requested, s.available) for s in shortage.shortages] == [
            (variant, 1, 0)
        ]
        assert shortage.alternatives == []  # SH-B has none of it either
    assert all(o.status is OrderStatus.PENDING_PAYMENT and o.location_id == store for o in orders)
    assert len({o.member_id for o in orders}) == STOCK  # one order per winning buyer
    assert len({o.number for o in orders}) == STOCK

    level = await runtime.repos.inventory.level(store, variant)
    assert level is not None
    assert (level.on_hand, level.reserved, level.available) == (STOCK, STOCK, 0)
    assert await OrderRow.all().count() == STOCK
    held = await ReservationRow.filter(state=ReservationState.ACTIVE)
    assert len(held) == STOCK and sum(r.quantity for r in held) == STOCK
    assert {r.owner for r in held} == {o.reservation_owner for o in orders}
    assert await MovementRow.filter(kind=MovementKind.RESERVE).count() == STOCK
    await assert_ledger_agrees(runtime)


async def test_concurrent_orders_at_one_store_get_consecutive_pickup_numbers(
    runtime: Runtime, stores: dict[str, Any], clock: MovableClock
) -> None:
    """The counter row per (store, store-local day) is incremented inside each checkout's
    transaction: 30 overlapping checkouts get A001 to A030, none twice, none skipped."""
    clock.put(clock.today(), hour=12)  # noon in the store: the racers share one local day
    store, count = stores["SH-A"].id, 30
    variant = await a_variant(runtime)
    await receive(runtime, store, variant, count)
    buyers = await members(runtime, count)

    orders = await asyncio.gather(
        *(place_order(runtime.ordering, b, pickup(b, store, variant), None) for b in buyers)
    )

    assert sorted(o.pickup_number or "" for o in orders) == [
        pickup_number(n) for n in range(1, count + 1)
    ]
    assert {o.pickup_day for o in orders} == {clock.today()}
    rows = await OrderRow.filter(location_id=store).values_list("pickup_number", flat=True)
    assert sorted(rows) == sorted(o.pickup_number for o in orders)
    # The other store's day starts at A001.
    [other] = await members(runtime, 1, "elsewhere")
    await receive(runtime, stores["SH-B"].id, variant, 1)
    there = await place_order(
        runtime.ordering, other, pickup(other, stores["SH-B"].id, variant), None
    )
    assert there.pickup_number == "A001"


async def a_paying_order(runtime: Runtime, store: UUID) -> tuple[Order, Principal, str]:
    """An order of one member, with a payment started: (order, member, payment ref)."""
    variant = await a_variant(runtime, "MANGO-2", 2500)
    await receive(runtime, store, variant, 5)
    [member] = await members(runtime, 1, "payer")
    order = await place_order(runtime.ordering, member, pickup(member, store, variant, 2), None)
    _, request = await pay_order(runtime.ordering, member, order.id, "devpay")
    return order, member, request.provider_ref


def signed(runtime: Runtime, ref: str, amount: int) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {"paymentRef": ref, "amount": amount, "currency": "CNY", "status": "SUCCEEDED"}
    ).encode()
    return body, {SIGNATURE_HEADER: sign_body(runtime.settings.payment_secret, body)}


async def test_duplicate_webhooks_racing_pay_once(
    runtime: Runtime, stores: dict[str, Any], client: httpx.AsyncClient
) -> None:
    order, _, ref = await a_paying_order(runtime, stores["SH-A"].id)
    body, headers = signed(runtime, ref, order.total)

    responses = await asyncio.gather(
        *(
            client.post("/webhooks/payments/devpay", content=body, headers=headers)
            for _ in range(10)
        )
    )

    assert [r.status_code for r in responses] == [200] * 10
    assert Counter(r.json()["result"] for r in responses) == {"paid": 1, "duplicate": 9}
    paid = await runtime.repos.orders.get(order.id)
    assert paid is not None and paid.status is OrderStatus.PAID
    events = await runtime.repos.orders.events_of([order.id])
    assert [e.to_status for e in events].count(OrderStatus.PAID) == 1
    payments = await runtime.repos.orders.payments_of([order.id])
    assert [p.status for p in payments] == [PaymentStatus.SUCCEEDED]  # and no refund
    notices = await runtime.repos.outbox.for_orders([order.id])
    assert [m.kind for m in notices].count("ORDER_PAID") == 1


async def test_one_pickup_code_hands_over_once(
    runtime: Runtime, stores: dict[str, Any], client: httpx.AsyncClient, manager_a: Api
) -> None:
    store = stores["SH-A"].id
    order, _, ref = await a_paying_order(runtime, store)
    body, headers = signed(runtime, ref, order.total)
    assert (await client.post("/webhooks/payments/devpay", content=body, headers=headers)).json()
    manager = Principal(
        kind=PrincipalKind.STAFF,
        id=new_id(),
        role=StaffRole.STORE_MANAGER,
        store_ids=frozenset({store}),
    )
    await start_preparing(runtime.ordering, manager, order.id)
    await mark_ready(runtime.ordering, manager, order.id)
    [code] = await runtime.repos.orders.pickups_of([order.id])

    complete = """mutation($l: ID!, $c: String!) { completePickup(input: {locationId: $l,
      pickupCode: $c}) { order { id status } errors { code message } } }"""
    variables = {"l": encode_id("Location", store), "c": code.code}
    results = await asyncio.gather(*(manager_a.data(complete, variables) for _ in range(5)))

    payloads = [r["completePickup"] for r in results]
    done = [p for p in payloads if p["order"] is not None]
    assert len(done) == 1, payloads
    assert done[0]["order"] == {"id": encode_id("Order", order.id), "status": "PICKED_UP"}
    assert done[0]["errors"] == []
    for loser in (p for p in payloads if p["order"] is None):
        [error] = loser["errors"]
        # Too late to find the code, or found it and then saw the order already handed over.
        assert error["code"] in ("INVALID_PICKUP_CODE", "ILLEGAL_TRANSITION"), loser

    events = await runtime.repos.orders.events_of([order.id])
    assert [e.to_status for e in events].count(OrderStatus.PICKED_UP) == 1
    assert await MovementRow.filter(kind=MovementKind.COMMIT).count() == 1
    variant = order.lines[0].variant_id
    level = await runtime.repos.inventory.level(store, variant)
    assert level is not None and (level.on_hand, level.reserved) == (3, 0)
    assert await runtime.repos.orders.pickups_of([order.id]) == []
    await assert_ledger_agrees(runtime)


async def test_the_sweeper_leaves_an_order_being_paid_and_never_waits_for_it(
    runtime: Runtime, stores: dict[str, Any], clock: MovableClock, client: httpx.AsyncClient
) -> None:
    """A payment holds the order's lock and then extends its reservations; a sweeper that
    waited for that lock while holding the reservation rows would deadlock with it. The
    sweeper skips an order someone holds, and expires it on a later run if still unpaid."""
    order, _, ref = await a_paying_order(runtime, stores["SH-A"].id)
    # Past the reservation's expiry (a payment attempt holds the goods CLOSE_GRACE past the
    # deadline), not yet swept.
    clock.advance(timedelta(minutes=16) + CLOSE_GRACE)

    if is_postgres(runtime.settings.database_url):
        locked, release = asyncio.Event(), asyncio.Event()

        async def payer() -> None:  # someone is paying this order right now
            async with in_transaction() as held:
                await held.execute_query(
                    "SELECT id FROM customer_order WHERE id = $1 FOR UPDATE", [str(order.id)]
                )
                locked.set()
                await release.wait()

        paying = asyncio.create_task(payer())
        await locked.wait()
        try:
            swept = await asyncio.wait_for(sweep_expired(runtime.inventory), timeout=30)
        finally:
            release.set()
            await paying
        assert swept == 0  # skipped, not waited for
        untouched = await runtime.repos.orders.get(order.id)
        assert untouched is not None and untouched.status is OrderStatus.PENDING_PAYMENT
        assert await ReservationRow.filter(owner=order.reservation_owner, state="ACTIVE").count()

    assert await sweep_expired(runtime.inventory) == 1  # its one reservation expires now
    cancelled = await runtime.repos.orders.get(order.id)
    assert cancelled is not None and cancelled.status is OrderStatus.CANCELLED
    body, headers = signed(runtime, ref, order.total)  # the late payment is given back
    late = await client.post("/webhooks/payments/devpay", content=body, headers=headers)
    assert late.json()["result"] == "refunded"
    await assert_ledger_agrees(runtime)
