"""The client examples of docs/clients.md run against the served app (uvicorn on a free
local port), as a reader would run them, each in its own process: examples/python_client.py
(the `gql` client over HTTP and graphql-transport-ws) and the mini-program's api.js and
order.js under Node."""

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
from domain.identity.model import StaffRole
from domain.live import order_topic
from infra.runtime import Runtime
from tests.support.api import Api, staff_api
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
