"""GraphQL subscriptions over a real WebSocket (graphql-transport-ws).

Starlette's TestClient would run the app on its own event loop in another thread, away from
the session's database connections and from the live bus the test publishes on; so `serve`
runs uvicorn on a free local port inside the test's loop instead (the `server` fixture of
tests/conftest.py), and the `websockets` library is the client."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import uvicorn
from starlette.types import ASGIApp
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from api.app import create_app
from infra.runtime import Runtime

PROTOCOL = Subprotocol("graphql-transport-ws")

BOARD = """
subscription($id: ID!) {
  pickupBoard(locationId: $id) {
    orderId orderNumber pickupNumber status customerLabel at snapshot
  }
}"""

ORDER_UPDATED = """
subscription($id: ID!) { orderUpdated(orderId: $id) { orderId status at } }"""


class Session:
    """Just enough of a graphql-transport-ws client."""

    def __init__(self, ws: ClientConnection):
        self.ws = ws

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def receive(self) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), 5))
        return message

    async def subscribe(self, query: str, variables: dict[str, Any], id: str = "1") -> None:
        await self.send(
            {"id": id, "type": "subscribe", "payload": {"query": query, "variables": variables}}
        )

    async def refused(self, query: str, variables: dict[str, Any]) -> str:
        """Subscribe, expect the protocol's `error` message; return its code."""
        await self.subscribe(query, variables)
        message = await self.receive()
        assert message["type"] == "error" and message["id"] == "1", message
        [error] = message["payload"]
        code: str = error["extensions"]["code"]
        return code

    async def next(self, field: str, id: str = "1") -> dict[str, Any]:
        """The next event of subscription `id`, checked to be a clean `next` message."""
        message = await self.receive()
        assert (message["id"], message["type"]) == (id, "next"), message
        assert "errors" not in message["payload"], message
        event: dict[str, Any] = message["payload"]["data"][field]
        return event

    async def nothing_more(self) -> None:
        """No message is waiting (a short wait: live events arrive within milliseconds)."""
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(self.ws.recv(), 0.3)


@asynccontextmanager
async def session(
    url: str, token: str | None = None, *, header_token: str | None = None
) -> AsyncIterator[Session]:
    headers = {"Authorization": f"Bearer {header_token}"} if header_token else None
    async with connect(url, subprotocols=[PROTOCOL], additional_headers=headers) as ws:
        assert ws.subprotocol == PROTOCOL
        s = Session(ws)
        payload = {"authorization": f"Bearer {token}"} if token else {}
        await s.send({"type": "connection_init", "payload": payload})
        assert (await s.receive())["type"] == "connection_ack"
        yield s


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110 - nothing to await: uvicorn, the bus only poll
            await asyncio.sleep(0.01)


async def subscribed(runtime: Runtime, topic: str, count: int = 1) -> None:
    """graphql-transport-ws does not acknowledge a subscribe; wait until the bus has it."""
    await until(lambda: runtime.live.subscriber_count(topic) == count)


@asynccontextmanager
async def serve(runtime: Runtime) -> AsyncIterator[str]:
    """The app served by uvicorn on a free local port inside the test's loop; yields its
    address, "127.0.0.1:<port>" (GraphQL over WebSocket at `ws_url(address)`)."""
    async with serve_asgi(create_app(runtime=runtime)) as address:
        yield address


@asynccontextmanager
async def serve_asgi(app: ASGIApp) -> AsyncIterator[str]:
    """Any ASGI app (the fake WeChat Pay server, for a subprocess to reach) served likewise."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, ws="websockets-sansio", log_config=None, lifespan="on")
    served = uvicorn.Server(config)
    task = asyncio.create_task(served.serve(sockets=[sock]))
    try:
        await until(lambda: served.started)
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        served.should_exit = True
        await task
        sock.close()


def ws_url(address: str) -> str:
    return f"ws://{address}/graphql"
