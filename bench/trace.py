"""Check every scenario's requests before timing them, and count the SQL statements the
server sends for each kind of request.

The requests go through the real application in this process (`api.app.create_app` on the
seeding runtime, over httpx's ASGI transport), with Tortoise's statement log counted; a
response with errors stops the run with its body."""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx

from bench.driver import Client, Recorder
from bench.flows import Flows

_STATEMENTS = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")


class _Counter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().lstrip()[:6].upper().startswith(_STATEMENTS):
            self.count += 1


@contextmanager
def counting() -> Iterator[_Counter]:
    logger = logging.getLogger("tortoise.db_client")
    handler, level, propagate = _Counter(), logger.level, logger.propagate
    logger.setLevel(logging.DEBUG)
    logger.propagate = False  # count, do not print
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


class AsgiConnection:
    """`httpclient.Connection`'s interface over the ASGI app; counts statements per step."""

    def __init__(self, client: httpx.AsyncClient, counter: _Counter, state: dict[str, Any]):
        self.client, self.counter, self.state = client, counter, state
        self.statements: dict[str, list[int]] = defaultdict(list)

    async def request(self, data: bytes) -> tuple[int, bytes]:
        head, body = data.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        path = lines[0].split(" ")[1]
        headers = dict(line.split(": ", 1) for line in lines[1:])
        headers.pop("Content-Length", None)
        before = self.counter.count
        response = await self.client.post(path, content=body, headers=headers)
        self.statements[str(self.state.get("step"))].append(self.counter.count - before)
        return response.status_code, response.content


async def check_and_count(
    runtime: Any,
    world: dict[str, Any],
    scenarios: list[str],
    batches: Mapping[str, str] | None = None,
) -> dict[str, dict[str, float]]:
    """Each scenario's operation once, strictly checked; returns, per scenario, the average
    number of SQL statements per request kind (BEGIN/COMMIT not counted). `batches`: the
    prepared orders of the WeChat Pay scenarios (bench.wechatpay)."""
    from api.app import create_app

    app = create_app(runtime=runtime)
    counts: dict[str, dict[str, float]] = {}
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
        with counting() as counter:
            for scenario in scenarios:
                client = Client(0, random.Random(1), Recorder())
                client.conn = AsgiConnection(http, counter, client.state)
                batch = (batches or {}).get(scenario)
                flows = Flows({**world, "wechatpay_batch": batch})
                await flows.check_op(scenario)(client, True)
                counts[scenario] = {
                    step: sum(n) / len(n) for step, n in client.conn.statements.items()
                }
    return counts
