"""The WeChat Pay benchmark scenarios' set-up (bench/wechatpay.py, bench/prepared.py) against
the real application: the orders a run prepares are ones the API can pay, each notification
the bench signs pays its order once through the webhook and through the raw baseline, each
payOrder (API and baseline) takes a prepay from the fake WeChat Pay, and what a run leaves
unpaid is withdrawn with its reservations given back."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from bench.database import dsn
from bench.driver import Client, Recorder
from bench.flows import Flows
from bench.prepared import RunOrders
from bench.raw import RawSteps
from bench.seed import Size, seed
from bench.trace import AsgiConnection, _Counter
from bench.wechatpay import NOTIFY, PAY_ORDER, Keys
from infra.runtime import Runtime
from tests.fakes.wechatpay_server import FakeWeChatPay
from tests.support import MovableClock, is_postgres
from tests.support.wechatpay import wechatpay_on

TINY = Size(stores=2, products=2, variants_per_product=2, members=3, history_members=0)


@pytest.fixture
async def world(runtime: Runtime) -> dict[str, Any]:
    if not is_postgres(runtime.settings.database_url):
        pytest.skip("the bench writes its orders with asyncpg: PostgreSQL only")
    found = await seed(runtime, TINY, ledger=False, reservations=False)
    s = runtime.settings
    found["secrets"] = {
        "payment": s.payment_secret,
        "pii_master": s.pii_master_key,
        "pii_hash": s.pii_hash_key,
    }
    return found


@pytest.fixture
async def merchant(
    runtime: Runtime, clock: MovableClock, tmp_path: Path
) -> AsyncIterator[tuple[Keys, FakeWeChatPay]]:
    """The application's WeChat Pay is the fake with the bench's keys (as the bench server's)."""
    keys = Keys.make(tmp_path)
    async with wechatpay_on(runtime, clock, keys.fake()) as fake:
        yield keys, fake


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with asyncpg.create_pool(dsn(database_url), min_size=1, max_size=2) as found:
        yield found


def _client(http: httpx.AsyncClient | None = None) -> Client:
    """A load-generator client: over the ASGI app (as bench.trace checks), or for raw."""
    client = Client(0, random.Random(1), Recorder())
    if http is not None:
        client.conn = AsgiConnection(http, _Counter(), client.state)
    return client


async def _orders(pool: asyncpg.Pool, ids: list[str]) -> dict[str, dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT o.id, o.status, p.status AS payment, p.provider, "
        "(SELECT count(*) FROM order_event e WHERE e.order_id = o.id) AS events, "
        "(SELECT count(*) FROM outbox_message m WHERE m.order_id = o.id) AS messages "
        "FROM customer_order o LEFT JOIN order_payment p ON p.order_id = o.id "
        "WHERE o.id = ANY($1::uuid[])",
        [UUID(i) for i in ids],
    )
    return {str(r["id"]): dict(r) for r in rows}


async def _reserved(pool: asyncpg.Pool) -> tuple[int, int]:
    """(sum of stock_level.reserved, units in active reservations): equal while nothing leaks."""
    level = await pool.fetchval("SELECT COALESCE(sum(reserved), 0) FROM stock_level")
    held = await pool.fetchval(
        "SELECT COALESCE(sum(quantity), 0) FROM stock_reservation WHERE state = 'ACTIVE'"
    )
    return int(level), int(held)


async def test_notifications_pay_prepared_orders_once_through_the_api_and_the_baseline(
    world: dict[str, Any],
    merchant: tuple[Keys, FakeWeChatPay],
    client: httpx.AsyncClient,
    pool: asyncpg.Pool,
    database_url: str,
) -> None:
    keys, _ = merchant
    orders = RunOrders(database_url, world, keys, warmup=0, seconds=0)
    batch = (await orders.before(NOTIFY, "http", 4))["batch"]
    prepared = [o["id"] for o in Flows({**world, "wechatpay_batch": batch}).prepared.orders]
    assert await _reserved(pool) == (8, 8)  # 4 orders of 2 units, counted on the levels
    before = await _orders(pool, prepared)
    assert {(o["status"], o["payment"], o["provider"]) for o in before.values()} == {
        ("PENDING_PAYMENT", "PENDING", "wechatpay")
    }

    flows = Flows({**world, "wechatpay_batch": batch})
    await flows.wechatpay_notify(_client(client), True)  # the webhook, as the server takes it
    raw = RawSteps({**world, "wechatpay_batch": batch, "wechatpay": _spec(keys)}, pool)
    raw.prepared = flows.prepared  # the next order of the same batch
    await raw.wechatpay_notify(_client(), True)

    # Sent again (the bench's first notification, through the webhook, then by the baseline),
    # it is taken as a duplicate and changes nothing
    await Flows({**world, "wechatpay_batch": batch}).wechatpay_notify(_client(client), True)
    with pytest.raises(Exception, match="duplicate"):
        await raw._paid("wechatpay", flows.prepared.orders[0]["ref"], None)

    after = await _orders(pool, prepared)
    paid = [i for i in prepared if after[i]["status"] == "PAID"]
    assert paid == prepared[:2]
    for i in paid:  # placed and paid on the timeline; the member's ORDER_PAID message
        order = after[i]
        assert (order["payment"], order["events"], order["messages"]) == ("SUCCEEDED", 2, 1)

    assert await orders.after() == 2  # the two left unpaid are withdrawn...
    assert set(await _orders(pool, prepared)) == set(paid)
    assert await _reserved(pool) == (4, 4)  # ...and their stock is no longer reserved


async def test_pay_order_takes_a_prepay_from_the_fake_through_the_api_and_the_baseline(
    world: dict[str, Any],
    merchant: tuple[Keys, FakeWeChatPay],
    client: httpx.AsyncClient,
    pool: asyncpg.Pool,
    database_url: str,
) -> None:
    keys, fake = merchant
    orders = RunOrders(database_url, world, keys, warmup=0, seconds=0)
    batch = (await orders.before(PAY_ORDER, "http", 3))["batch"]
    flows = Flows({**world, "wechatpay_batch": batch})
    prepared = [o["id"] for o in flows.prepared.orders]
    assert {o["payment"] for o in (await _orders(pool, prepared)).values()} == {None}

    await flows.wechatpay_pay_order(_client(client), True)
    raw = RawSteps({**world, "wechatpay_batch": batch, "wechatpay": _spec(keys)}, pool)
    raw.prepared = flows.prepared
    raw._http = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app), base_url="http://f")
    await raw.wechatpay_pay_order(_client(), True)
    await raw._http.aclose()

    after = await _orders(pool, prepared)
    started = [i for i in prepared if after[i]["payment"] is not None]
    assert started == prepared[:2]
    assert {(after[i]["payment"], after[i]["provider"]) for i in started} == {
        ("PENDING", "wechatpay")
    }
    refs = await pool.fetch(
        "SELECT provider_ref FROM order_payment WHERE order_id = ANY($1::uuid[])",
        [UUID(i) for i in started],
    )
    assert {r["provider_ref"] for r in refs} == set(fake.transactions)  # one JSAPI prepay each
    assert {tx.kind for tx in fake.transactions.values()} == {"JSAPI"}

    assert await orders.after() == 1  # the order payOrder was not asked for goes
    assert set(await _orders(pool, prepared)) == set(started)


def _spec(keys: Keys) -> dict[str, str]:
    return {"keys": str(keys.folder), "api_base": "http://unused.invalid"}
