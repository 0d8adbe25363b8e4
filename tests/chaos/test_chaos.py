"""The crash test, short: 25 s of mixed load on two APIs and two workers, one of them SIGKILLed
every 2-4 s (fixed seed), on the test PostgreSQL server and Redis (its own database and Redis
db). `make chaos` runs the long one.

The harness runs as a subprocess, as `make chaos` does (it starts four processes and its own
Tortoise); the tests read its JSON summary, what its clients saw, and the database it keeps.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from bench.chaos.cluster import chaos_env
from bench.chaos.load import KINDS, Ledger
from bench.chaos.verify import harness_checks, run_doctor
from bench.database import Secrets, drop_database
from bench.processes import ROOT

DATABASE = "omnishelf_chaos_test"
SECONDS = 25


@dataclass
class Run:
    summary: dict[str, Any]
    ledger: Ledger
    admin_url: str

    def url(self, database: str) -> str:
        return urlunsplit(urlsplit(self.admin_url)._replace(path=f"/{database}"))

    def dsn(self, database: str) -> str:
        return self.url(database).replace("postgres://", "postgresql://", 1)


@pytest.fixture(autouse=True)
def clean_state() -> None:
    """Replaces the suite's: the chaos run has its own database and Redis db to leave alone."""


def admin_url() -> str:
    test_url = os.environ.get("TEST_DATABASE_URL", "")
    assert test_url.startswith("postgres"), "the crash test needs PostgreSQL (make test gives it)"
    return os.environ.get("PG_ADMIN_URL") or urlunsplit(
        urlsplit(test_url)._replace(path="/postgres")
    )


@pytest.fixture(scope="module")
async def chaos(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Run]:
    out = tmp_path_factory.mktemp("chaos")
    admin = admin_url()
    redis = os.environ.get("TEST_REDIS_URL")
    assert redis, "the crash test needs Redis (TEST_REDIS_URL; make test gives it)"
    harness = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.chaos", "--seconds", str(SECONDS), "--kill-every", "2-4",
        "--seed", "7", "--clients", "6", "--keep-db", "--database", DATABASE,
        "--admin-url", admin, "--redis-url", redis, "--redis-db", "9",
        "--json-out", str(out / "chaos.json"), "--ledger-out", str(out / "ledger.json"),
        "--log-dir", str(out / "logs"),
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output = (await asyncio.wait_for(harness.communicate(), 900))[0].decode(errors="replace")
    try:
        assert (out / "chaos.json").is_file(), output[-5000:]
        summary = json.loads((out / "chaos.json").read_text())
        summary["output"] = output
        yield Run(summary, Ledger(**json.loads((out / "ledger.json").read_text())), admin)
    finally:
        await drop_database(admin, DATABASE)


async def test_killed_processes_lose_and_double_nothing(chaos: Run) -> None:
    summary = chaos.summary
    assert summary["ok"], summary["output"]
    kills = summary["kills"]
    assert kills["api"] >= 1 and kills["worker"] >= 1, kills
    assert kills["restarts"] == kills["api"] + kills["worker"]
    ops = summary["operations"]
    assert [k for k in KINDS if ops[k]["succeeded"] < 1] == [], ops
    assert [k for k in KINDS if ops[k]["failed"]] == [], ops
    assert sum(ops[k]["retried"] for k in KINDS) >= 1, "no request was caught by a kill"
    assert summary["settle"]["settled"], summary["settle"]
    assert summary["checks"]["problems"] == []
    assert (summary["doctor"]["status"], summary["doctor"]["exit"]) == ("clean", 0)

    # No order lost, none doubled: the database holds the orders the clients saw, the renewals'
    # orders and those whose answer a kill swallowed (placed once, not seen), and no more.
    facts = summary["checks"]["facts"]
    conn = await asyncpg.connect(chaos.dsn(DATABASE))
    try:
        orders = await conn.fetchval("SELECT count(*) FROM customer_order")
        keys = await conn.fetchval(
            "SELECT count(DISTINCT result->>'order_id') FROM idempotency_record "
            "WHERE scope LIKE '%:placeOrder'"
        )
    finally:
        await conn.close()
    assert orders == keys == facts["orders"]
    assert facts["orders_seen_by_clients"] == len(chaos.ledger.orders)
    assert facts["orders_seen_by_clients"] == (
        ops["order"]["succeeded"] + ops["order_with_points"]["succeeded"]
    )
    assert orders == (
        facts["orders_seen_by_clients"]
        + facts["renewal_orders"]
        + facts["orders_placed_unanswered"]
    )
    assert facts["renewal_cycles"].get("PAID", 0) >= 1, facts


@pytest.fixture
async def corrupted(chaos: Run) -> AsyncIterator[str]:
    """A copy of the run's database with one order the clients saw placed deleted and one
    stock level's on-hand raised by a unit behind its ledger's back."""
    copy = f"{DATABASE}_corrupted"
    admin = await asyncpg.connect(chaos.dsn("postgres"))
    await admin.execute(f'DROP DATABASE IF EXISTS "{copy}"')
    await admin.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{DATABASE}"')
    conn = await asyncpg.connect(chaos.dsn(copy))
    try:
        lost = sorted(chaos.ledger.picked_up)[0]
        await conn.execute("DELETE FROM customer_order WHERE id = $1::uuid", lost)
        await conn.execute(
            "UPDATE stock_level SET on_hand = on_hand + 1 WHERE (location_id, variant_id) = "
            "(SELECT location_id, variant_id FROM stock_level ORDER BY 1, 2 LIMIT 1)"
        )
    finally:
        await conn.close()
    yield lost
    await admin.execute(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
    await admin.close()


async def test_the_detectors_see_a_lost_order_and_stock_drift(chaos: Run, corrupted: str) -> None:
    copy = f"{DATABASE}_corrupted"
    conn = await asyncpg.connect(chaos.dsn(copy))
    try:
        problems, _ = await harness_checks(conn, chaos.ledger)
    finally:
        await conn.close()
    assert [p.split(" (key")[0] for p in problems if corrupted in p] == [
        f"lost order {corrupted}"
    ], problems

    redis = os.environ["TEST_REDIS_URL"]
    doctor = await run_doctor(chaos_env(chaos.url(copy), redis, Secrets()))
    assert (doctor["status"], doctor["exit"]) == ("violations", 1), doctor
    failing = {check["name"] for check in doctor["report"]}
    assert "stock_ledger" in failing, failing
