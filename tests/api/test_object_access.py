"""Object-level authorisation (issue 8): callers who may use an operation, but not on this
object. A member cannot reach another member's order, subscription or points; staff and
devices of store A cannot work, read or watch store B. Every refusal leaves the object as it
was, and a member is told NOT_FOUND exactly as for an id that does not exist (nothing leaks).
Each test also shows that the rightful caller can do the same thing, so a refusal is not an
accident of the setup."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import httpx
import pytest

from api.relay import encode_id
from domain.identity.model import DeviceKind
from domain.live import pickup_board_topic
from domain.locations.model import Location
from infra.runtime import Runtime
from tests.support.api import Api
from tests.support.payloads import top_level_codes
from tests.support.world import (
    World,
    device_token,
    paid_pickup,
    principals,
    transfer,
    weekly_subscription,
)
from tests.support.ws import session, subscribed

ORDER = """query($id: ID!) { order(id: $id) { id number status } }"""
NODE = """query($id: ID!) { node(id: $id) { id ... on Order { number status } } }"""
MEMBER_NODE = """query($id: ID!) { node(id: $id) { id ... on Member {
  points { balance history { nodes { kind amount } } } subscriptions { nodes { id } } } } }"""
MEMBER = """query($id: ID!) { member(id: $id) { id points { balance }
  subscriptions { nodes { id status } } } }"""
ME = """{ me { id points { balance history { nodes { kind amount } } }
  orders { nodes { id } } subscriptions { nodes { id } } } }"""
STAFF_VIEW = """query($id: ID!) { order(id: $id) { id status atRisk
  timeline { fromStatus toStatus actor } payments { kind status amount { amount } } } }"""
PICKUP = """query($id: ID!) { order(id: $id) { pickup { code qrPayload } } }"""
ERRORS = "errors { code field message }"
ORDER_UPDATED = "subscription($id: ID!) { orderUpdated(orderId: $id) { orderId status } }"
BOARD = "subscription($id: ID!) { pickupBoard(locationId: $id) { orderId status } }"
SUBSCRIPTION = """id status nextDeliveryDate pausedUntil cancelReason interval { unit count }
  pickupLocation { code } lines { quantity } history { what }"""
MY_SUBSCRIPTIONS = f"{{ me {{ subscriptions {{ nodes {{ {SUBSCRIPTION} }} }} }} }}"
LEVELS = """query($l: ID!, $v: [ID!]) { stockLevels(locationId: $l, variantIds: $v) {
  nodes { onHand reserved safetyStock } } }"""
QUEUE = "query($l: ID!) { pickupQueue(locationId: $l) { nodes { id } } }"
MOVEMENTS = """query($l: ID) { stockMovements(filter: {locationId: $l}) { nodes { id } } }"""
DISCREPANCIES = "query($l: ID) { stockDiscrepancies(locationId: $l) { nodes { variant { id } } } }"
TRANSFER = "query($id: ID!) { stockTransfer(id: $id) { id state } }"


def mutation(name: str, input_type: str, result: str) -> str:
    return f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ {result} {ERRORS} }} }}"


ORDER_MUTATIONS = {
    name: mutation(name, input_type, "order { id status }")
    for name, input_type in (
        ("payOrder", "PayOrderInput"),
        ("cancelOrder", "CancelOrderInput"),
        ("recordInStorePayment", "InStorePaymentInput"),
        ("startPreparingOrder", "OrderIdInput"),
        ("markOrderReadyForPickup", "OrderIdInput"),
        ("completePickup", "CompletePickupInput"),
    )
}
SUBSCRIPTION_MUTATIONS = {
    name: mutation(name, input_type, "subscription { id status }")
    for name, input_type in (
        ("pauseSubscription", "PauseSubscriptionInput"),
        ("resumeSubscription", "SubscriptionIdInput"),
        ("skipNextDelivery", "SubscriptionIdInput"),
        ("rescheduleNextDelivery", "RescheduleInput"),
        ("changeSubscriptionInterval", "ChangeIntervalInput"),
        ("changeSubscriptionFulfilment", "ChangeFulfilmentInput"),
        ("cancelSubscription", "CancelSubscriptionInput"),
    )
}
MUTATIONS = {
    **ORDER_MUTATIONS,
    **SUBSCRIPTION_MUTATIONS,
    "inventoryAdjust": mutation("inventoryAdjust", "InventoryAdjustInput", "stockLevel { onHand }"),
    "recordPosSales": mutation("recordPosSales", "RecordPosSalesInput", "replayed"),
}
ADJUST_POINTS = mutation("adjustPoints", "AdjustPointsInput", "entry { amount }")
CHECK_IN = f"mutation {{ dailyCheckIn {{ entry {{ amount }} {ERRORS} }} }}"


@pytest.fixture
async def world(api: Api, runtime: Runtime, stores: dict[str, Location]) -> World:
    return await principals(api, runtime, stores)


def as_(world: World, principal: str) -> Api:
    return world.api.as_(world.tokens[principal])


async def run(caller: Api, name: str, **input_: Any) -> dict[str, Any]:
    """One of MUTATIONS; returns its payload."""
    payload: dict[str, Any] = (await caller.data(MUTATIONS[name], {"input": input_}))[name]
    return payload


def refusal(payload: dict[str, Any]) -> tuple[str, list[str] | None, str]:
    """The single error of a refused mutation, which returns nothing else."""
    results = {k: v for k, v in payload.items() if k != "errors"}
    assert all(v in (None, [], False) for v in results.values()), payload
    [error] = payload["errors"]
    return error["code"], error["field"], error["message"]


def unknown(type_name: str) -> str:
    return encode_id(type_name, uuid4())


# ---------------------------------------------------------------- member against member


async def test_a_member_cannot_read_another_members_order_by_any_root_field(
    world: World, client: httpx.AsyncClient, runtime: Runtime, server: str
) -> None:
    order = await paid_pickup(client, runtime, world, world.member_b, "SH-B")
    a, b = world.member_a.api, world.member_b.api

    for query, field in ((ORDER, "order"), (NODE, "node")):
        assert (await b.data(query, {"id": order}))[field]["id"] == order
        theirs = await a(query, {"id": order})
        nobodys = await a(query, {"id": unknown("Order")})
        assert theirs == nobodys, (theirs, nobodys)
        assert theirs["data"] == {field: None} and "errors" not in theirs
    mine = (await a.data(ME))["me"]
    assert mine["orders"]["nodes"] == []

    async with session(server, world.member_a.api.token) as s:
        theirs_code = await s.refused(ORDER_UPDATED, {"id": order})
    async with session(server, world.member_a.api.token) as s:
        nobodys_code = await s.refused(ORDER_UPDATED, {"id": unknown("Order")})
    assert theirs_code == nobodys_code == "NOT_FOUND"


async def test_a_member_cannot_reach_another_members_points_or_subscription(
    world: World, runtime: Runtime
) -> None:
    subscription = await weekly_subscription(runtime, world, world.member_b, "SH-B")
    b_id = world.member_b.id
    earned = (await world.member_b.api.data(CHECK_IN))["dailyCheckIn"]
    assert earned["errors"] == [], earned
    theirs = (await world.member_b.api.data(ME))["me"]
    assert theirs["points"]["balance"] > 0 and theirs["points"]["history"]["nodes"]
    assert [s["id"] for s in theirs["subscriptions"]["nodes"]] == [subscription]

    a = world.member_a.api
    assert (await a.data(MEMBER_NODE, {"id": b_id}))["node"] is None
    assert (await a.data(NODE, {"id": subscription}))["node"] is None
    assert top_level_codes(await a(MEMBER, {"id": b_id})) == ["FORBIDDEN"]
    grab = {"input": {"memberId": b_id, "delta": 500, "reason": "mine now"}}
    assert top_level_codes(await a(ADJUST_POINTS, grab)) == ["FORBIDDEN"]
    mine = (await a.data(ME))["me"]
    assert mine["points"]["balance"] == 0 and mine["points"]["history"]["nodes"] == []
    assert mine["subscriptions"]["nodes"] == []
    # Customer service, who may, sees them through the same fields.
    seen = (await as_(world, "cs_agent").data(MEMBER, {"id": b_id}))["member"]
    assert seen["points"]["balance"] == theirs["points"]["balance"]
    assert [s["id"] for s in seen["subscriptions"]["nodes"]] == [subscription]
    assert (await world.member_b.api.data(ME))["me"] == theirs


async def test_a_member_cannot_pay_or_cancel_another_members_order(
    world: World, client: httpx.AsyncClient, runtime: Runtime
) -> None:
    order = await paid_pickup(client, runtime, world, world.member_b, "SH-B")
    cs = as_(world, "cs_agent")
    before = (await cs.data(STAFF_VIEW, {"id": order}))["order"]
    a = world.member_a.api

    for name, fields in (
        ("payOrder", {}),
        ("cancelOrder", {"reason": "not mine, cancel it"}),
    ):
        theirs = refusal(await run(a, name, orderId=order, **fields))
        nobodys = refusal(await run(a, name, orderId=unknown("Order"), **fields))
        assert theirs == nobodys and theirs[0] == "NOT_FOUND", (theirs, nobodys)
    assert (await cs.data(STAFF_VIEW, {"id": order}))["order"] == before
    # The owner may cancel it: the refusals were about who asked.
    done = await run(world.member_b.api, "cancelOrder", orderId=order, reason="changed my mind")
    assert done["errors"] == [] and done["order"]["status"] == "CANCELLED", done


def subscription_changes(world: World) -> dict[str, dict[str, Any]]:
    """Valid arguments besides the id, so that only the owner check can refuse them."""
    return {
        "pauseSubscription": {},
        "resumeSubscription": {},
        "skipNextDelivery": {},
        "rescheduleNextDelivery": {"date": "2030-01-01"},
        "changeSubscriptionInterval": {"interval": {"unit": "WEEK", "count": 2}},
        "changeSubscriptionFulfilment": {
            "fulfilment": {"pickup": {"locationId": world.store("SH-A")}}
        },
        "cancelSubscription": {"reason": "not mine"},
    }


async def test_a_member_cannot_change_another_members_subscription(
    world: World, runtime: Runtime
) -> None:
    subscription = await weekly_subscription(runtime, world, world.member_b, "SH-B")
    before = (await world.member_b.api.data(MY_SUBSCRIPTIONS))["me"]
    a = world.member_a.api

    for name, fields in subscription_changes(world).items():
        theirs = refusal(await run(a, name, id=subscription, **fields))
        nobodys = refusal(await run(a, name, id=unknown("Subscription"), **fields))
        assert theirs == nobodys and theirs[0] == "NOT_FOUND", (name, theirs, nobodys)
    assert (await world.member_b.api.data(MY_SUBSCRIPTIONS))["me"] == before
    paused = await run(world.member_b.api, "pauseSubscription", id=subscription)
    assert paused["errors"] == [] and paused["subscription"]["status"] == "PAUSED", paused


# ---------------------------------------------------------------- store A against store B


async def ready_at_b(
    world: World, client: httpx.AsyncClient, runtime: Runtime
) -> tuple[str, str, str]:
    """Member B's order, packed at SH-B: (order id, its pickup code, its QR payload)."""
    order = await paid_pickup(client, runtime, world, world.member_b, "SH-B")
    clerk_b = as_(world, "clerk_b")
    for step in ("startPreparingOrder", "markOrderReadyForPickup"):
        done = await run(clerk_b, step, orderId=order)
        assert done["errors"] == [], done
    pickup = (await world.member_b.api.data(PICKUP, {"id": order}))["order"]["pickup"]
    return order, pickup["code"], pickup["qrPayload"]


async def level_at(world: World, code: str) -> dict[str, Any]:
    nodes = (
        await as_(world, "admin").data(LEVELS, {"l": world.store(code), "v": [world.variant]})
    )["stockLevels"]["nodes"]
    [level] = nodes
    found: dict[str, Any] = level
    return found


async def test_store_a_cannot_prepare_ready_or_hand_over_a_store_b_pickup(
    world: World, client: httpx.AsyncClient, runtime: Runtime
) -> None:
    paid = await paid_pickup(client, runtime, world, world.member_b, "SH-B")
    order, code, qr = await ready_at_b(world, client, runtime)
    cs = as_(world, "cs_agent")
    before = {o: (await cs.data(STAFF_VIEW, {"id": o}))["order"] for o in (paid, order)}
    stock_before = await level_at(world, "SH-B")

    for outsider in ("clerk_a", "manager_a", "pos_a"):
        caller = as_(world, outsider)
        for step, target in (("startPreparingOrder", paid), ("markOrderReadyForPickup", order)):
            refused = refusal(await run(caller, step, orderId=target))
            assert refused[:2] == ("FORBIDDEN", ["orderId"])
        for presented in (code, qr):
            answer = await run(
                caller, "completePickup", locationId=world.store("SH-B"), pickupCode=presented
            )
            assert refusal(answer)[:2] == ("FORBIDDEN", ["locationId"]), answer
            # At their own store the code of SH-B's order means nothing.
            answer = await run(
                caller, "completePickup", locationId=world.store("SH-A"), pickupCode=presented
            )
            assert refusal(answer)[0] == "INVALID_PICKUP_CODE", answer
        cancel = await run(caller, "cancelOrder", orderId=order, reason="not our store")
        assert refusal(cancel)[:2] == ("FORBIDDEN", ["orderId"])
        pay = await run(caller, "recordInStorePayment", orderId=paid, method="CASH", amount=1990)
        assert refusal(pay)[0] == "FORBIDDEN"
        assert (await caller.data(ORDER, {"id": order}))["order"] is None

    assert {o: (await cs.data(STAFF_VIEW, {"id": o}))["order"] for o in (paid, order)} == before
    assert await level_at(world, "SH-B") == stock_before
    # The store's own clerk hands it over with the same code.
    done = await run(
        as_(world, "clerk_b"), "completePickup", locationId=world.store("SH-B"), pickupCode=code
    )
    assert done["errors"] == [] and done["order"]["status"] == "PICKED_UP", done


async def test_store_a_cannot_read_store_b_queue_stock_or_transfers(
    world: World, client: httpx.AsyncClient, runtime: Runtime
) -> None:
    order = await paid_pickup(client, runtime, world, world.member_b, "SH-B")
    to_b = await transfer(runtime, world, "WH-1", "SH-B")
    b = {"l": world.store("SH-B")}
    of_b = [
        (QUEUE, b),
        (LEVELS, {**b, "v": [world.variant]}),
        (MOVEMENTS, b),
        (DISCREPANCIES, b),
        (TRANSFER, {"id": to_b}),
    ]
    # A store-scoped caller must name one of its stores to list the network's ledger.
    unfiltered = [(MOVEMENTS, {"l": None}), (DISCREPANCIES, {"l": None})]
    for outsider in ("clerk_a", "manager_a", "pos_a"):
        caller = as_(world, outsider)
        for query, variables in of_b + unfiltered:
            body = await caller(query, variables)
            assert top_level_codes(body) == ["FORBIDDEN"], (outsider, query, body)
            assert not any((body["data"] or {}).values()), body
    # The store's own clerk reads all of it.
    clerk_b = as_(world, "clerk_b")
    for query, variables in of_b:
        assert "errors" not in await clerk_b(query, variables), query
    queue = (await clerk_b.data(QUEUE, b))["pickupQueue"]["nodes"]
    assert [o["id"] for o in queue] == [order]


async def test_store_a_cannot_adjust_store_b_stock(world: World) -> None:
    before = await level_at(world, "SH-B")
    movements = await as_(world, "admin").data(MOVEMENTS, {"l": world.store("SH-B")})
    for outsider in ("clerk_a", "manager_a"):
        answer = await run(
            as_(world, outsider),
            "inventoryAdjust",
            locationId=world.store("SH-B"),
            variantId=world.variant,
            delta=-5,
            reason="shrinkage",
        )
        assert refusal(answer)[:2] == ("FORBIDDEN", ["locationId"]), answer
    assert await level_at(world, "SH-B") == before
    assert await as_(world, "admin").data(MOVEMENTS, {"l": world.store("SH-B")}) == movements
    done = await run(
        as_(world, "clerk_b"),
        "inventoryAdjust",
        locationId=world.store("SH-B"),
        variantId=world.variant,
        delta=-5,
        reason="shrinkage",
    )
    assert done["errors"] == [] and done["stockLevel"]["onHand"] == before["onHand"] - 5


async def test_a_kiosk_of_store_a_cannot_watch_the_store_b_board(
    world: World, runtime: Runtime, server: str
) -> None:
    board_b = pickup_board_topic(world.stores["SH-B"].id)
    async with session(server, world.tokens["kiosk_a"]) as s:
        assert await s.refused(BOARD, {"id": world.store("SH-B")}) == "FORBIDDEN"
    assert runtime.live.subscriber_count(board_b) == 0
    # Its own store's board it may watch.
    async with session(server, world.tokens["kiosk_a"]) as s:
        await s.subscribe(BOARD, {"id": world.store("SH-A")})
        await subscribed(runtime, pickup_board_topic(world.stores["SH-A"].id))


async def test_a_pos_of_store_a_cannot_record_a_sale_at_store_b(
    world: World, runtime: Runtime
) -> None:
    before = await level_at(world, "SH-B")
    sale = {
        "locationId": world.store("SH-B"),
        "posTransactionId": "TILL-1-0001",
        "lines": [{"variantId": world.variant, "quantity": 3, "lineTotal": 5970}],
    }
    answer = await run(as_(world, "pos_a"), "recordPosSales", **sale)
    assert refusal(answer)[:2] == ("FORBIDDEN", ["locationId"]), answer
    assert await level_at(world, "SH-B") == before
    # SH-B's own till records the same transaction for the first time: nothing was kept.
    pos_b = world.api.as_(await device_token(runtime, world.stores["SH-B"], DeviceKind.POS))
    done = await run(pos_b, "recordPosSales", **sale)
    assert done["errors"] == [] and done["replayed"] is False, done
    assert (await level_at(world, "SH-B"))["onHand"] == before["onHand"] - 3


PLACE_ORDER = mutation("placeOrder", "PlaceOrderInput", "order { id status location { code } }")


async def test_store_a_cannot_place_pickup_orders_at_store_b(world: World) -> None:
    """A kiosk, till, clerk or manager of SH-A ordering for pickup at SH-B would reserve
    SH-B's shelf (here all of it) for any member: refused, nothing reserved."""
    before = await level_at(world, "SH-B")

    def order_at(code: str, quantity: int, member: str | None) -> dict[str, Any]:
        return {
            "input": {
                "channel": "POS",
                "lines": [{"variantId": world.variant, "quantity": quantity}],
                "fulfilment": {"pickup": {"locationId": world.store(code)}},
                "memberId": member,
            }
        }

    for outsider in ("clerk_a", "manager_a", "kiosk_a", "pos_a"):
        for member in (world.member_b.id, None):
            answer = (await as_(world, outsider).data(PLACE_ORDER, order_at("SH-B", 50, member)))[
                "placeOrder"
            ]
            assert refusal(answer)[:2] == ("FORBIDDEN", ["fulfilment", "pickup", "locationId"])
    assert await level_at(world, "SH-B") == before
    admin_view = await as_(world, "admin").data(MEMBER, {"id": world.member_b.id})
    assert admin_view["member"] is not None

    # At their own store they order for the member; SH-B's own clerk orders at SH-B.
    for caller, code in (("pos_a", "SH-A"), ("kiosk_a", "SH-A"), ("clerk_b", "SH-B")):
        answer = (await as_(world, caller).data(PLACE_ORDER, order_at(code, 1, world.member_b.id)))[
            "placeOrder"
        ]
        assert answer["errors"] == [], answer
        assert answer["order"]["location"]["code"] == code
    assert (await level_at(world, "SH-B"))["reserved"] == before["reserved"] + 1

    # The member must exist and be active, also at the caller's own store.
    answer = (await as_(world, "pos_a").data(PLACE_ORDER, order_at("SH-A", 1, unknown("Member"))))[
        "placeOrder"
    ]
    assert refusal(answer)[:2] == ("NOT_FOUND", ["memberId"])
