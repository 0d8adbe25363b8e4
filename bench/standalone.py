"""What the standalone in-process benchmarks (`python -m bench.flash_sale`, `bench.group_buy`,
`bench.metrics_year`) share: their command line, a fresh database with a started runtime and
an asyncpg pool for the raw baselines, measuring one operation at a number of clients, and the
report printed as one JSON document (and written with --json-out)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from bench.database import FreshDatabase, Secrets, dsn, runtime_settings
from bench.driver import Client, Op, Recorder, drive
from bench.stats import rate, summary


def parser(
    prog: str, description: str | None, clients: int, warmup: float, pool_size: int, database: str
) -> argparse.ArgumentParser:
    """The options every one takes; a benchmark adds its own before `parse`."""
    found = argparse.ArgumentParser(prog=prog, description=description)
    found.add_argument("--clients", type=int, default=clients)
    found.add_argument("--seconds", type=float, default=5.0)
    found.add_argument("--warmup", type=float, default=warmup)
    found.add_argument("--pool-size", type=int, default=pool_size)
    found.add_argument("--admin-url", default=os.environ.get("PG_ADMIN_URL"))
    found.add_argument("--database", default=database)
    found.add_argument("--json-out")
    return found


def parse(found: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    args = found.parse_args(argv)
    if not args.admin_url:
        found.error("needs PostgreSQL: --admin-url or $PG_ADMIN_URL (scripts/with-services.sh)")
    return args


@asynccontextmanager
async def fresh_runtime(
    args: argparse.Namespace, min_pool: int
) -> AsyncIterator[tuple[Any, str, asyncpg.Pool]]:
    """A fresh database migrated to head (dropped on the way out), the runtime started on it,
    and an asyncpg pool for the raw baseline: (runtime, url, pool)."""
    from infra.runtime import Runtime

    async with FreshDatabase(args.admin_url, args.database) as url:
        runtime = Runtime(
            runtime_settings(url, Secrets(), args.pool_size), fast_password_hashing=True
        )
        await runtime.start()
        pool = await asyncpg.create_pool(dsn(url), min_size=min_pool, max_size=args.pool_size)
        try:
            yield runtime, url, pool
        finally:
            await pool.close()
            await runtime.stop()


def started() -> dict[str, Any]:
    """A report's first lines: the machine's CPUs and load average as the run begins."""
    return {"cpus": os.cpu_count(), "load_before": os.getloadavg()}


async def measure(op: Op, clients: int, warmup: float, seconds: float) -> dict[str, Any]:
    """`op` by `clients` at once, `warmup` seconds unmeasured then `seconds` measured."""
    rec = Recorder()
    crowd = [Client(i, random.Random(i), rec) for i in range(clients)]

    async def on_window(_: str) -> None:
        return None

    window = await drive(crowd, op, warmup, seconds, on_window)
    return {
        "clients": clients,
        "orders_per_s": round(rate(len(rec.ops), window), 1),
        "errors": rec.errors,
        "error_samples": rec.samples[:3],
        **summary(rec.ops),
    }


def run(
    main_async: Callable[[argparse.Namespace], Coroutine[Any, Any, dict[str, Any]]],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Run the benchmark, print its report as JSON (and write it to --json-out)."""
    report = asyncio.run(main_async(args))
    text = json.dumps(report, indent=2, default=str)
    print(text)
    if args.json_out:
        with open(args.json_out, "w") as out:
            out.write(text + "\n")
    return report
