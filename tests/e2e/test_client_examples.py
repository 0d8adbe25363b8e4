"""The client examples of docs/clients.md run against the served app, as a reader would run
them: examples/python_client.py in its own process (the `gql` client over HTTP and
graphql-transport-ws), against uvicorn on a free local port."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.relay import encode_id
from domain.identity.model import StaffRole
from infra.runtime import Runtime
from tests.support.api import Api, staff_api
from tests.support.ws import serve

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
