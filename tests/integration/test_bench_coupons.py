"""place_order_coupon's set-up (bench/seed.py, bench/coupons.py) and both its sides against
the real application: each seeded coupon member holds its coupons, every order (through the
API and through the raw baseline) holds a fresh one that takes ¥3 off, a member's coupons run
out rather than being used twice, and between runs the coupons are given back."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from bench.coupons import COUPON_OFF, CouponSupply, give_back
from bench.database import dsn
from bench.driver import Client, Recorder
from bench.flows import Flows
from bench.httpclient import auth_line
from bench.raw import RawSteps, Refused
from bench.seed import Size, seed
from bench.trace import AsgiConnection, _Counter, check_and_count
from infra.runtime import Runtime
from tests.support import is_postgres

TINY = Size(
    stores=2, products=2, variants_per_product=2, members=2, history_members=0,
    coupon_members=2, coupons_each=3, quote_members=2,
)  # fmt: skip


@pytest.fixture
async def world(runtime: Runtime) -> dict[str, Any]:
    if not is_postgres(runtime.settings.database_url):
        pytest.skip("the bench's baselines and resets use asyncpg: PostgreSQL only")
    found = await seed(runtime, TINY, ledger=False, reservations=False, coupons=True)
    found["secrets"] = {"payment": runtime.settings.payment_secret}
    return found


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with asyncpg.create_pool(dsn(database_url), min_size=1, max_size=2) as found:
        yield found


def _client(http: httpx.AsyncClient | None = None, seed: int = 1) -> Client:
    client = Client(0, random.Random(seed), Recorder())
    if http is not None:
        client.conn = AsgiConnection(http, _Counter(), client.state)
    return client


async def _coupons(pool: asyncpg.Pool, template: str) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT c.id, c.member_id, c.status, c.order_id, c.discount, o.member_id AS buyer, "
        "o.total, (SELECT sum(unit_price) FROM order_line l WHERE l.order_id = o.id) AS goods, "
        "(SELECT sum(coupon_discount) FROM order_line l WHERE l.order_id = o.id) AS lines_off "
        "FROM coupon c LEFT JOIN customer_order o ON o.id = c.order_id "
        "WHERE c.template_id = $1 ORDER BY c.id",
        UUID(template),
    )
    return [dict(r) for r in rows]


async def test_the_seed_grants_each_coupon_member_their_coupons(
    world: dict[str, Any], pool: asyncpg.Pool
) -> None:
    crowd = world["coupon_crowd"]
    coupons = await _coupons(pool, crowd["template"])
    held = {str(c["id"]): str(c["member_id"]) for c in coupons}
    assert len(held) == 6 and {c["status"] for c in coupons} == {"AVAILABLE"}
    for member in crowd["members"]:
        assert len(member["coupons"]) == 3
        assert {held[c] for c in member["coupons"]} == {member["id"]}
    # the coupon members are not the other scenarios' (whose quotes would list them)
    assert not {m["id"] for m in crowd["members"]} & {m["id"] for m in world["members"]}
    issued = await pool.fetchval(
        "SELECT issued FROM coupon_template WHERE id = $1", UUID(crowd["template"])
    )
    assert issued == 6


async def test_every_order_holds_a_fresh_coupon_through_the_api_and_the_baseline(
    world: dict[str, Any], client: httpx.AsyncClient, pool: asyncpg.Pool, database_url: str
) -> None:
    template = world["coupon_crowd"]["template"]
    flows, raw = Flows(world), RawSteps(world, pool)
    a, b = world["coupon_crowd"]["members"]  # the API uses a's coupons, the baseline b's
    flows.coupons = CouponSupply([((a, auth_line(a["token"])), a["coupons"])])
    raw.coupons = CouponSupply([((UUID(b["id"]), UUID(b["session_id"])), b["coupons"])])
    for _ in range(3):
        await flows.place_order_coupon(_client(client), True)
        await raw.place_order_coupon(_client(), True)

    coupons = await _coupons(pool, template)
    assert {c["status"] for c in coupons} == {"HELD"}
    for c in coupons:  # by the member's own order, ¥3 off its goods, split over its lines
        assert c["buyer"] == c["member_id"] and c["discount"] == COUPON_OFF
        assert (c["lines_off"], c["total"]) == (COUPON_OFF, c["goods"] - COUPON_OFF)
    assert len({c["order_id"] for c in coupons}) == 6

    with pytest.raises(RuntimeError, match="no coupon left"):  # none is used twice
        await flows.place_order_coupon(_client(client), True)

    assert await give_back(database_url, template) == 6
    assert {(c["status"], c["order_id"]) for c in await _coupons(pool, template)} == {
        ("AVAILABLE", None)
    }
    await RawSteps(world, pool).place_order_coupon(_client(), True)  # the next run's again


async def test_the_baseline_refuses_a_coupon_held_by_another_order(
    world: dict[str, Any], client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    member = world["coupon_crowd"]["members"][0]
    first = member["coupons"][0]
    flows = Flows(world)
    flows.coupons = CouponSupply([((member, auth_line(member["token"])), [first])])
    await flows.place_order_coupon(_client(client), True)
    raw = RawSteps(world, pool)
    raw.coupons = CouponSupply([((UUID(member["id"]), UUID(member["session_id"])), [first])])
    with pytest.raises(Refused):
        await raw.place_order_coupon(_client(), True)
    orders = await pool.fetchval(
        "SELECT count(*) FROM customer_order WHERE member_id = $1", UUID(member["id"])
    )
    assert orders == 1  # the refused baseline order rolled back


async def test_the_check_counts_the_coupon_orders_statements(
    runtime: Runtime, world: dict[str, Any], database_url: str
) -> None:
    both = ["place_order", "place_order_coupon"]
    await check_and_count(runtime, world, both)  # the caches warm (catalog, sessions)
    await give_back(database_url, world["coupon_crowd"]["template"])  # the same coupon again
    counts = await check_and_count(runtime, world, both)
    # the coupon with its template: one read more (its hold is a step of the checkout's last
    # statement, domain/ordering/hot_take.py)
    assert counts["place_order_coupon"]["placeOrder"] == counts["place_order"]["placeOrder"] + 1


async def test_a_quote_offers_the_three_coupons_through_the_api_and_the_baseline(
    runtime: Runtime, world: dict[str, Any], client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    quoting = {m["id"] for m in world["quote_crowd"]["members"]}
    assert not quoting & {m["id"] for m in world["members"]}
    held = await pool.fetch(
        "SELECT member_id, count(*) AS n FROM coupon WHERE member_id = ANY($1::uuid[]) "
        "GROUP BY member_id",
        [UUID(m) for m in quoting],
    )
    assert sorted(r["n"] for r in held) == [3, 3]
    # strict: the quote adds up and lists one offer that applies, then the two that do not
    await Flows(world).checkout_quote_coupons(_client(client), True)
    await RawSteps(world, pool).checkout_quote_coupons(_client(), True)
    both = ["checkout_quote", "checkout_quote_coupons"]
    await check_and_count(runtime, world, both)  # the catalog's caches warm
    counts = await check_and_count(runtime, world, both)
    # the member's coupons come with their templates in the one read either way
    assert counts["checkout_quote_coupons"] == counts["checkout_quote"]
