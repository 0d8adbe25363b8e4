"""The metrics benchmark (issue 19, "Scale": `metrics` for a year by day in under 50 ms p99
from rollups), in process: a year of rollups seeded directly (no orders behind them), then
`metrics` for the last 366 days by day over every store.

In `make bench` (scenario `metrics_year`, bench/loadgen.py): `domain` is the service
(`domain.engagement.metrics.metrics`, ADMIN, every store, DAY) on Tortoise/asyncpg; `raw` reads
the same rollup tables with hand-written asyncpg statements (per day and for the whole range:
money, members, the hand-over histogram, subscriptions) and interpolates the percentiles the
same way. The seeded year: STORES stores x 2 channels, per day and store-channel MEMBERS buyers
drawn from a crowd of CROWD (so repeats happen), HANDOVER_SECONDS distinct hand-over durations,
and a subscriptions row per day and store.

Standalone, on a fresh database of its own:

    python -m bench.metrics_year [--clients 1] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from bench.database import FreshDatabase, Secrets, dsn, runtime_settings
from bench.driver import Client, Op, Recorder
from bench.flash_sale import _measure
from domain.locations.model import DEFAULT_TIMEZONE
from infra.repositories.metrics_day_figures import day_figures

DAYS = 366
STORES = 10
CHANNELS = ("MINI_PROGRAM", "POS")
MEMBERS = 25
CROWD = 5_000
HANDOVER_SECONDS = 15


def _year(today: date) -> list[date]:
    return [today - timedelta(days=DAYS - 1 - n) for n in range(DAYS)]


async def seed_metrics_year(url: str, now: datetime) -> dict[str, Any]:
    """A year of rollups up to the store-local day of `now`, written with COPY (the job is
    not what is measured)."""
    today = now.astimezone(ZoneInfo(DEFAULT_TIMEZONE)).date()
    rng = random.Random(19)
    stores = [uuid.uuid4() for _ in range(STORES)]
    crowd = [uuid.uuid4() for _ in range(CROWD)]
    days, members, handed, subscriptions, figures = [], [], [], [], []
    for day in _year(today):
        of_day = len(members), len(handed)
        for store in stores:
            subscriptions.append((uuid.uuid4(), day, store, None, 200, 0))
            subscriptions.append((uuid.uuid4(), day, store, day - timedelta(days=30), 0, 1))
            for channel in CHANNELS:
                orders = MEMBERS + rng.randrange(10)
                gmv = orders * rng.randrange(3_000, 30_000)
                days.append((uuid.uuid4(), day, store, channel, orders, gmv, 3, 3, gmv // 10))
                for member in rng.sample(crowd, MEMBERS):
                    first = 1 if rng.random() < 0.05 else 0
                    members.append((uuid.uuid4(), day, store, channel, member, 1, first))
                for seconds in rng.sample(range(60, 900), HANDOVER_SECONDS):
                    handed.append((uuid.uuid4(), day, store, channel, 1, seconds, 2, 0))
        # What the rollup writes with the day's rows: its figures that do not add up.
        bought = [r[2:] for r in members[of_day[0] :]]
        waited = [r[2:] for r in handed[of_day[1] :]]
        figures += [(uuid.uuid4(), day, *r) for r in day_figures(bought, waited)]
    conn = await asyncpg.connect(dsn(url))
    try:
        for table, rows in (
            ("metrics_day", days),
            ("metrics_member_day", members),
            ("metrics_handover_day", handed),
            ("metrics_subscription_day", subscriptions),
            ("metrics_day_figures", figures),
        ):
            await conn.copy_records_to_table(table, records=rows)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return {"today": today.isoformat(), "rows": len(days) + len(members) + len(handed)}


RAW_MONEY = (
    "SELECT day, SUM(orders) AS orders, SUM(gmv) AS gmv, SUM(coupons_used) AS coupons_used, "
    "SUM(coupon_orders) AS coupon_orders, SUM(coupon_gmv) AS coupon_gmv FROM metrics_day "
    "WHERE day BETWEEN $1 AND $2 GROUP BY ROLLUP (day)"
)
RAW_MEMBERS = (
    "WITH b AS (SELECT day, member_id, SUM(orders) AS k, MAX(first_order) AS f "
    "FROM metrics_member_day WHERE day BETWEEN $1 AND $2 GROUP BY day, member_id) "
    "SELECT day, COUNT(*) AS active, SUM(CASE WHEN k >= 2 THEN 1 ELSE 0 END) AS repeat, "
    "SUM(f) AS new FROM b GROUP BY day"
)
RAW_MEMBERS_TOTAL = (
    "WITH b AS (SELECT member_id, SUM(orders) AS k, MAX(first_order) AS f "
    "FROM metrics_member_day WHERE day BETWEEN $1 AND $2 GROUP BY member_id) "
    "SELECT COUNT(*) AS active, SUM(CASE WHEN k >= 2 THEN 1 ELSE 0 END) AS repeat, "
    "SUM(f) AS new FROM b"
)
RAW_HANDED = (
    "SELECT day, pickup, seconds, SUM(handed_over) AS handed, SUM(with_after_sale) AS asked "
    "FROM metrics_handover_day WHERE day BETWEEN $1 AND $2 "
    "GROUP BY GROUPING SETS ((day, pickup, seconds), (pickup, seconds)) ORDER BY day, seconds"
)
RAW_SUBSCRIPTIONS = (
    "SELECT day, SUM(CASE WHEN created_day IS NULL THEN active ELSE 0 END) AS active, "
    "SUM(CASE WHEN created_day < $1 THEN churned ELSE 0 END) AS churned_since_first, "
    "SUM(CASE WHEN created_day < day THEN churned ELSE 0 END) AS churned "
    "FROM metrics_subscription_day WHERE day BETWEEN $1 AND $2 GROUP BY day"
)


def metrics_op(world: dict[str, Any], impl: str, runtime: Any, pool: asyncpg.Pool) -> Op:
    from domain.engagement.metrics_model import percentile_of_histogram

    last = date.fromisoformat(world["metrics_year"]["today"])
    first = last - timedelta(days=DAYS - 1)

    if impl == "domain":
        from domain.engagement.metrics import metrics
        from domain.engagement.metrics_model import Granularity
        from domain.identity.model import Principal, PrincipalKind, StaffRole

        admin = Principal(kind=PrincipalKind.STAFF, id=uuid.uuid4(), role=StaffRole.ADMIN)

        async def domain(c: Client, strict: bool) -> None:
            found = await metrics(runtime.metrics, admin, first, last, Granularity.DAY)
            if strict and (len(found.buckets) != DAYS or not found.total.orders):
                raise AssertionError(f"{len(found.buckets)} days, {found.total.orders} orders")

        return domain

    async def raw(c: Client, strict: bool) -> None:
        async with pool.acquire() as conn:
            money = await conn.fetch(RAW_MONEY, first, last)
            await conn.fetch(RAW_MEMBERS, first, last)
            await conn.fetchrow(RAW_MEMBERS_TOTAL, first, last)
            histograms: dict[Any, list[tuple[int, int]]] = {}
            for r in await conn.fetch(RAW_HANDED, first, last):
                if r["pickup"] and r["seconds"] is not None:
                    histograms.setdefault(r["day"], []).append((r["seconds"], int(r["handed"])))
            await conn.fetch(RAW_SUBSCRIPTIONS, first, last)
        for histogram in histograms.values():
            percentile_of_histogram(histogram, 50)
            percentile_of_histogram(histogram, 90)
        if strict and len(money) != DAYS + 1:
            raise AssertionError(f"{len(money)} rows of money")

    return raw


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    from infra.runtime import Runtime

    async with FreshDatabase(args.admin_url, args.database) as url:
        runtime = Runtime(
            runtime_settings(url, Secrets(), args.pool_size), fast_password_hashing=True
        )
        await runtime.start()
        pool = await asyncpg.create_pool(dsn(url), min_size=1, max_size=args.pool_size)
        try:
            report: dict[str, Any] = {"cpus": os.cpu_count(), "load_before": os.getloadavg()}
            world = {"metrics_year": await seed_metrics_year(url, runtime.clock.now())}
            report["seeded"] = world["metrics_year"]
            for impl in ("domain", "raw"):
                op = metrics_op(world, impl, runtime, pool)
                await op(Client(-1, random.Random(0), Recorder()), True)  # checked once
                report[impl] = await _measure(op, args.clients, args.warmup, args.seconds)
            report["load_after"] = os.getloadavg()
            return report
        finally:
            await pool.close()
            await runtime.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.metrics_year", description=__doc__)
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--pool-size", type=int, default=4)
    parser.add_argument("--admin-url", default=os.environ.get("PG_ADMIN_URL"))
    parser.add_argument("--database", default="omnishelf_bench_metrics_year")
    parser.add_argument("--json-out")
    args = parser.parse_args(argv)
    if not args.admin_url:
        parser.error("needs PostgreSQL: --admin-url or $PG_ADMIN_URL (scripts/with-services.sh)")
    report = asyncio.run(main_async(args))
    text = json.dumps(report, indent=2, default=str)
    print(text)
    if args.json_out:
        with open(args.json_out, "w") as out:
            out.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
