"""The pickup story end to end: the issue's acceptance test (and, since issue 16, a return of
part of it and its refund).

Everything a person would do goes through the served app: uvicorn listens on a free local
port inside the test's event loop, GraphQL queries and mutations and the payment webhook are
real HTTP requests (httpx), and the kiosk's pickup board and the member's order page are real
WebSockets speaking graphql-transport-ws (the `websockets` library), each with its token in
`connection_init`. Only the set-up a person cannot do through the API (the first ADMIN, the
stores) and the jobs (outbox delivery) run through the domain services.

On PostgreSQL + Redis the live events travel through Redis pub/sub (the cross-process bus);
on SQLite through the in-process bus. The story is the same on both.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest

from api.relay import decode_id, encode_id
from domain.identity.model import StaffRole
from domain.live import order_topic, pickup_board_topic
from domain.ordering.refunds import POLL_AFTER, process_refunds
from domain.outbox import deliver_due
from infra.live import InProcessLiveEvents, RedisLiveEvents
from infra.notifier import FakeNotifier
from infra.payments import SIGNATURE_HEADER, sign_body
from infra.runtime import Runtime
from tests.support import MovableClock
from tests.support.api import Api, relogin, staff_api
from tests.support.ws import BOARD, ORDER_UPDATED, Session, serve, session, subscribed, ws_url

NEAR_SH_A = {"latitude": 31.2310, "longitude": 121.4740}  # a street away from SH-A
LINES = "query($id: ID!) { order(id: $id) { lines { id sku } } }"

# ---------------------------------------------------------------- the served app


@pytest.fixture
async def served(runtime: Runtime) -> AsyncIterator[str]:
    """The real ASGI app behind uvicorn on 127.0.0.1; yields host:port."""
    async with serve(runtime) as address:
        yield address


@pytest.fixture
async def http(served: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://{served}", timeout=10) as client:
        yield client


@pytest.fixture
def web(http: httpx.AsyncClient) -> Api:
    """GraphQL over real HTTP to the served app."""
    return Api(http)


@pytest.fixture
def notifier(runtime: Runtime) -> FakeNotifier:
    assert isinstance(runtime.notifier, FakeNotifier)
    runtime.notifier.clear()
    return runtime.notifier


@asynccontextmanager
async def live(served: str, token: str) -> AsyncIterator[Session]:
    """A graphql-transport-ws session of the served app, signed in with `token`."""
    async with session(ws_url(served), token) as opened:
        yield opened


# ---------------------------------------------------------------- the steps


async def mutate(api: Api, name: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """Run a mutation whose payload has `errors`; return the payload, checked error-free."""
    payload: dict[str, Any] = (await api.data(query, variables))[name]
    assert payload["errors"] == [], payload
    return payload


async def step(manager: Api, name: str, order_id: str) -> str:
    payload = await mutate(
        manager,
        name,
        f"mutation($o: ID!) {{ {name}(input: {{orderId: $o}}) {{ order {{ status }} "
        "errors { code message } } }",
        {"o": order_id},
    )
    status: str = payload["order"]["status"]
    return status


async def test_a_member_orders_for_pickup_and_collects_with_the_code(
    runtime: Runtime,
    stores: dict[str, Any],
    served: str,
    http: httpx.AsyncClient,
    web: Api,
    notifier: FakeNotifier,
    clock: MovableClock,
) -> None:
    # PostgreSQL runs come with Redis: live events cross processes through it.
    bus = RedisLiveEvents if runtime.settings.redis_url else InProcessLiveEvents
    assert isinstance(runtime.live, bus)
    sh_a, sh_b = stores["SH-A"], stores["SH-B"]
    store_a, store_b = encode_id("Location", sh_a.id), encode_id("Location", sh_b.id)

    # --- the head office and the store set up: catalog, stock, a kiosk at the counter
    admin = await staff_api(web, runtime, "hq-admin", StaffRole.ADMIN, [])
    manager = await staff_api(web, runtime, "sh-a-manager", StaffRole.STORE_MANAGER, [sh_a])
    product = await mutate(
        admin,
        "productCreate",
        """mutation { productCreate(input: {name: "Mango", variants: [
          {code: "MANGO-1KG", name: "1kg", price: 1990},
          {code: "MANGO-2KG", name: "2kg", price: 3500}]}) {
          product { id variants { id code } } errors { code message } } }""",
        {},
    )
    variants = {v["code"]: v["id"] for v in product["product"]["variants"]}
    small, large = variants["MANGO-1KG"], variants["MANGO-2KG"]
    for store, variant, units in ((store_a, small, 20), (store_a, large, 20), (store_b, small, 3)):
        await mutate(
            admin,
            "inventoryAdjust",
            """mutation($l: ID!, $v: ID!, $d: Int!) { inventoryAdjust(input: {locationId: $l,
              variantId: $v, delta: $d, kind: RECEIPT, reason: "delivery"}) {
              stockLevel { onHand } errors { code message } } }""",
            {"l": store, "v": variant, "d": units},
        )
    kiosk = await mutate(
        admin,
        "deviceCreate",
        """mutation($l: ID!) { deviceCreate(input: {locationId: $l, kind: KIOSK,
          name: "Counter kiosk"}) { device { id kind } token errors { code message } } }""",
        {"l": store_a},
    )
    assert kiosk["device"]["kind"] == "KIOSK"

    # --- the member logs in from the mini-program
    logged_in = await mutate(
        web,
        "loginWithWechat",
        """mutation { loginWithWechat(input: {appId: "wx-demo", code: "test:openid-lin",
          displayName: "林小姐"}) {
          tokens { accessToken } member { id } created errors { code message } } }""",
        {},
    )
    assert logged_in["created"] is True
    member = web.as_(logged_in["tokens"]["accessToken"])
    member_id = decode_id(logged_in["member"]["id"], "Member")

    # --- stores near me, and which of them have the mango
    near = await member.data(
        """query($near: NearInput!) { locations(near: $near, pickupEnabled: true) {
          nodes { id code distance pickupEnabled } } }""",
        {"near": NEAR_SH_A},
    )
    nodes = near["locations"]["nodes"]
    assert [n["code"] for n in nodes] == ["SH-A", "SH-B"]  # nearest first; no warehouse
    assert nodes[0]["distance"] < 200 < nodes[1]["distance"]
    stock = await member.data(
        """query($v: ID!, $near: NearInput!) { variant(id: $v) { code
          availability(near: $near, pickupOnly: true) {
            location { id code } status distance quantity } } }""",
        {"v": small, "near": NEAR_SH_A},
    )
    availability = stock["variant"]["availability"]
    assert [(a["location"]["code"], a["status"]) for a in availability] == [
        ("SH-A", "IN_STOCK"),
        ("SH-B", "LOW_STOCK"),
    ]
    assert all(a["quantity"] is None for a in availability)  # shoppers see no quantities
    assert availability[0]["location"]["id"] == store_a

    # --- the store's kiosk shows the pickup board
    board_topic = pickup_board_topic(sh_a.id)
    async with live(served, kiosk["token"]) as board:
        await board.subscribe(BOARD, {"id": store_a})
        await subscribed(runtime, board_topic)

        # --- the member orders two lines for pickup at SH-A
        placed = await mutate(
            member,
            "placeOrder",
            """mutation($a: ID!, $small: ID!, $large: ID!) { placeOrder(input: {
              channel: MINI_PROGRAM, idempotencyKey: "cart-lin-1",
              lines: [{variantId: $small, quantity: 2}, {variantId: $large, quantity: 1}],
              fulfilment: {pickup: {locationId: $a}}}) {
              order { id number status total { amount } lines { quantity }
                location { code } }
              errors { code message } } }""",
            {"a": store_a, "small": small, "large": large},
        )
        order = placed["order"]
        assert order["status"] == "PENDING_PAYMENT"
        assert order["total"]["amount"] == 2 * 1990 + 3500
        assert sorted(x["quantity"] for x in order["lines"]) == [1, 2]
        assert order["location"]["code"] == "SH-A"
        order_id = decode_id(order["id"], "Order")

        # --- the member's order page follows the order live
        async with live(served, member.token or "") as page:
            await page.subscribe(ORDER_UPDATED, {"id": order["id"]})
            await subscribed(runtime, order_topic(order_id))

            # --- pay: the client gets the instructions, the provider calls the webhook
            paying = await mutate(
                member,
                "payOrder",
                """mutation($o: ID!) { payOrder(input: {orderId: $o}) {
                  payment { paymentRef payload } errors { code message } } }""",
                {"o": order["id"]},
            )
            ref = paying["payment"]["paymentRef"]
            body = json.dumps(
                {"paymentRef": ref, "amount": 7480, "currency": "CNY", "status": "SUCCEEDED"}
            ).encode()
            signature = sign_body(runtime.settings.payment_secret, body)
            hook = await http.post(
                "/webhooks/payments/devpay", content=body, headers={SIGNATURE_HEADER: signature}
            )
            assert (hook.status_code, hook.json()) == (200, {"result": "paid"})
            paid = await page.next("orderUpdated")
            assert (paid["orderId"], paid["status"]) == (order["id"], "PAID")

            # --- the store works the order
            assert await step(manager, "startPreparingOrder", order["id"]) == "PREPARING"
            assert (await page.next("orderUpdated"))["status"] == "PREPARING"
            preparing = await board.next("pickupBoard")  # 准备中: on the board from here
            assert (preparing["orderId"], preparing["status"], preparing["snapshot"]) == (
                order["id"],
                "PREPARING",
                False,
            )
            assert (preparing["pickupNumber"], preparing["customerLabel"]) == ("A001", "林**")

            assert await step(manager, "markOrderReadyForPickup", order["id"]) == (
                "READY_FOR_PICKUP"
            )
            ready = await board.next("pickupBoard")
            assert ready["orderId"] == order["id"]
            assert ready["orderNumber"] == order["number"]
            assert ready["status"] == "READY_FOR_PICKUP"
            assert ready["pickupNumber"] == "A001"  # what the store calls
            assert ready["customerLabel"] == "林**"  # the kiosk never shows a whole name
            assert (await page.next("orderUpdated"))["status"] == "READY_FOR_PICKUP"

            # --- the member is told: the notification is in the outbox, then delivered
            mine = await member.data(
                "query($o: ID!) { order(id: $o) { status pickup { code qrPayload deadline } } }",
                {"o": order["id"]},
            )
            assert mine["order"]["status"] == "READY_FOR_PICKUP"
            code = mine["order"]["pickup"]["code"]
            assert len(code) == 6 and code.isdigit()
            outbox = await runtime.repos.outbox.for_orders([order_id])
            [message] = [m for m in outbox if m.kind == "ORDER_READY_FOR_PICKUP"]
            assert message.member_id == member_id
            assert message.data["code"] == code and message.data["store"] == sh_a.name
            assert message.data["order_number"] == order["number"]
            assert await deliver_due(runtime.outbox_deps) >= 1
            [sent] = [s for s in notifier.sent if s.kind == "ORDER_READY_FOR_PICKUP"]
            assert sent.body["touser"] == "openid-lin"  # the member's WeChat openid
            assert sent.body["data"]["character_string3"] == {"value": code}  # the dev template
            assert sent.dedupe_key == f"order:{order_id}:ready"

            # --- at the counter: the member shows the code, the manager hands over the goods
            done = await mutate(
                manager,
                "completePickup",
                """mutation($l: ID!, $c: String!) { completePickup(input: {locationId: $l,
                  pickupCode: $c}) { order { id status timeline { toStatus } }
                  errors { code message } } }""",
                {"l": store_a, "c": code},
            )
            assert done["order"]["id"] == order["id"]
            assert done["order"]["status"] == "PICKED_UP"
            assert [e["toStatus"] for e in done["order"]["timeline"]] == [
                "PENDING_PAYMENT",
                "PAID",
                "PREPARING",
                "READY_FOR_PICKUP",
                "PICKED_UP",
            ]
            picked = await board.next("pickupBoard")
            assert (picked["orderId"], picked["status"], picked["customerLabel"]) == (
                order["id"],
                "PICKED_UP",
                "林**",
            )
            assert (await page.next("orderUpdated"))["status"] == "PICKED_UP"
            await page.nothing_more()
        await board.nothing_more()
    await subscribed(runtime, board_topic, 0)  # closing the sockets unsubscribes
    await subscribed(runtime, order_topic(order_id), 0)

    # --- the goods left the shelf: stock committed, and the ledger agrees with the levels
    levels = await manager.data(
        """query($l: ID!, $v: [ID!]) { stockLevels(locationId: $l, variantIds: $v) {
          nodes { variant { code } onHand reserved available } } }""",
        {"l": store_a, "v": [small, large]},
    )
    assert {
        n["variant"]["code"]: (n["onHand"], n["reserved"], n["available"])
        for n in levels["stockLevels"]["nodes"]
    } == {"MANGO-1KG": (18, 0, 18), "MANGO-2KG": (19, 0, 19)}
    sums = await runtime.repos.inventory.ledger_sums()
    for store, variant in ((sh_a, small), (sh_a, large), (sh_b, small)):
        variant_id = decode_id(variant, "Variant")
        level = await runtime.repos.inventory.level(store.id, variant_id)
        assert level is not None
        assert sums[(store.id, variant_id)] == (level.on_hand, level.reserved)
    assert len(sums) == 3

    # --- a code works once
    again = await manager.data(
        """mutation($l: ID!, $c: String!) { completePickup(input: {locationId: $l,
          pickupCode: $c}) { order { id } errors { code } } }""",
        {"l": store_a, "c": code},
    )
    assert again["completePickup"]["order"] is None
    assert [e["code"] for e in again["completePickup"]["errors"]] == ["INVALID_PICKUP_CODE"]

    # --- two days later one mango is bruised: the member returns it and gets 19.90 back
    clock.advance(timedelta(days=2))
    member = web.as_(
        (
            await mutate(
                web,
                "loginWithWechat",
                """mutation { loginWithWechat(input: {appId: "wx-demo",
                  code: "test:openid-lin"}) { tokens { accessToken } errors { code message } } }""",
                {},
            )
        )["tokens"]["accessToken"]
    )
    manager = await relogin(web, "sh-a-manager")
    lines = (await member.data(LINES, {"id": order["id"]}))["order"]["lines"]
    [mango] = [line["id"] for line in lines if line["sku"] == "MANGO-1KG"]
    requested = await mutate(
        member,
        "requestAfterSale",
        """mutation($o: ID!, $l: ID!) { requestAfterSale(input: {orderId: $o,
          kind: RETURN_AND_REFUND, lines: [{orderLineId: $l, quantity: 1}],
          reason: "bruised", idempotencyKey: "return-lin-1"}) {
          afterSale { id status } errors { code message } } }""",
        {"o": order["id"], "l": mango},
    )
    after_sale = requested["afterSale"]["id"]
    decided = await mutate(
        manager,
        "approveAfterSale",
        """mutation($a: ID!) { approveAfterSale(input: {afterSaleId: $a}) {
          afterSale { status } errors { code message } } }""",
        {"a": after_sale},
    )
    assert decided["afterSale"]["status"] == "APPROVED"
    received = await mutate(
        manager,
        "receiveReturn",
        """mutation($a: ID!, $s: ID!, $l: ID!) { receiveReturn(input: {afterSaleId: $a,
          locationId: $s, lines: [{orderLineId: $l, quantity: 1, condition: RESALEABLE}]}) {
          afterSale { status refundAmount } errors { code message } } }""",
        {"a": after_sale, "s": store_a, "l": mango},
    )
    assert received["afterSale"] == {"status": "REFUNDING", "refundAmount": 1990}
    await process_refunds(runtime.ordering)  # devpay accepts the refund...
    clock.advance(POLL_AFTER + timedelta(seconds=1))
    await process_refunds(runtime.ordering)  # ...and its next poll says the money is back
    mine = await member.data("{ me { afterSales { nodes { id status refundAmount } } } }")
    assert mine["me"]["afterSales"]["nodes"] == [
        {"id": after_sale, "status": "REFUNDED", "refundAmount": 1990}
    ]
    shelf = await manager.data(
        """query($l: ID!, $v: [ID!]) { stockLevels(locationId: $l, variantIds: $v) {
          nodes { onHand } } }""",
        {"l": store_a, "v": [small]},
    )
    assert shelf["stockLevels"]["nodes"] == [{"onHand": 19}]  # back on the shelf
    outbox = await runtime.repos.outbox.for_orders([order_id])
    assert {"AFTER_SALE_APPROVED", "AFTER_SALE_REFUNDED"} <= {m.kind for m in outbox}
