"""After-sales use cases over the in-memory fakes: a request within the window holds its
units, a decided request stays decided, a refused request writes nothing, and a received
return books the goods and refunds the units received."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

import pytest

from domain.aftersales.deps import AfterSaleDeps
from domain.aftersales.model import (
    AfterSale,
    AfterSaleKind,
    AfterSaleStatus,
    Condition,
    ReceivedLine,
    RequestedLine,
)
from domain.aftersales.services import (
    AfterSaleRequest,
    decide_after_sale,
    receive_return,
    request_after_sale,
)
from domain.catalog.model import Variant
from domain.errors import AfterSaleError, AfterSaleErrorCode
from domain.identity.model import Principal, StaffRole
from domain.inventory.model import MovementKind, StockLine
from domain.locations.model import Location
from domain.ordering.checkout import Checkout, place_order
from domain.ordering.lifecycle import complete_pickup, mark_ready, start_preparing
from domain.ordering.model import Order, PaymentKind, PaymentStatus, SalesChannel
from domain.ordering.payments import handle_notification, pay_order
from infra.payments import SIGNATURE_HEADER, sign_body
from tests.fakes.deps import after_sale_deps
from tests.fakes.shop import FakeShop

PRICE = 1990


@dataclass
class Bought:
    shop: FakeShop
    deps: AfterSaleDeps
    store: Location
    member: Principal
    manager: Principal
    order: Order


@pytest.fixture
async def bought() -> Bought:
    """A member collected three mangoes at SH-A."""
    shop = FakeShop()
    deps = after_sale_deps(shop.db, shop.clock)
    store = shop.store("SH-A", 31.2304, 121.4737)
    mango = shop.variant("M-1", PRICE)
    shop.stock(store, mango, 10)
    member, manager = shop.member(), shop.staff(store)
    checkout = Checkout(
        channel=SalesChannel.MINI_PROGRAM,
        lines=[StockLine(mango.id, 3)],
        member_id=member.id,
        pickup_location_id=store.id,
    )
    ordering = deps.ordering
    order = await place_order(ordering, member, checkout, None)
    _, request = await pay_order(ordering, member, order.id, "devpay")
    body = json.dumps(
        {"paymentRef": request.provider_ref, "amount": 3 * PRICE, "status": "SUCCEEDED"}
    ).encode()
    headers = {SIGNATURE_HEADER: sign_body("unit-test-secret", body)}
    assert await handle_notification(ordering, "devpay", headers, body) == "paid"
    await start_preparing(ordering, manager, order.id)
    await mark_ready(ordering, manager, order.id)
    code = shop.db.tables.pickups[order.id].code
    await complete_pickup(ordering, manager, store.id, code)
    return Bought(shop, deps, store, member, manager, order)


async def ask(
    b: Bought, quantity: int, kind: AfterSaleKind = AfterSaleKind.REFUND_ONLY
) -> AfterSale:
    [line] = b.order.lines
    request = AfterSaleRequest(b.order.id, kind, [RequestedLine(line.id, quantity)], "bruised")
    return await request_after_sale(b.deps, b.member, request)


async def refused(b: Bought, quantity: int) -> AfterSaleErrorCode:
    with pytest.raises(AfterSaleError) as error:
        await ask(b, quantity)
    return error.value.code


async def test_requests_hold_their_units_until_rejected(bought: Bought) -> None:
    first = await ask(bought, 2)
    assert first.status is AfterSaleStatus.REQUESTED
    db = bought.shop.db
    commits, rollbacks = db.commits, db.rollbacks
    assert await refused(bought, 2) is AfterSaleErrorCode.QUANTITY_EXCEEDED
    assert (db.commits, db.rollbacks) == (commits, rollbacks + 1)  # rolled back: nothing kept
    assert len(db.tables.after_sales) == 1
    await decide_after_sale(bought.deps, bought.manager, first.id, False, "no damage seen")
    with pytest.raises(AfterSaleError) as again:
        await decide_after_sale(bought.deps, bought.manager, first.id, True)
    assert again.value.code is AfterSaleErrorCode.ALREADY_DECIDED
    assert (await ask(bought, 3)).status is AfterSaleStatus.REQUESTED


async def test_the_window_closes_seven_days_after_hand_over(bought: Bought) -> None:
    bought.shop.clock.advance(timedelta(days=7, seconds=1))
    assert await refused(bought, 1) is AfterSaleErrorCode.RETURN_WINDOW_CLOSED
    [line] = bought.order.lines
    bought.shop.db.tables.products[line.product_id].return_window_days = 14
    assert (await ask(bought, 1)).status is AfterSaleStatus.REQUESTED


async def test_only_the_orders_member_or_its_stores_staff_ask(bought: Bought) -> None:
    stranger = bought.shop.member("李")
    [line] = bought.order.lines
    request = AfterSaleRequest(
        bought.order.id, AfterSaleKind.REFUND_ONLY, [RequestedLine(line.id, 1)], "bruised"
    )
    with pytest.raises(AfterSaleError) as error:
        await request_after_sale(bought.deps, stranger, request)
    assert error.value.code is AfterSaleErrorCode.NOT_FOUND
    other_store = bought.shop.store("SH-B", 31.19, 121.44)
    clerk_b = bought.shop.staff(other_store, role=StaffRole.STORE_CLERK)
    with pytest.raises(AfterSaleError) as error:
        await request_after_sale(bought.deps, clerk_b, request)
    assert error.value.code is AfterSaleErrorCode.FORBIDDEN


async def test_a_received_return_books_the_goods_and_refunds_what_came_back(
    bought: Bought,
) -> None:
    requested = await ask(bought, 3, AfterSaleKind.RETURN_AND_REFUND)
    [line] = bought.order.lines
    with pytest.raises(AfterSaleError) as early:
        await receive_return(
            bought.deps,
            bought.manager,
            requested.id,
            bought.store.id,
            [ReceivedLine(line.id, 1, Condition.RESALEABLE)],
        )
    assert early.value.code is AfterSaleErrorCode.ILLEGAL_STATE  # not approved yet
    await decide_after_sale(bought.deps, bought.manager, requested.id, True)
    done = await receive_return(
        bought.deps,
        bought.manager,
        requested.id,
        bought.store.id,
        [
            ReceivedLine(line.id, 1, Condition.RESALEABLE),
            ReceivedLine(line.id, 1, Condition.DAMAGED),
        ],
    )
    # Two of the three came back: they are refunded; the third stays the member's.
    assert (done.status, done.refund_amount) == (AfterSaleStatus.REFUNDING, 2 * PRICE)
    assert [(x.received, x.damaged, x.refunded) for x in done.lines] == [(1, 1, 2)]
    tables = bought.shop.db.tables
    refunds = [p for p in tables.payments.values() if p.kind is PaymentKind.REFUND]
    assert [(p.amount, p.status) for p in refunds] == [(2 * PRICE, PaymentStatus.REFUND_PENDING)]
    moves = [m for m in tables.movements if m.reference == f"after-sale:{requested.id}"]
    assert sorted((m.kind, m.on_hand_delta) for m in moves) == [
        (MovementKind.ADJUSTMENT, -1),
        (MovementKind.RETURN, 2),
    ]
    assert bought.shop.level(bought.store, _variant(bought)) == (8, 0)  # 10 - 3 + 1
    events = await bought.shop.db.aftersales.events_of([requested.id])
    assert [e.to_status for e in events] == [
        AfterSaleStatus.REQUESTED,
        AfterSaleStatus.APPROVED,
        AfterSaleStatus.RETURN_RECEIVED,
        AfterSaleStatus.REFUNDING,
    ]


def _variant(b: Bought) -> Variant:
    [line] = b.order.lines
    return b.shop.db.tables.variants[line.variant_id]


async def test_a_warehouse_receives_a_return_of_a_stores_order(bought: Bought) -> None:
    requested = await ask(bought, 1, AfterSaleKind.RETURN_AND_REFUND)
    await decide_after_sale(bought.deps, bought.manager, requested.id, True)
    warehouse = bought.shop.store("WH-1", 31.38, 120.98, pickup=False, ships=True)
    [line] = bought.order.lines
    receipt = [ReceivedLine(line.id, 1, Condition.RESALEABLE)]
    elsewhere = bought.shop.staff(bought.shop.store("SH-B", 31.19, 121.44))
    with pytest.raises(AfterSaleError) as error:  # staff of neither place
        await receive_return(bought.deps, elsewhere, requested.id, warehouse.id, receipt)
    assert error.value.code is AfterSaleErrorCode.NOT_FOUND
    clerk = bought.shop.staff(warehouse, role=StaffRole.STORE_CLERK)
    done = await receive_return(bought.deps, clerk, requested.id, warehouse.id, receipt)
    assert done.status is AfterSaleStatus.REFUNDING
    assert bought.shop.level(warehouse, _variant(bought)) == (1, 0)  # a level made for it
