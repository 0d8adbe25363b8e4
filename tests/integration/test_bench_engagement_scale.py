"""The engagement_scale benchmark (bench/engagement_scale.py) end to end at a tiny N on
PostgreSQL: the seed writes its world, and every figure it reports agrees with what a direct
count of the database says (the facts rebuilt for every member by both sides, the segment's
size, the win-backs' sends and what they did)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from bench.database import dsn
from bench.engagement_scale import REBUILDS, run_scenario, table
from bench.engagement_seed import ORDERS_PER_MEMBER
from infra.runtime import Runtime
from tests.support import is_postgres

MEMBERS = 300

# Members with 3 orders or more in 365 days that count (paid, not cancelled, not refunded in
# full), straight from the orders: the segment `orders_365 >= 3` without member facts.
THREE_IN_A_YEAR = (
    "SELECT count(*) FROM (SELECT o.member_id FROM customer_order o WHERE o.paid_at >= $1 "
    "AND o.status <> 'CANCELLED' AND o.total > COALESCE((SELECT sum(p.amount) "
    "FROM order_payment p WHERE p.order_id = o.id AND p.kind = 'REFUND'), 0) "
    "GROUP BY o.member_id HAVING count(*) >= 3) AS buyers"
)


@pytest.fixture
async def report(runtime: Runtime, database_url: str) -> dict[str, Any]:
    if not is_postgres(database_url):
        pytest.skip("the benchmark seeds with PostgreSQL's generate_series: PostgreSQL only")
    return await run_scenario(runtime, database_url, MEMBERS, kinds=REBUILDS)


async def test_the_scenario_runs_and_its_figures_agree_with_the_database(
    report: dict[str, Any], runtime: Runtime, database_url: str
) -> None:
    conn = await asyncpg.connect(dsn(database_url))
    try:
        seeded = report["seeded"]
        assert (seeded["member"], seeded["customer_order"]) == (
            MEMBERS,
            ORDERS_PER_MEMBER * MEMBERS,
        )
        assert seeded["order_payment"] > seeded["customer_order"] * 0.9  # payments + refunds

        rebuild = report["rebuild"]
        for side in REBUILDS:  # every member's row, scored and tagged the same way
            assert rebuild[side]["members"] == rebuild[side]["facts_rows"] == MEMBERS
            assert rebuild[side]["scored"] == rebuild["raw"]["scored"] > 0
            assert rebuild[side]["tagged"] == rebuild["raw"]["tagged"] > 0
        # the job's budget holds the whole cycle at this size: one run refreshed everyone
        assert [r["members"] for r in rebuild["budgeted"]["runs"]] == [MEMBERS]
        assert rebuild["domain"]["tagged"] == await conn.fetchval(
            "SELECT count(*) FROM member_facts WHERE orders_90 >= 2"
        )

        segment = report["segment"]
        a_year_ago = runtime.clock.now() - timedelta(days=365)
        direct = await conn.fetchval(THREE_IN_A_YEAR, a_year_ago)
        assert segment["domain"]["size"] == segment["raw"]["size"] == direct
        assert 0.1 * MEMBERS < direct < 0.35 * MEMBERS  # about a fifth
        assert any("member_facts" in line for line in segment["plan"])

        tenth, every = report["automations"]["tenth"], report["automations"]["all"]
        assert 0 < tenth["sends_made"] < every["sends_made"]
        for run in (tenth, every):  # each quiet member once; every send acted on
            assert run["sends_made"] == run["sends"] == run["quiet_members"]
            assert sum(run["outcomes"].values()) == run["sends_made"]
            assert [r["sends"] for r in run["act"]["runs"]] == [run["sends_made"]]  # one run
            assert [r["sends"] for r in run["scan"]["runs"]] == [run["sends_made"]]
            assert run["peak_python_mib"] > 0
        buyers = await conn.fetchval(
            "SELECT count(*) FROM member_facts WHERE last_order_at IS NOT NULL "
            "AND last_order_at < $1",
            runtime.clock.now() - timedelta(days=1),
        )
        assert every["quiet_members"] == buyers
        # a WeChat message to those who consent now, blocked for the rest
        consenting = await conn.fetchval(
            "SELECT count(*) FROM member_facts WHERE marketing_wechat AND last_order_at < $1",
            runtime.clock.now() - timedelta(days=1),
        )
        assert 0 < consenting < buyers
        assert every["outcomes"].get("DONE", 0) == consenting
        assert every["outcomes"].get("BLOCKED_CONSENT", 0) == buyers - consenting
        messages = await conn.fetchval(
            "SELECT count(*) FROM outbox_message WHERE kind = 'AUTOMATION_MESSAGE'"
        )
        assert messages == tenth["outcomes"].get("DONE", 0) + consenting
    finally:
        await conn.close()
    shown = table(report)
    assert f"{MEMBERS:,} members" in shown and "the job's runs" in shown
