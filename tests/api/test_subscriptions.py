"""Subscriptions over a real WebSocket (graphql-transport-ws) against the served app.

Starlette's TestClient would run the app on its own event loop in another thread, away from
the session's database connections and from the live bus the test publishes on; so uvicorn
serves the app on a free local port inside the test's loop instead, and the `websockets`
library is the client.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from uuid import UUID, uuid4

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from api.relay import encode_id
from domain.identity.model import DeviceKind
from domain.identity.services import create_device
from domain.live import LiveEvent, order_topic, order_update_event, pickup_board_topic
from infra.runtime import Runtime
from tests.support.api import Api
from tests.support.ws import BOARD, ORDER_UPDATED, PROTOCOL, session, subscribed


async def kiosk(runtime: Runtime, location_id: UUID) -> str:
    _, token = await create_device(runtime.auth, location_id, DeviceKind.KIOSK)
    return token


def board_id(stores: dict[str, Any], code: str) -> str:
    return encode_id("Location", stores[code].id)


async def test_a_kiosk_sees_its_store_board_with_the_token_in_connection_init(
    server: str, runtime: Runtime, stores: dict[str, Any]
) -> None:
    location = stores["SH-A"].id
    topic = pickup_board_topic(location)
    order = uuid4()
    async with session(server, await kiosk(runtime, location)) as s:
        await s.subscribe(BOARD, {"id": board_id(stores, "SH-A")})
        await subscribed(runtime, topic)
        await runtime.live.publish(
            LiveEvent(
                topic,
                {
                    "order_id": str(order),
                    "order_number": "A-0042",
                    "status": "READY_FOR_PICKUP",
                    "customer_label": "王**",
                    "at": "2026-03-01T09:30:00+00:00",
                },
            )
        )
        message = await s.receive()
        assert (message["id"], message["type"]) == ("1", "next")
        assert message["payload"]["data"] == {
            "pickupBoard": {
                "orderId": encode_id("Order", order),
                "orderNumber": "A-0042",
                "pickupNumber": None,
                "status": "READY_FOR_PICKUP",
                "customerLabel": "王**",
                "at": "2026-03-01T09:30:00+00:00",
                "snapshot": False,
            }
        }
        assert "errors" not in message["payload"]
        await s.send({"id": "1", "type": "complete"})
        await subscribed(runtime, topic, 0)  # completing the operation unsubscribes


async def test_staff_of_the_store_may_send_the_token_as_a_header(
    server: str, runtime: Runtime, stores: dict[str, Any], clerk_a: Api
) -> None:
    topic = pickup_board_topic(stores["SH-A"].id)
    async with session(server, header_token=clerk_a.token) as s:
        await s.subscribe(BOARD, {"id": board_id(stores, "SH-A")})
        await subscribed(runtime, topic)
        await runtime.live.publish(
            LiveEvent(
                topic,
                {
                    "order_id": str(uuid4()),
                    "order_number": "A-7",
                    "status": "PREPARING",
                    "at": "2026-03-01T10:00:00+00:00",
                },
            )
        )
        data = (await s.receive())["payload"]["data"]["pickupBoard"]
        assert data["orderNumber"] == "A-7" and data["customerLabel"] is None
    await subscribed(runtime, topic, 0)  # closing the socket unsubscribes


async def test_a_kiosk_of_another_store_is_refused(
    server: str, runtime: Runtime, stores: dict[str, Any]
) -> None:
    async with session(server, await kiosk(runtime, stores["SH-B"].id)) as s:
        assert await s.refused(BOARD, {"id": board_id(stores, "SH-A")}) == "FORBIDDEN"
    assert runtime.live.subscriber_count(pickup_board_topic(stores["SH-A"].id)) == 0


async def test_an_anonymous_caller_is_refused(server: str, stores: dict[str, Any]) -> None:
    async with session(server) as s:
        assert await s.refused(BOARD, {"id": board_id(stores, "SH-A")}) == "UNAUTHENTICATED"


async def test_a_malformed_id_is_refused_with_its_code(
    server: str, runtime: Runtime, stores: dict[str, Any], admin: Api
) -> None:
    async with session(server, admin.token) as s:
        assert await s.refused(BOARD, {"id": "not-an-id"}) == "INVALID_ID"
    async with session(server, admin.token) as s:
        unknown = encode_id("Location", uuid4())
        assert await s.refused(BOARD, {"id": unknown}) == "NOT_FOUND"


async def test_a_bad_token_in_connection_init_closes_the_socket(server: str) -> None:
    async with connect(server, subprotocols=[PROTOCOL]) as ws:
        init = {"authorization": "Bearer not-a-token"}
        await ws.send(json.dumps({"type": "connection_init", "payload": init}))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


async def test_a_bad_header_token_is_refused_at_the_handshake(server: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(
            server,
            subprotocols=[PROTOCOL],
            additional_headers={"Authorization": "Bearer not-a-token"},
        ):
            pass
    assert refused.value.response.status_code == 403


async def test_order_updates_are_not_found_until_ordering_provides_access(
    server: str, runtime: Runtime, admin: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime, "order_access", None)
    async with session(server, admin.token) as s:
        order = encode_id("Order", uuid4())
        assert await s.refused(ORDER_UPDATED, {"id": order}) == "NOT_FOUND"


class OneOrder:
    def __init__(self, order_id: UUID, member_id: UUID | None, location_id: UUID):
        self.order_id, self.parties = order_id, (member_id, location_id)

    async def order_parties(self, order_id: UUID) -> tuple[UUID | None, UUID] | None:
        return self.parties if order_id == self.order_id else None


async def test_order_updates_reach_the_store_staff_and_no_other(
    server: str,
    runtime: Runtime,
    stores: dict[str, Any],
    clerk_a: Api,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    at_a, at_b = uuid4(), uuid4()
    monkeypatch.setattr(runtime, "order_access", OneOrder(at_a, None, stores["SH-A"].id))
    async with session(server, clerk_a.token) as s:
        await s.subscribe(ORDER_UPDATED, {"id": encode_id("Order", at_a)})
        await subscribed(runtime, order_topic(at_a))
        await runtime.live.publish(
            order_update_event(at_a, status="READY_FOR_PICKUP", at=runtime.clock.now())
        )
        data = (await s.receive())["payload"]["data"]["orderUpdated"]
        assert data["orderId"] == encode_id("Order", at_a)
        assert data["status"] == "READY_FOR_PICKUP"
    monkeypatch.setattr(runtime, "order_access", OneOrder(at_b, None, stores["SH-B"].id))
    async with session(server, clerk_a.token) as s:
        assert await s.refused(ORDER_UPDATED, {"id": encode_id("Order", at_b)}) == "FORBIDDEN"


async def test_the_board_shows_the_customers_masked_name(
    server: str, runtime: Runtime, stores: dict[str, Any], api: Api, manager_a: Api
) -> None:
    """Issue 13: production's board events never carried `customerLabel` (a twin function
    that masked the name was only called by tests). A member enrolled at the till as 林小雨
    orders there; the kiosk shows 林**."""
    from tests.support.orders import in_store, make_variants, order_input, placed, receive, stepped

    (mango,) = await make_variants(runtime, ("BOARD-1", "1kg", 990))
    location = stores["SH-A"].id
    await receive(runtime, location, mango, 5)
    _, pos = await create_device(runtime.auth, location, DeviceKind.POS)
    till = api.as_(pos)
    enrolled = await till.data(
        'mutation { enrolMember(input: {phone: "13600136000", displayName: "林小雨"}) '
        "{ member { id } errors { code } } }"
    )
    member_id = enrolled["enrolMember"]["member"]["id"]
    at_a = board_id(stores, "SH-A")
    order = await placed(
        till, order_input([(mango, 1)], pickup=at_a, channel="POS", member_id=member_id)
    )
    assert (await in_store(till, order["id"], 990))["errors"] == []
    async with session(server, await kiosk(runtime, location)) as s:
        await s.subscribe(BOARD, {"id": at_a})
        await subscribed(runtime, pickup_board_topic(location))
        assert await stepped(manager_a, "startPreparingOrder", order["id"]) == "PREPARING"
        preparing = await s.next("pickupBoard")
        assert await stepped(manager_a, "markOrderReadyForPickup", order["id"]) == (
            "READY_FOR_PICKUP"
        )
        ready = await s.next("pickupBoard")
    for event, status in ((preparing, "PREPARING"), (ready, "READY_FOR_PICKUP")):
        assert (event["orderId"], event["status"], event["customerLabel"]) == (
            order["id"],
            status,
            "林**",
        )
