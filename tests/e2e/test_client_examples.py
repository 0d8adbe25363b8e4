"""The client examples of docs/clients.md run against the served app (uvicorn on a free
local port), as a reader would run them, each in its own process: examples/python_client.py
(the `gql` client over HTTP and graphql-transport-ws), the mini-program's api.js and order.js
under Node, and the kiosk's pickup board (examples/kiosk/board.mjs, npm `graphql-ws`)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.relay import decode_id, encode_id
from domain.identity.model import DeviceKind, StaffRole
from domain.identity.services import create_device
from domain.live import order_topic, pickup_board_topic
from infra.runtime import Runtime
from tests.support.api import Api, staff_api
from tests.support.orders import Story, make_variants, receive, stepped
from tests.support.shoppers import shopper
from tests.support.ws import serve, subscribed

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
async def served(runtime: Runtime) -> AsyncIterator[str]:
    async with serve(runtime) as address:
        yield address


async def _stock_a_mango(web: Api, runtime: Runtime, store: Any) -> None:
    admin = await staff_api(web, runtime, "hq-admin", StaffRole.ADMIN, [])
    created = await admin.data(
        """mutation { productCreate(input: {name: "Mango", variants: [
          {code: "MANGO-1KG", name: "1kg", price: 1990}]}) {
          product { variants { id } } errors { code } } }""",
        {},
    )
    [variant] = created["productCreate"]["product"]["variants"]
    adjusted = await admin.data(
        """mutation($l: ID!, $v: ID!) { inventoryAdjust(input: {locationId: $l, variantId: $v,
          delta: 5, kind: RECEIPT, reason: "delivery"}) { errors { code } } }""",
        {"l": encode_id("Location", store.id), "v": variant["id"]},
    )
    assert adjusted["inventoryAdjust"]["errors"] == []


async def test_the_python_gql_example_shops_follows_and_cancels(
    runtime: Runtime, stores: dict[str, Any], served: str
) -> None:
    async with httpx.AsyncClient(base_url=f"http://{served}", timeout=10) as http:
        await _stock_a_mango(Api(http), runtime, stores["SH-A"])

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / "python_client.py"),
        "--url",
        f"http://{served}/graphql",
        "--store",
        "SH-A",
        "--openid",
        "python-example-test",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    lines = out.decode().splitlines()
    summary = json.loads(lines[-1])
    assert summary["placed"] == "PENDING_PAYMENT"
    assert summary["cancelled"] == "CANCELLED"
    assert summary["event"] == "CANCELLED"  # the live event arrived over the WebSocket
    assert summary["eventOrderId"] == summary["orderId"]
    assert any(line.startswith("MANGO-1KG is in stock at") for line in lines)


def _node() -> list[str]:
    """Node with a global WebSocket: a flag on Node 20, built in from 22."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is missing: scripts/with-services.sh installs it (Debian nodejs)")
    probe = subprocess.run(
        [node, "-e", "process.exit(typeof WebSocket === 'function' ? 0 : 1)"], check=False
    )
    return [node] if probe.returncode == 0 else [node, "--experimental-websocket"]


async def test_the_mini_program_example_logs_in_orders_and_follows_the_order(
    runtime: Runtime, stores: dict[str, Any], served: str
) -> None:
    """examples/miniprogram/{api,order}.js as docs/clients.md shows them, under Node with a
    `wx` made of fetch and WebSocket (examples/miniprogram/harness.mjs)."""
    async with httpx.AsyncClient(base_url=f"http://{served}", timeout=10) as http:
        await _stock_a_mango(Api(http), runtime, stores["SH-A"])

    process = await asyncio.create_subprocess_exec(
        *_node(),
        str(EXAMPLES / "miniprogram" / "harness.mjs"),
        f"http://{served}/graphql",
        "SH-A",
        "mini-program-example-test",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        if not line:  # the harness failed: say why
            assert process.stderr is not None
            pytest.fail((await process.stderr.read()).decode())
        placed = json.loads(line)
        assert placed["placed"] == "PENDING_PAYMENT", placed
        await subscribed(runtime, order_topic(decode_id(placed["orderId"], "Order")))
        process.stdin.write(b"go\n")  # the shopper cancels on the order page
        await process.stdin.drain()
        out, err = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
    assert process.returncode == 0, err.decode()
    event = json.loads(out.decode().splitlines()[-1])["event"]
    assert event["orderId"] == placed["orderId"]
    assert event["status"] == "CANCELLED"


async def _npm_ci(directory: Path) -> None:
    """The example's packages (pinned by its package-lock.json), installed once."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is missing: scripts/with-services.sh installs it (Debian npm)")
    if (directory / "node_modules").is_dir():
        return
    process = await asyncio.create_subprocess_exec(
        npm,
        "ci",
        "--no-audit",
        "--no-fund",
        cwd=directory,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 300)
    assert process.returncode == 0, f"npm ci failed:\n{out.decode()}\n{err.decode()}"


async def test_the_kiosk_example_shows_the_board_as_it_is_then_its_changes(
    client: httpx.AsyncClient,
    runtime: Runtime,
    stores: dict[str, Any],
    api: Api,
    manager_a: Api,
    served: str,
) -> None:
    """examples/kiosk/board.mjs (the `graphql-ws` client under Node) started after two orders
    reached the board: it shows both at once, then follows a change."""
    (mango,) = await make_variants(runtime, ("KIOSK-M", "Mango 1kg", 1990))
    await receive(runtime, stores["SH-A"].id, mango, 20)
    story = Story(client, runtime, stores, mango, manager_a)
    lin, wang = (
        await shopper(api, "kiosk-lin", name="林小雨"),
        await shopper(api, "kiosk-wang", name="王大明"),
    )
    ready, preparing = await story.ready(lin), await story.preparing(wang)
    store = stores["SH-A"].id
    _, kiosk_token = await create_device(runtime.auth, store, DeviceKind.KIOSK)

    await _npm_ci(EXAMPLES / "kiosk")
    process = await asyncio.create_subprocess_exec(
        *_node(),
        str(EXAMPLES / "kiosk" / "board.mjs"),
        f"ws://{served}/graphql",
        encode_id("Location", store),
        kiosk_token,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None

    async def shown() -> dict[str, Any]:
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        if not line:
            pytest.fail((await process.stderr.read()).decode())
        screen: dict[str, Any] = json.loads(line)
        return screen

    try:
        first, second = await shown(), await shown()
        assert [(s["event"]["orderId"], s["event"]["snapshot"]) for s in (first, second)] == [
            (ready["id"], True),
            (preparing["id"], True),
        ]
        assert second["board"] == ["A001 林** READY_FOR_PICKUP", "A002 王** PREPARING"]

        await subscribed(runtime, pickup_board_topic(store))
        assert await stepped(manager_a, "markOrderReadyForPickup", preparing["id"]) == (
            "READY_FOR_PICKUP"
        )
        moved = await shown()
        assert moved["event"] == {
            "orderId": preparing["id"],
            "status": "READY_FOR_PICKUP",
            "snapshot": False,
        }
        assert moved["board"] == ["A001 林** READY_FOR_PICKUP", "A002 王** READY_FOR_PICKUP"]
    finally:
        process.kill()
        await process.wait()
