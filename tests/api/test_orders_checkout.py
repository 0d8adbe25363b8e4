"""Checkout over GraphQL (issue 5): catalog prices, the fulfilling location (pickup store or
the nearest location that ships), stock reserved once per idempotency key, typed errors for
every refusal, and orders placed by the POS for a looked-up member or a walk-in. The helpers
are in tests/support/orders.py."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from api.relay import decode_id, encode_id
from domain.catalog.model import CatalogStatus, Variant
from domain.catalog.services import (
    VariantPatch,
    set_product_status,
    set_variant_status,
    update_variant,
)
from domain.identity.model import DeviceKind
from domain.identity.services import create_device
from domain.ids import new_id
from domain.inventory.model import MovementKind
from domain.inventory.stock import Adjustment, adjust
from domain.ordering.model import MAX_LINES
from infra.db.models.orders import OrderLineRow, OrderRow
from infra.runtime import Runtime
from tests.support.api import Api
from tests.support.orders import (
    IN_STORE,
    PLACE,
    ROOT,
    level,
    lid,
    make_variants,
    order_input,
    order_key,
    place,
    placed,
    receive,
    vid,
)
from tests.support.payloads import codes, refusal
from tests.support.shoppers import Shopper, shopper

LEVELS = """query($l: ID!, $v: [ID!]) { stockLevels(locationId: $l, variantIds: $v) {
  nodes { onHand reserved available variant { code } } } }"""


async def order_status(order_id: str) -> str:
    row = await OrderRow.get(id=decode_id(order_id, "Order"))
    return str(row.status.value)


# ---------------------------------------------------------------- this file's fixtures


@pytest.fixture
async def fruit(runtime: Runtime) -> list[Variant]:
    """Mango 1kg at 19.90 and Mango 2kg at 35.00."""
    return await make_variants(runtime, ("M-1", "1kg", 1990), ("M-2", "2kg", 3500))


@pytest.fixture
async def member(api: Api) -> Shopper:
    return await shopper(api, "open-shopper-1")


# ---------------------------------------------------------------- prices


async def test_lines_and_total_are_priced_from_the_catalog_and_stored(
    member: Shopper, runtime: Runtime, stores: dict[str, Any], fruit: list[Variant]
) -> None:
    small, large = fruit
    await receive(runtime, stores["SH-A"].id, small, 5)
    await receive(runtime, stores["SH-A"].id, large, 5)
    before = runtime.clock.now()

    order = await placed(
        member.api,
        order_input([(large, 1), (small, 2)], pickup=lid(stores, "SH-A"), note="  by 6pm  "),
    )

    assert (order["status"], order["channel"], order["fulfilment"]) == (
        "PENDING_PAYMENT",
        "MINI_PROGRAM",
        "PICKUP",
    )
    assert order["location"] == {"code": "SH-A"}
    assert order["note"] == "by 6pm"
    assert order["total"] == {"amount": 2 * 1990 + 3500, "currency": "CNY"}
    lines = sorted(order["lines"], key=lambda x: x["sku"])
    assert lines == [
        {
            "sku": "M-1",
            "name": "Mango 1kg",
            "quantity": 2,
            "unitPrice": {"amount": 1990, "currency": "CNY"},
            "total": {"amount": 3980},
        },
        {
            "sku": "M-2",
            "name": "Mango 2kg",
            "quantity": 1,
            "unitPrice": {"amount": 3500, "currency": "CNY"},
            "total": {"amount": 3500},
        },
    ]
    assert order["paidAt"] is None and order["pickupDeadline"] is None
    # The payment deadline is the payment timeout (15 minutes) after placing.
    stored = await OrderRow.get(id=order_key(order))
    assert stored.payment_deadline is not None
    assert (
        timedelta(minutes=15)
        <= stored.payment_deadline - before
        <= timedelta(minutes=15, seconds=30)
    )

    # A later price change does not reprice the order: the price is stored on the line.
    await update_variant(runtime.catalog, small.id, VariantPatch(price=9990))
    rows = await OrderLineRow.filter(order_id=order_key(order))
    assert sorted((r.sku, r.unit_price, r.quantity) for r in rows) == [
        ("M-1", 1990, 2),
        ("M-2", 3500, 1),
    ]
    again = await member.api.data(
        "query($id: ID!) { order(id: $id) { total { amount } "
        "lines { sku unitPrice { amount } } } }",
        {"id": order["id"]},
    )
    assert again["order"]["total"] == {"amount": 7480}
    assert sorted((x["sku"], x["unitPrice"]["amount"]) for x in again["order"]["lines"]) == [
        ("M-1", 1990),
        ("M-2", 3500),
    ]


@pytest.mark.parametrize(
    "line_extra",
    [{"unitPrice": 1}, {"price": {"amount": 1, "currency": "CNY"}}, {"total": 1}],
    ids=["unitPrice", "price", "total"],
)
async def test_the_client_cannot_send_prices(
    member: Shopper,
    runtime: Runtime,
    stores: dict[str, Any],
    fruit: list[Variant],
    line_extra: dict[str, Any],
) -> None:
    small, _ = fruit
    await receive(runtime, stores["SH-A"].id, small, 5)
    input_ = order_input([(small, 1)], pickup=lid(stores, "SH-A"))
    input_["lines"][0].update(line_extra)
    body = await member.api(PLACE, {"input": input_})
    assert body.get("data") is None and body["errors"], body
    input_ = order_input([(small, 1)], pickup=lid(stores, "SH-A"))
    input_["total"] = {"amount": 1, "currency": "CNY"}
    body = await member.api(PLACE, {"input": input_})
    assert body.get("data") is None and body["errors"], body
    assert await OrderRow.all().count() == 0
    assert await level(runtime, stores["SH-A"].id, small) == (5, 0)


# ---------------------------------------------------------------- pickup location


async def test_pickup_only_at_a_location_that_offers_pickup(
    member: Shopper, runtime: Runtime, stores: dict[str, Any], fruit: list[Variant]
) -> None:
    small, _ = fruit
    await receive(runtime, stores["WH-1"].id, small, 5)
    at_warehouse = await place(member.api, order_input([(small, 1)], pickup=lid(stores, "WH-1")))
    assert refusal(at_warehouse) == (
        "LOCATION_UNAVAILABLE",
        ["fulfilment", "pickup", "locationId"],
    )
    nowhere = await place(
        member.api, order_input([(small, 1)], pickup=encode_id("Location", new_id()))
    )
    assert refusal(nowhere) == ("LOCATION_UNAVAILABLE", ["fulfilment", "pickup", "locationId"])
    not_a_location = await place(member.api, order_input([(small, 1)], pickup=vid(small)))
    assert refusal(not_a_location)[0] == "INVALID_ID"
    assert await OrderRow.all().count() == 0
    assert await level(runtime, stores["WH-1"].id, small) == (5, 0)


async def test_a_short_store_names_nearby_pickup_stores_that_can_cover_the_order(
    member: Shopper, runtime: Runtime, stores: dict[str, Any], fruit: list[Variant]
) -> None:
    small, large = fruit
    await receive(runtime, stores["SH-A"].id, small, 1)
    await receive(runtime, stores["SH-A"].id, large, 5)
    await receive(runtime, stores["SH-B"].id, small, 5)
    await receive(runtime, stores["SH-B"].id, large, 5)
    await receive(runtime, stores["WH-1"].id, small, 50)  # no pickup there: never suggested
    await receive(runtime, stores["WH-1"].id, large, 50)

    payload = await place(
        member.api, order_input([(small, 3), (large, 1)], pickup=lid(stores, "SH-A"))
    )

    assert payload["order"] is None
    expected_distance = round(stores["SH-A"].point.distance_to(stores["SH-B"].point), 1)
    assert 4000 < expected_distance < 7000
    assert payload["errors"] == [
        {
            "code": "INSUFFICIENT_STOCK",
            "message": "The store has 1; 3 requested.",
            "field": ["lines"],
            "variantId": vid(small),
            "available": 1,
            "alternatives": [{"locationId": lid(stores, "SH-B"), "distance": expected_distance}],
        }
    ]
    # Nothing was reserved anywhere, not even the line SH-A could cover.
    assert await level(runtime, stores["SH-A"].id, small) == (1, 0)
    assert await level(runtime, stores["SH-A"].id, large) == (5, 0)
    assert await OrderRow.all().count() == 0

    # A store that cannot cover every line is no alternative.
    await receive(runtime, stores["SH-A"].id, small, 2)
    await adjust(
        runtime.inventory,
        ROOT,
        Adjustment(stores["SH-B"].id, large.id, -5, MovementKind.ADJUSTMENT, "broken"),
        None,
    )
    short = await place(
        member.api, order_input([(small, 3), (large, 6)], pickup=lid(stores, "SH-A"))
    )
    assert codes(short) == ["INSUFFICIENT_STOCK"]
    assert short["errors"][0]["alternatives"] == []


# ---------------------------------------------------------------- delivery

LOCATION_UPDATE = """mutation($input: LocationUpdateInput!) { locationUpdate(input: $input) {
  location { code shipsOnline } errors { code message } } }"""

NEAR_SH_A = {"address": "88 Nanjing Road, Shanghai", "latitude": 31.2350, "longitude": 121.4750}


async def ships_online(admin: Api, stores: dict[str, Any], code: str) -> None:
    done = await admin.data(
        LOCATION_UPDATE, {"input": {"id": lid(stores, code), "shipsOnline": True}}
    )
    assert done["locationUpdate"]["errors"] == [], done
    assert done["locationUpdate"]["location"] == {"code": code, "shipsOnline": True}


async def test_delivery_goes_to_the_nearest_shipping_location_that_covers_every_line(
    member: Shopper, admin: Api, runtime: Runtime, stores: dict[str, Any], fruit: list[Variant]
) -> None:
    small, large = fruit
    await ships_online(admin, stores, "SH-B")
    # SH-A is nearest but does not ship; SH-B ships and is next; WH-1 ships, far away.
    await receive(runtime, stores["SH-A"].id, small, 50)
    await receive(runtime, stores["SH-A"].id, large, 50)
    await receive(runtime, stores["SH-B"].id, small, 5)
    await receive(runtime, stores["WH-1"].id, small, 20)
    await receive(runtime, stores["WH-1"].id, large, 20)

    by_sh_b = await placed(member.api, order_input([(small, 2)], delivery=NEAR_SH_A))
    assert (by_sh_b["fulfilment"], by_sh_b["location"]) == ("DELIVERY", {"code": "SH-B"})
    assert await level(runtime, stores["SH-B"].id, small) == (5, 2)
    assert await level(runtime, stores["SH-A"].id, small) == (50, 0)
    row = await OrderRow.get(id=order_key(by_sh_b))
    assert row.location_id == stores["SH-B"].id
    assert (row.delivery_latitude, row.delivery_longitude) == (31.2350, 121.4750)
    # The address is personal data: encrypted at rest.
    assert row.delivery_address and "Nanjing" not in row.delivery_address

    # SH-B lacks the 2kg: the whole order goes to WH-1, which covers both lines.
    by_wh = await placed(member.api, order_input([(small, 1), (large, 1)], delivery=NEAR_SH_A))
    assert by_wh["location"] == {"code": "WH-1"}
    assert await level(runtime, stores["WH-1"].id, small) == (20, 1)
    assert await level(runtime, stores["WH-1"].id, large) == (20, 1)
    assert await level(runtime, stores["SH-B"].id, small) == (5, 2)

    # More than SH-B has left (3): WH-1 again.
    bigger = await placed(member.api, order_input([(small, 4)], delivery=NEAR_SH_A))
    assert bigger["location"] == {"code": "WH-1"}

    # More than any shipping location has: refused, nothing reserved.
    refused = await place(member.api, order_input([(small, 30)], delivery=NEAR_SH_A))
    assert refusal(refused) == ("NO_FULFILMENT_LOCATION", ["lines"])
    assert await level(runtime, stores["WH-1"].id, small) == (20, 5)
    assert await level(runtime, stores["SH-B"].id, small) == (5, 2)


async def test_delivery_is_refused_when_no_location_that_ships_can_cover_it(
    member: Shopper, runtime: Runtime, stores: dict[str, Any], fruit: list[Variant]
) -> None:
    small, _ = fruit
    await receive(runtime, stores["SH-A"].id, small, 50)  # a store that does not ship
    payload = await place(member.api, order_input([(small, 1)], delivery=NEAR_SH_A))
    assert refusal(payload) == ("NO_FULFILMENT_LOCATION", ["lines"])
    assert await OrderRow.all().count() == 0
    assert await level(runtime, stores["SH-A"].id, small) == (50, 0)


async def test_delivery_needs_an_address(
    member: Shopper, runtime: Runtime, stores: dict[str, Any], fruit: list[Variant]
) -> None:
    small, _ = fruit
    await receive(runtime, stores["WH-1"].id, small, 5)
    payload = await place(
        member.api, order_input([(small, 1)], delivery={**NEAR_SH_A, "address": "  x "})
    )
    assert refusal(payload) == ("INVALID_INPUT", ["fulfilment", "delivery", "address"])


# ---------------------------------------------------------------- refused carts


async def test_an_archived_variant_or_product_is_no_longer_sold(
    member: Shopper, runtime: Runtime, stores: dict[str, Any], fruit: list[Variant]
) -> None:
    small, large = fruit
    await receive(runtime, stores["SH-A"].id, small, 5)
    await receive(runtime, stores["SH-A"].id, large, 5)
    await set_variant_status(runtime.catalog, small.id, CatalogStatus.ARCHIVED)

    # The archived variant is the second line of the request: the error points at it.
    payload = await place(
        member.api, order_input([(large, 1), (small, 1)], pickup=lid(stores, "SH-A"))
    )
    assert refusal(payload) == ("VARIANT_UNAVAILABLE", ["lines", "1", "variantId"])
    payload = await place(member.api, order_input([(small, 1)], pickup=lid(stores, "SH-A")))
    assert refusal(payload) == ("VARIANT_UNAVAILABLE", ["lines", "0", "variantId"])

    await set_product_status(runtime.catalog, large.product_id, CatalogStatus.ARCHIVED)
    payload = await place(member.api, order_input([(large, 1)], pickup=lid(stores, "SH-A")))
    assert refusal(payload) == ("VARIANT_UNAVAILABLE", ["lines", "0", "variantId"])

    unknown = order_input([(large, 1)], pickup=lid(stores, "SH-A"))
    unknown["lines"][0]["variantId"] = encode_id("Variant", new_id())
    assert refusal(await place(member.api, unknown)) == (
        "NOT_FOUND",
        ["lines", "0", "variantId"],
    )
    assert await OrderRow.all().count() == 0
    assert await level(runtime, stores["SH-A"].id, small) == (5, 0)
    assert await level(runtime, stores["SH-A"].id, large) == (5, 0)


async def test_exactly_one_fulfilment_is_required(
    member: Shopper, runtime: Runtime, stores: dict[str, Any], fruit: list[Variant]
) -> None:
    small, _ = fruit
    await receive(runtime, stores["SH-A"].id, small, 5)
    both = order_input([(small, 1)], pickup=lid(stores, "SH-A"), delivery=NEAR_SH_A)
    neither = order_input([(small, 1)])
    for input_ in (both, neither):
        assert refusal(await place(member.api, input_)) == ("INVALID_INPUT", ["fulfilment"])
    assert await OrderRow.all().count() == 0


@pytest.mark.parametrize("quantity", [0, -1, 100])
async def test_quantities_are_1_to_99(
    member: Shopper, runtime: Runtime, stores: dict[str, Any], fruit: list[Variant], quantity: int
) -> None:
    small, large = fruit
    await receive(runtime, stores["SH-A"].id, small, 200)
    await receive(runtime, stores["SH-A"].id, large, 200)
    payload = await place(
        member.api, order_input([(large, 1), (small, quantity)], pickup=lid(stores, "SH-A"))
    )
    assert refusal(payload) == ("INVALID_INPUT", ["lines", "1", "quantity"])
    assert await OrderRow.all().count() == 0
    ninety_nine = await placed(member.api, order_input([(small, 99)], pickup=lid(stores, "SH-A")))
    assert ninety_nine["lines"][0]["quantity"] == 99


async def test_an_empty_cart_or_a_variant_twice_is_refused(
    member: Shopper, runtime: Runtime, stores: dict[str, Any], fruit: list[Variant]
) -> None:
    small, large = fruit
    await receive(runtime, stores["SH-A"].id, small, 5)
    await receive(runtime, stores["SH-A"].id, large, 5)
    empty = await place(member.api, order_input([], pickup=lid(stores, "SH-A")))
    assert refusal(empty) == ("INVALID_INPUT", ["lines"])
    twice = await place(
        member.api,
        order_input([(small, 1), (large, 1), (small, 2)], pickup=lid(stores, "SH-A")),
    )
    code, field = refusal(twice)
    assert code == "INVALID_INPUT" and field == ["lines", "2", "variantId"], twice
    assert "once" in twice["errors"][0]["message"]
    assert await OrderRow.all().count() == 0
    assert await level(runtime, stores["SH-A"].id, small) == (5, 0)


async def test_the_line_limit_is_the_checkouts(
    member: Shopper, runtime: Runtime, stores: dict[str, Any], fruit: list[Variant]
) -> None:
    """One rule, one place: the API answers the domain checkout's refusal (its message), not a
    copy in the resolver."""
    small, _ = fruit
    await receive(runtime, stores["SH-A"].id, small, 5)
    payload = await place(
        member.api, order_input([(small, 1)] * (MAX_LINES + 1), pickup=lid(stores, "SH-A"))
    )
    assert refusal(payload) == ("TOO_MANY_ITEMS", ["lines"])
    assert payload["errors"][0]["message"] == f"At most {MAX_LINES} lines per order."
    assert await OrderRow.all().count() == 0


async def test_a_note_is_at_most_500_characters(
    member: Shopper, runtime: Runtime, stores: dict[str, Any], fruit: list[Variant]
) -> None:
    small, _ = fruit
    await receive(runtime, stores["SH-A"].id, small, 5)
    payload = await place(
        member.api, order_input([(small, 1)], pickup=lid(stores, "SH-A"), note="x" * 501)
    )
    assert refusal(payload) == ("INVALID_INPUT", ["note"])


# ---------------------------------------------------------------- idempotency and stock


async def test_a_retry_with_the_same_key_returns_the_same_order_and_reserves_once(
    member: Shopper, api: Api, runtime: Runtime, stores: dict[str, Any], fruit: list[Variant]
) -> None:
    small, large = fruit
    await receive(runtime, stores["SH-A"].id, small, 5)
    await receive(runtime, stores["SH-A"].id, large, 5)
    cart = order_input([(small, 2)], pickup=lid(stores, "SH-A"), key="cart-123")

    first = await placed(member.api, cart)
    again = await placed(member.api, cart)

    assert again["id"] == first["id"] and again["number"] == first["number"]
    assert await OrderRow.all().count() == 1
    assert await level(runtime, stores["SH-A"].id, small) == (5, 2)

    # The same key for another cart is a mistake of the client, not a new order.
    other = order_input([(small, 3)], pickup=lid(stores, "SH-A"), key="cart-123")
    assert refusal(await place(member.api, other)) == (
        "IDEMPOTENCY_CONFLICT",
        ["idempotencyKey"],
    )
    other = order_input([(large, 2)], pickup=lid(stores, "SH-A"), key="cart-123")
    assert codes(await place(member.api, other)) == ["IDEMPOTENCY_CONFLICT"]
    assert await OrderRow.all().count() == 1
    assert await level(runtime, stores["SH-A"].id, small) == (5, 2)
    assert await level(runtime, stores["SH-A"].id, large) == (5, 0)

    # Keys belong to their caller: another member's identical key is another order.
    someone = await shopper(api, "open-shopper-2")
    theirs = await placed(someone.api, cart)
    assert theirs["id"] != first["id"]
    assert await level(runtime, stores["SH-A"].id, small) == (5, 4)

    # Without a key every call is a new order.
    await placed(member.api, order_input([(large, 1)], pickup=lid(stores, "SH-A")))
    await placed(member.api, order_input([(large, 1)], pickup=lid(stores, "SH-A")))
    assert await level(runtime, stores["SH-A"].id, large) == (5, 2)


async def test_a_refused_attempt_does_not_use_up_the_key(
    member: Shopper, runtime: Runtime, stores: dict[str, Any], fruit: list[Variant]
) -> None:
    small, _ = fruit
    await receive(runtime, stores["SH-A"].id, small, 1)
    cart = order_input([(small, 2)], pickup=lid(stores, "SH-A"), key="cart-9")
    assert codes(await place(member.api, cart)) == ["INSUFFICIENT_STOCK"]
    await receive(runtime, stores["SH-A"].id, small, 1)
    order = await placed(member.api, cart)
    assert order["status"] == "PENDING_PAYMENT"
    assert await level(runtime, stores["SH-A"].id, small) == (2, 2)


async def test_placing_reserves_the_stock_shown_in_stock_levels(
    member: Shopper,
    manager_a: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    fruit: list[Variant],
) -> None:
    small, large = fruit
    await receive(runtime, stores["SH-A"].id, small, 5)
    await receive(runtime, stores["SH-A"].id, large, 1)
    await placed(member.api, order_input([(small, 2), (large, 1)], pickup=lid(stores, "SH-A")))

    data = await manager_a.data(LEVELS, {"l": lid(stores, "SH-A"), "v": [vid(small), vid(large)]})
    by_code = {n["variant"]["code"]: n for n in data["stockLevels"]["nodes"]}
    assert (by_code["M-1"]["onHand"], by_code["M-1"]["reserved"], by_code["M-1"]["available"]) == (
        5,
        2,
        3,
    )
    assert (by_code["M-2"]["onHand"], by_code["M-2"]["reserved"], by_code["M-2"]["available"]) == (
        1,
        1,
        0,
    )
    # The reserved unit is no longer available to the next shopper.
    payload = await place(member.api, order_input([(large, 1)], pickup=lid(stores, "SH-A")))
    assert codes(payload) == ["INSUFFICIENT_STOCK"]
    assert payload["errors"][0]["available"] == 0


# ---------------------------------------------------------------- POS and staff

ENROL = """mutation($phone: String!) { enrolMember(input: {phone: $phone}) {
  member { id } errors { code message } } }"""
LOOKUP = "query($phone: String!) { lookupMember(input: {phone: $phone}) { id } }"
MY_ORDERS = "{ me { orders(first: 10) { nodes { id channel status } } } }"


async def test_the_pos_orders_for_a_looked_up_member_and_for_a_walk_in(
    api: Api,
    member: Shopper,
    runtime: Runtime,
    stores: dict[str, Any],
    fruit: list[Variant],
) -> None:
    small, _ = fruit
    await receive(runtime, stores["SH-A"].id, small, 10)
    _, token = await create_device(runtime.auth, stores["SH-A"].id, DeviceKind.POS)
    till = api.as_(token)
    bound = await member.api.data(
        """mutation { bindPhone(input: {wechatPhoneCode: "test-phone:+8613800138000"}) {
        errors { code } } }"""
    )
    assert bound["bindPhone"]["errors"] == [], bound
    found = (await till.data(LOOKUP, {"phone": "13800138000"}))["lookupMember"]
    assert found == {"id": member.id}

    for_member = await placed(
        till,
        order_input([(small, 2)], pickup=lid(stores, "SH-A"), channel="POS", member_id=found["id"]),
    )
    assert (for_member["channel"], for_member["status"]) == ("POS", "PENDING_PAYMENT")
    row = await OrderRow.get(id=order_key(for_member))
    assert row.member_id == member.key
    mine = (await member.api.data(MY_ORDERS))["me"]["orders"]["nodes"]
    assert [o["id"] for o in mine] == [for_member["id"]]

    walk_in = await placed(
        till, order_input([(small, 1)], pickup=lid(stores, "SH-A"), channel="POS")
    )
    assert (await OrderRow.get(id=order_key(walk_in))).member_id is None
    # The walk-in pays at the till; nobody is notified.
    paid = (await till.data(IN_STORE, {"o": walk_in["id"], "m": "CASH", "a": 1990}))[
        "recordInStorePayment"
    ]
    assert paid["errors"] == [] and paid["order"]["status"] == "PAID", paid
    assert await runtime.repos.outbox.for_orders([order_key(walk_in)]) == []
    assert await level(runtime, stores["SH-A"].id, small) == (10, 3)


async def test_staff_order_for_a_member_by_id_and_members_only_for_themselves(
    api: Api,
    member: Shopper,
    clerk_a: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    fruit: list[Variant],
) -> None:
    small, _ = fruit
    await receive(runtime, stores["SH-A"].id, small, 10)
    by_clerk = await placed(
        clerk_a,
        order_input([(small, 1)], pickup=lid(stores, "SH-A"), channel="POS", member_id=member.id),
    )
    assert (await OrderRow.get(id=order_key(by_clerk))).member_id == member.key

    # A member cannot order on someone else's behalf.
    other = await shopper(api, "open-shopper-2")
    payload = await place(
        member.api,
        order_input([(small, 1)], pickup=lid(stores, "SH-A"), member_id=other.id),
    )
    assert refusal(payload) == ("INVALID_INPUT", ["memberId"])
    # An id that is no member is refused, not stored on an order nobody can see.
    unknown = await place(
        clerk_a,
        order_input(
            [(small, 1)],
            pickup=lid(stores, "SH-A"),
            channel="POS",
            member_id=encode_id("Member", new_id()),
        ),
    )
    assert refusal(unknown) == ("NOT_FOUND", ["memberId"])
    assert await OrderRow.all().count() == 1
    assert await level(runtime, stores["SH-A"].id, small) == (10, 1)


async def test_anonymous_callers_cannot_place_orders(
    api: Api, runtime: Runtime, stores: dict[str, Any], fruit: list[Variant]
) -> None:
    small, _ = fruit
    await receive(runtime, stores["SH-A"].id, small, 5)
    body = await api(PLACE, {"input": order_input([(small, 1)], pickup=lid(stores, "SH-A"))})
    assert body["data"] is None or body["data"].get("placeOrder") is None
    assert body["errors"], body
    assert await OrderRow.all().count() == 0
