"""An open WebSocket does not outlive its credential (issue 12, item 3). Before: a revoked
kiosk's pickupBoard kept receiving events, a subscribe after `logout` on the open socket was
accepted, and orderUpdated still delivered after deleteMyAccount.

Every subscribe authenticates again, and an open socket is closed with 4401 once its
session, device or API key is revoked (merges and erasures revoke sessions) or its access
token expires, in whichever process holds it."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from api.relay import encode_id
from domain.identity.model import DeviceKind
from domain.identity.services import create_device, revoke_device
from domain.live import pickup_board_topic
from infra.runtime import Runtime
from tests.support import MovableClock
from tests.support.api import Api, login
from tests.support.orders import make_variants, order_input, placed, receive
from tests.support.processes import second_api
from tests.support.shoppers import shopper
from tests.support.ws import BOARD, ORDER_UPDATED, Session, session, subscribed

LOGOUT = "mutation { logout { ok errors { code } } }"
DELETE = "mutation { deleteMyAccount(input: {confirm: true}) { ok errors { code } } }"


async def closed_with(s: Session) -> int:
    """The code the server closes the socket with (it must, within the wait)."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(s.ws.recv(), 5)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


@asynccontextmanager
async def slow_guard(runtime: Runtime) -> AsyncIterator[None]:
    """Open sockets checked only once an hour: what a subscribe checks by itself shows."""
    settings = runtime.settings
    runtime.settings = dataclasses.replace(settings, ws_auth_check_seconds=3600)
    try:
        yield
    finally:
        runtime.settings = settings


async def test_a_revoked_kiosk_is_disconnected(
    server: str, runtime: Runtime, stores: dict[str, Any]
) -> None:
    location = stores["SH-A"].id
    device, token = await create_device(runtime.auth, location, DeviceKind.KIOSK)
    async with session(server, token) as s:
        await s.subscribe(BOARD, {"id": encode_id("Location", location)})
        await subscribed(runtime, pickup_board_topic(location))
        await revoke_device(runtime.auth, device.id)
        assert await closed_with(s) == 4401


async def test_after_logout_the_open_socket_starts_nothing_and_is_closed(
    server: str, runtime: Runtime, stores: dict[str, Any], manager_a: Api
) -> None:
    board = {"id": encode_id("Location", stores["SH-A"].id)}
    async with slow_guard(runtime), session(server, manager_a.token) as s:
        assert (await manager_a.data(LOGOUT))["logout"] == {"ok": True, "errors": []}
        assert await s.refused(BOARD, board) == "UNAUTHENTICATED"
    token = (await login(manager_a.as_(None), "manager-a", "correct-horse-battery"))["tokens"][
        "accessToken"
    ]
    async with session(server, token) as s:
        await s.subscribe(BOARD, board)
        await subscribed(runtime, pickup_board_topic(stores["SH-A"].id))
        assert (await manager_a.as_(token).data(LOGOUT))["logout"]["ok"] is True
        assert await closed_with(s) == 4401


async def test_an_erased_member_and_an_expired_token_are_disconnected(
    server: str, runtime: Runtime, clock: MovableClock, stores: dict[str, Any], api: Api
) -> None:
    (mango,) = await make_variants(runtime, ("WS-1", "1kg", 990))
    await receive(runtime, stores["SH-A"].id, mango, 5)
    at_a = encode_id("Location", stores["SH-A"].id)
    leaving = await shopper(api, "ws-leaver")
    order = await placed(leaving.api, order_input([(mango, 1)], pickup=at_a))
    async with session(server, leaving.api.token) as s:
        await s.subscribe(ORDER_UPDATED, {"id": order["id"]})
        assert (await leaving.api.data(DELETE))["deleteMyAccount"] == {"ok": True, "errors": []}
        assert await closed_with(s) == 4401

    staying = await shopper(api, "ws-stayer")
    async with session(server, staying.api.token) as s:
        await s.subscribe(ORDER_UPDATED, {"id": order["id"]})  # not theirs: refused, socket stays
        clock.advance(timedelta(seconds=runtime.settings.access_token_ttl + 1))
        assert await closed_with(s) == 4401


async def test_a_logout_in_one_process_closes_the_socket_in_another(
    runtime: Runtime, stores: dict[str, Any], manager_a: Api
) -> None:
    async with second_api(runtime.settings) as other:
        url = str(other.base_url.copy_with(scheme="ws", path="/graphql"))
        async with session(url, manager_a.token) as s:
            await s.subscribe(BOARD, {"id": encode_id("Location", stores["SH-A"].id)})
            assert (await manager_a.data(LOGOUT))["logout"]["ok"] is True  # this process
            assert await closed_with(s) == 4401
