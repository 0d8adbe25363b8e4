"""The metrics benchmark (issue 19, "Scale": `metrics` for a year by day in under 50 ms p99
from rollups), in process: a year of rollups seeded directly (no orders behind them), then
`metrics` for the last 366 days by day over every store.

In `make bench` (scenario `metrics_year`, bench/loadgen.py): `domain` is the service
(`domain.engagement.metrics.metrics`, ADMIN, every store, DAY) on Tortoise/asyncpg; `raw` runs
the service's algorithm in hand-written asyncpg statements over the same tables: money per day
and in total, each day's precomputed figures, subscriptions, the year's distinct members from
the reach rows (one probe per day) and its percentiles from the month histograms and the edge
days, interpolated the same way. The seeded year: STORES stores x 2 channels, per day and
store-channel MEMBERS buyers drawn from a crowd of CROWD (so repeats happen; a member's first
order is their first appearance), HANDOVER_SECONDS distinct hand-over durations, and a
subscriptions row per day and store; the range tables are derived from those rows with the
rollup's own functions.

Standalone, on a fresh database of its own:

    python -m bench.metrics_year [--clients 1] [--seconds 5]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from bench.database import dsn
from bench.driver import Client, Op, Recorder
from bench.standalone import fresh_runtime, measure, parse, parser, run, started
from domain.locations.model import DEFAULT_TIMEZONE
from infra.repositories.metrics_day_figures import day_figures
from infra.repositories.metrics_ranges import (
    AFTER_ALL,
    BEFORE_ALL,
    MONTH_COLUMNS,
    REACH_COLUMNS,
    day_histogram,
    day_reach,
    full_months,
)

DAYS = 366
STORES = 10
CHANNELS = ("MINI_PROGRAM", "POS")
MEMBERS = 25
CROWD = 5_000
HANDOVER_SECONDS = 15


def _year(today: date) -> list[date]:
    return [today - timedelta(days=DAYS - 1 - n) for n in range(DAYS)]


def _reach(year: list[tuple[date, list[Any]]]) -> list[tuple[Any, ...]]:
    """The reach rows of the year's member rows (per day, [store, channel, member, orders,
    first]), each linked to its scope's previous and next day of the member, as the rollup
    links them."""
    rows: list[list[Any]] = []
    last: dict[tuple[str, str, Any], int] = {}
    for day, members in year:
        for key, orders in sorted(day_reach(members).items(), key=str):
            if key in last:
                rows[last[key]][7] = day
            previous = rows[last[key]][1] if key in last else BEFORE_ALL
            last[key] = len(rows)
            rows.append([uuid.uuid4(), day, *key, orders, previous, AFTER_ALL])
    return [tuple(r) for r in rows]


async def seed_metrics_year(url: str, now: datetime) -> dict[str, Any]:
    """A year of rollups up to the store-local day of `now`, written with COPY (the job is
    not what is measured)."""
    today = now.astimezone(ZoneInfo(DEFAULT_TIMEZONE)).date()
    rng = random.Random(19)
    stores = [uuid.uuid4() for _ in range(STORES)]
    crowd = [uuid.uuid4() for _ in range(CROWD)]
    seen: set[uuid.UUID] = set()
    days, members, handed, subscriptions, figures = [], [], [], [], []
    year: list[tuple[date, list[Any]]] = []
    months: dict[tuple[Any, ...], int] = defaultdict(int)
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
                    first = 0 if member in seen else 1
                    seen.add(member)
                    members.append((uuid.uuid4(), day, store, channel, member, 1, first))
                for seconds in rng.sample(range(60, 900), HANDOVER_SECONDS):
                    handed.append((uuid.uuid4(), day, store, channel, 1, seconds, 2, 0))
        # What the rollup writes with the day's rows: its figures that do not add up, and
        # what the range tables take from them.
        bought = [r[2:] for r in members[of_day[0] :]]
        waited = [r[2:] for r in handed[of_day[1] :]]
        figures += [(uuid.uuid4(), day, *r) for r in day_figures(bought, waited)]
        year.append((day, bought))
        for key, count in day_histogram(waited).items():
            months[(day.replace(day=1), *key)] += count
    reach = _reach(year)
    month_rows = [(uuid.uuid4(), *key, count) for key, count in months.items()]
    conn = await asyncpg.connect(dsn(url))
    try:
        for table, rows, columns in (
            ("metrics_day", days, None),
            ("metrics_member_day", members, None),
            ("metrics_handover_day", handed, None),
            ("metrics_subscription_day", subscriptions, None),
            ("metrics_day_figures", figures, None),
            ("metrics_member_reach", reach, REACH_COLUMNS),
            ("metrics_handover_month", month_rows, MONTH_COLUMNS),
        ):
            await conn.copy_records_to_table(table, records=rows, columns=columns)
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return {"today": today.isoformat(), "rows": len(days) + len(members) + len(handed)}


RAW_MONEY = (
    "SELECT day, SUM(orders) AS orders, SUM(gmv) AS gmv, SUM(coupons_used) AS coupons_used, "
    "SUM(coupon_orders) AS coupon_orders, SUM(coupon_gmv) AS coupon_gmv FROM metrics_day "
    "WHERE day BETWEEN $1 AND $2 GROUP BY ROLLUP (day)"
)
RAW_FIGURES = (
    "SELECT day, active_members, repeat_members, new_members, handovers, handed_over, "
    "with_after_sale, handover_median_seconds, handover_p90_seconds FROM metrics_day_figures "
    "WHERE store_key = '*' AND channel = '*' AND day BETWEEN $1 AND $2"
)
RAW_SUBSCRIPTIONS = (
    "SELECT day, SUM(CASE WHEN created_day IS NULL THEN active ELSE 0 END) AS active, "
    "SUM(CASE WHEN created_day < $1 THEN churned ELSE 0 END) AS churned_since_first, "
    "SUM(CASE WHEN created_day < day THEN churned ELSE 0 END) AS churned "
    "FROM metrics_subscription_day WHERE day BETWEEN $1 AND $2 GROUP BY day"
)
# The range's members: per day of it, the reach rows whose previous day is before it.
RAW_MEMBERS_TOTAL = (
    "SELECT COUNT(*) AS active, SUM(CASE WHEN m.next_day > $2 AND m.orders = 1 THEN 1 ELSE 0 "
    "END) AS once FROM unnest($3::date[]) AS v(day) JOIN metrics_member_reach m "
    "ON m.store_key = '*' AND m.channel = '*' AND m.day = v.day AND m.previous_day < $1"
)
# The range's histogram: its whole months' rows and its edge days' rows, ranked in SQL.
RAW_PERCENTILES_TOTAL = (
    "WITH c AS (SELECT seconds, handovers AS c FROM metrics_handover_month "
    "WHERE store_key = '*' AND channel = '*' AND month_start >= $2 AND month_start < $3 "
    "UNION ALL SELECT seconds, handed_over FROM metrics_handover_day WHERE pickup = 1 "
    "AND seconds IS NOT NULL AND ((day >= $1 AND day < $2) OR (day >= $3 AND day <= $4))), "
    "h AS (SELECT seconds, SUM(c) AS c FROM c GROUP BY seconds), "
    "k AS (SELECT seconds, SUM(c) OVER (ORDER BY seconds) AS upto, SUM(c) OVER () AS total "
    "FROM h) SELECT MAX(total) AS total, "
    "MIN(CASE WHEN upto > 50 * (total - 1) / 100 THEN seconds END) AS median_lo, "
    "MIN(CASE WHEN upto > 50 * (total - 1) / 100 + 1 THEN seconds END) AS median_hi, "
    "MIN(CASE WHEN upto > 90 * (total - 1) / 100 THEN seconds END) AS p90_lo, "
    "MIN(CASE WHEN upto > 90 * (total - 1) / 100 + 1 THEN seconds END) AS p90_hi FROM k"
)


def metrics_op(world: dict[str, Any], impl: str, runtime: Any, pool: asyncpg.Pool) -> Op:
    from domain.engagement.metrics_model import interpolate

    last = date.fromisoformat(world["metrics_year"]["today"])
    first = last - timedelta(days=DAYS - 1)
    every_day = [first + timedelta(days=n) for n in range(DAYS)]
    whole = full_months(first, last)

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
            days = await conn.fetch(RAW_FIGURES, first, last)
            await conn.fetch(RAW_SUBSCRIPTIONS, first, last)
            people = await conn.fetchrow(RAW_MEMBERS_TOTAL, first, last, every_day)
            ranks = await conn.fetchrow(RAW_PERCENTILES_TOTAL, first, *whole, last)
        total = {k: sum(r[k] for r in days) for k in ("new_members", "handovers", "handed_over")}
        total["active_members"] = people["active"]
        total["repeat_members"] = people["active"] - (people["once"] or 0)
        for name, per_cent in (("median", 50), ("p90", 90)):
            if ranks["total"]:
                low, high = ranks[f"{name}_lo"], ranks[f"{name}_hi"]
                total[name] = interpolate(
                    low, low if high is None else high, int(ranks["total"]), per_cent
                )
        if strict and (len(money) != DAYS + 1 or len(days) != DAYS or not total["active_members"]):
            raise AssertionError(f"{len(money)} rows of money, {len(days)} days, {total}")

    return raw


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    async with fresh_runtime(args, min_pool=1) as (runtime, url, pool):
        report = started()
        world = {"metrics_year": await seed_metrics_year(url, runtime.clock.now())}
        report["seeded"] = world["metrics_year"]
        for impl in ("domain", "raw"):
            op = metrics_op(world, impl, runtime, pool)
            await op(Client(-1, random.Random(0), Recorder()), True)  # checked once
            report[impl] = await measure(op, args.clients, args.warmup, args.seconds)
        report["load_after"] = os.getloadavg()
        return report


def main(argv: list[str] | None = None) -> int:
    found = parser(
        "python -m bench.metrics_year", __doc__, 1, 1.0, 4, "omnishelf_bench_metrics_year"
    )
    run(main_async, parse(found, argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
