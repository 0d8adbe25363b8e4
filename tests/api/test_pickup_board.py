"""A store's pickup board as a kiosk sees it (issue 14): the board as it is first, then every
change, once each, with the pickup number, the masked name and the order itself; and the
store's pickup queue, which its kiosk may read too."""

from __future__ import annotations

import dataclasses
from contextlib import AbstractAsyncContextManager
from typing import Any
from uuid import UUID

import httpx
import pytest

from api.relay import encode_id
from domain.identity.model import DeviceKind, Principal, PrincipalKind, StaffRole
from domain.identity.services import create_device
from domain.ids import new_id
from domain.live import LiveEvent, pickup_board_topic
from domain.ordering.lifecycle import mark_ready
from infra.runtime import Runtime
from tests.support.api import Api
from tests.support.orders import (
    Story,
    lid,
    make_variants,
    order_input,
    order_key,
    pay_online,
    place,
    receive,
)
from tests.support.shoppers import shopper
from tests.support.ws import Session, session, subscribed

BOARD = """
subscription($id: ID!) {
  pickupBoard(locationId: $id) {
    snapshot orderId orderNumber pickupNumber status customerLabel at
    order { id number pickupNumber status lines { name quantity } timeline { toStatus } }
  }
}"""

QUEUE = """query($l: ID!, $n: String) {
  pickupQueue(locationId: $l, pickupNumber: $n) { nodes { id pickupNumber status } } }"""


@pytest.fixture
async def story(
    client: httpx.AsyncClient, runtime: Runtime, stores: dict[str, Any], manager_a: Api
) -> Story:
    (mango,) = await make_variants(runtime, ("BOARD-M", "Mango 1kg", 1990))
    await receive(runtime, stores["SH-A"].id, mango, 50)
    return Story(client, runtime, stores, mango, manager_a)


async def kiosk_of(runtime: Runtime, location_id: UUID) -> str:
    _, token = await create_device(runtime.auth, location_id, DeviceKind.KIOSK)
    return token


async def watching(
    server: str, runtime: Runtime, stores: dict[str, Any]
) -> AbstractAsyncContextManager[Session]:
    return session(server, await kiosk_of(runtime, stores["SH-A"].id))


async def test_a_kiosk_starts_from_the_board_as_it_is_then_follows_changes(
    server: str, runtime: Runtime, stores: dict[str, Any], api: Api, story: Story
) -> None:
    lin, wang = await shopper(api, "lin", name="林小雨"), await shopper(api, "wang", name="王大明")
    ready = await story.ready(lin)
    preparing = await story.preparing(wang)
    paid = await story.paid(lin)  # paid, not yet being made: not on the board
    await story.picked_up(wang)  # gone from the board
    location = stores["SH-A"].id

    async with await watching(server, runtime, stores) as kiosk:
        await kiosk.subscribe(BOARD, {"id": encode_id("Location", location)})
        first, second = await kiosk.next("pickupBoard"), await kiosk.next("pickupBoard")
        await subscribed(runtime, pickup_board_topic(location))
        await kiosk.nothing_more()

        # The board as it is, oldest first: what a restarted kiosk shows at once.
        assert [(e["orderId"], e["status"], e["snapshot"]) for e in (first, second)] == [
            (ready["id"], "READY_FOR_PICKUP", True),
            (preparing["id"], "PREPARING", True),
        ]
        assert (first["pickupNumber"], first["customerLabel"]) == ("A001", "林**")
        assert (second["pickupNumber"], second["customerLabel"]) == ("A002", "王**")
        order = first["order"]
        assert (order["id"], order["number"], order["pickupNumber"]) == (
            ready["id"],
            ready["number"],
            "A001",
        )
        assert order["status"] == "READY_FOR_PICKUP"
        assert order["lines"] == [{"name": "Mango 1kg", "quantity": 2}]  # not "Mango Mango 1kg"
        assert order["timeline"] is None  # a kiosk shows orders; their history is the staff's

        # Then the changes, as they happen.
        assert await story_step(story, "startPreparingOrder", paid) == "PREPARING"
        joined = await kiosk.next("pickupBoard")
        assert (joined["orderId"], joined["status"], joined["snapshot"]) == (
            paid["id"],
            "PREPARING",
            False,
        )
        assert (joined["pickupNumber"], joined["customerLabel"]) == ("A003", "林**")
        assert joined["order"]["status"] == "PREPARING"
        assert await story_step(story, "markOrderReadyForPickup", preparing) == ("READY_FOR_PICKUP")
        moved = await kiosk.next("pickupBoard")
        assert (moved["orderId"], moved["status"], moved["customerLabel"]) == (
            preparing["id"],
            "READY_FOR_PICKUP",
            "王**",
        )
        assert moved["order"]["status"] == "READY_FOR_PICKUP"  # read now, not when subscribed
        await kiosk.nothing_more()


async def story_step(story: Story, mutation: str, order: dict[str, Any]) -> str:
    from tests.support.orders import stepped

    return await stepped(story.staff, mutation, order["id"])


class Held:
    """A live bus that keeps what it is given: the event of a change whose transaction has
    committed but whose publication has not arrived yet."""

    def __init__(self) -> None:
        self.events: list[LiveEvent] = []

    async def publish(self, event: LiveEvent) -> None:
        self.events.append(event)

    def subscribe(self, topic: str) -> Any:
        raise NotImplementedError


async def test_a_change_the_board_state_already_shows_is_not_sent_again(
    server: str, runtime: Runtime, stores: dict[str, Any], api: Api, story: Story
) -> None:
    """The race the subscription is built for: an order becomes ready and its transaction
    commits, the kiosk subscribes and reads the board (ready), and only then does the event
    arrive. The kiosk gets the order once, from the state; the late copy is dropped."""
    location = stores["SH-A"].id
    late = await story.preparing(await shopper(api, "lin", name="林小雨"))
    held = Held()
    manager = Principal(
        PrincipalKind.STAFF, new_id(), role=StaffRole.STORE_MANAGER, store_ids=frozenset({location})
    )
    await mark_ready(dataclasses.replace(runtime.ordering, live=held), manager, order_key(late))
    [board_copy] = [e for e in held.events if e.topic == pickup_board_topic(location)]

    async with await watching(server, runtime, stores) as kiosk:
        await kiosk.subscribe(BOARD, {"id": encode_id("Location", location)})
        shown = await kiosk.next("pickupBoard")
        assert (shown["orderId"], shown["status"], shown["snapshot"]) == (
            late["id"],
            "READY_FOR_PICKUP",
            True,
        )
        await subscribed(runtime, pickup_board_topic(location))
        await runtime.live.publish(board_copy)  # the real event, arriving late
        await kiosk.nothing_more()

        # A change after the state was read does arrive.
        newer = await story.preparing(await shopper(api, "wang", name="王大明"))
        event = await kiosk.next("pickupBoard")
        assert (event["orderId"], event["status"], event["snapshot"]) == (
            newer["id"],
            "PREPARING",
            False,
        )


async def test_a_kiosk_reads_its_own_stores_queue_and_finds_an_order_by_number(
    runtime: Runtime, stores: dict[str, Any], api: Api, story: Story
) -> None:
    first = await story.paid(await shopper(api, "lin", name="林小雨"))
    second = await story.ready(await shopper(api, "wang", name="王大明"))
    kiosk = api.as_(await kiosk_of(runtime, stores["SH-A"].id))
    at_a = encode_id("Location", stores["SH-A"].id)

    queue = (await kiosk.data(QUEUE, {"l": at_a}))["pickupQueue"]["nodes"]
    assert queue == [
        {"id": second["id"], "pickupNumber": "A002", "status": "READY_FOR_PICKUP"},
        {"id": first["id"], "pickupNumber": "A001", "status": "PAID"},
    ]
    found = (await kiosk.data(QUEUE, {"l": at_a, "n": " a002 "}))["pickupQueue"]["nodes"]
    assert [n["id"] for n in found] == [second["id"]]
    assert (await kiosk.data(QUEUE, {"l": at_a, "n": "A404"}))["pickupQueue"]["nodes"] == []


async def test_a_kiosk_does_not_read_the_customers_note_the_stores_staff_do(
    runtime: Runtime, stores: dict[str, Any], api: Api, manager_a: Api, story: Story
) -> None:
    """A kiosk is a public screen: no customer's words on it. The store's POS and staff,
    who make the drink, read them."""
    member = await shopper(api, "lin", name="林小雨")
    placed = await place(
        member.api,
        order_input([(story.mango, 1)], pickup=lid(stores, "SH-A"), note="少冰, call 13800138000"),
    )
    await pay_online(story.client, runtime, member, placed["order"])
    queue = """query($l: ID!) { pickupQueue(locationId: $l) { nodes { note } } }"""
    at_a = {"l": encode_id("Location", stores["SH-A"].id)}
    kiosk = api.as_(await kiosk_of(runtime, stores["SH-A"].id))
    _, pos_token = await create_device(runtime.auth, stores["SH-A"].id, DeviceKind.POS)
    assert (await kiosk.data(queue, at_a))["pickupQueue"]["nodes"] == [{"note": None}]
    for staff in (api.as_(pos_token), manager_a):
        nodes = (await staff.data(queue, at_a))["pickupQueue"]["nodes"]
        assert nodes == [{"note": "少冰, call 13800138000"}]
    mine = "query($id: ID!) { order(id: $id) { note } }"
    assert (await member.api.data(mine, {"id": placed["order"]["id"]}))["order"] == {
        "note": "少冰, call 13800138000"
    }


async def test_customer_service_finds_the_order_a_store_called(
    stores: dict[str, Any], api: Api, admin: Api, story: Story
) -> None:
    """CS, on the phone with a customer who says "A002 at Xujiahui": `orders` by store and
    pickup number (closed orders too, unlike the store's queue)."""
    await story.paid(await shopper(api, "lin", name="林小雨"))
    collected = await story.picked_up(await shopper(api, "wang", name="王大明"))
    by_number = """query($l: ID, $n: String) { orders(locationId: $l, pickupNumber: $n) {
      nodes { id pickupNumber status location { code } } } }"""
    at_a, at_b = (encode_id("Location", stores[c].id) for c in ("SH-A", "SH-B"))

    found = (await admin.data(by_number, {"l": at_a, "n": "a002"}))["orders"]["nodes"]
    assert found == [
        {
            "id": collected["id"],
            "pickupNumber": "A002",
            "status": "PICKED_UP",
            "location": {"code": "SH-A"},
        }
    ]
    assert (await admin.data(by_number, {"l": at_b, "n": "A002"}))["orders"]["nodes"] == []
    everywhere = (await admin.data(by_number, {"l": None, "n": "A001"}))["orders"]["nodes"]
    assert [n["pickupNumber"] for n in everywhere] == ["A001"]


async def test_other_stores_queues_stay_closed_and_the_refusal_says_what_is_allowed(
    runtime: Runtime, stores: dict[str, Any], api: Api
) -> None:
    at_a = encode_id("Location", stores["SH-A"].id)
    member = await shopper(api, "lin", name="林小雨")
    for caller in (api.as_(await kiosk_of(runtime, stores["SH-B"].id)), member.api):
        answer = await caller(QUEUE, {"l": at_a})
        assert answer["data"] is None
        [error] = answer["errors"]
        assert error["extensions"]["code"] == "FORBIDDEN"
        assert "store you work at" in error["message"] and "kiosk" in error["message"]
    anonymous = await api(QUEUE, {"l": at_a})
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    bad_id = await api.as_(await kiosk_of(runtime, stores["SH-A"].id))(QUEUE, {"l": "nope"})
    assert bad_id["errors"][0]["extensions"]["code"] == "INVALID_ID"


ORDER_PAGE = """subscription($id: ID!) {
  orderUpdated(orderId: $id) { orderId status at order { id status pickupNumber } } }"""


async def test_an_order_page_gets_the_order_as_it_is_at_each_event(
    server: str, api: Api, story: Story
) -> None:
    """Each event reads the order when it is sent (one subscription, fresh loaders): the
    second event does not show the first one's order."""
    member = await shopper(api, "lin", name="林小雨")
    order = await story.paid(member)
    assert member.api.token is not None
    async with session(server, member.api.token) as page:
        await page.subscribe(ORDER_PAGE, {"id": order["id"]})
        await page.nothing_more()  # no state first: an order page reads the order itself
        assert await story_step(story, "startPreparingOrder", order) == "PREPARING"
        events = [await page.next("orderUpdated")]
        assert await story_step(story, "markOrderReadyForPickup", order) == "READY_FOR_PICKUP"
        events.append(await page.next("orderUpdated"))
    assert [(e["status"], e["order"]["status"]) for e in events] == [
        ("PREPARING", "PREPARING"),
        ("READY_FOR_PICKUP", "READY_FOR_PICKUP"),
    ]
    assert {e["order"]["id"] for e in events} == {order["id"]}
    assert events[0]["order"]["pickupNumber"] == "A001"
