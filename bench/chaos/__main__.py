"""python -m bench.chaos: options, the run, the summary (printed, and written as JSON)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg

from bench.chaos import verify
from bench.chaos.cluster import Cluster, chaos_env, killer
from bench.chaos.load import Load
from bench.chaos.world import build
from bench.database import Secrets, drop_database, dsn, with_database
from bench.processes import ROOT


def _seconds_range(text: str) -> tuple[float, float]:
    low, _, high = text.partition("-")
    try:
        bounds = (float(low), float(high or low))
    except ValueError:
        bounds = (0.0, 0.0)
    if not 0 < bounds[0] <= bounds[1]:
        raise argparse.ArgumentTypeError(f"MIN-MAX seconds with 0 < MIN <= MAX, got {text!r}")
    return bounds


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    test_url = os.environ.get("TEST_DATABASE_URL", "")
    p = argparse.ArgumentParser(
        prog="python -m bench.chaos",
        description="Crash test: 2 APIs + 2 workers (production mode) on PostgreSQL + Redis "
        "under mixed load, a random one SIGKILLed every few seconds and restarted; then the "
        "jobs settle, and the harness's checks and `omnishelf doctor` must find nothing (exit "
        "0; 1 otherwise). The database is created afresh (its name contains 'chaos').",
    )
    add = p.add_argument
    add("--seconds", type=float, default=60, help="seconds of load (default 60)")
    add(
        "--kill-every",
        type=_seconds_range,
        default=(2.0, 5.0),
        metavar="MIN-MAX",
        help="seconds between kills, uniform in MIN-MAX (default 2-5)",
    )
    add("--seed", type=int, default=1, help="seeds the kills and the operation mix (default 1)")
    add("--clients", type=int, default=8, help="concurrent clients (default 8)")
    add("--members", type=int, default=24, help="members (default 24; 4x as many duplicates)")
    add("--keep-db", action="store_true", help="keep the database afterwards")
    add(
        "--admin-url",
        default=os.environ.get("PG_ADMIN_URL")
        or (test_url and with_database(test_url, "postgres")),
        help="a database on the PostgreSQL server to create ours from ($PG_ADMIN_URL)",
    )
    add("--database", default="omnishelf_chaos", help="its name (default omnishelf_chaos)")
    add(
        "--redis-url",
        default=os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL"),
        help="the Redis server ($TEST_REDIS_URL, else $REDIS_URL)",
    )
    add("--redis-db", type=int, default=7, help="Redis database used, flushed first (default 7)")
    add("--settle-seconds", type=float, default=120, help="longest settling wait (default 120)")
    add(
        "--json-out",
        type=Path,
        default=ROOT / "bench/results/chaos.json",
        help="the summary as JSON (default bench/results/chaos.json)",
    )
    add("--ledger-out", type=Path, help="also write what the clients saw, as JSON")
    add("--log-dir", type=Path, help="the processes' logs (default: a new temporary directory)")
    args = p.parse_args(argv)
    if not args.admin_url or not args.redis_url:
        p.error("set PG_ADMIN_URL and TEST_REDIS_URL (scripts/with-services.sh does)")
    if "chaos" not in args.database:
        p.error("--database must contain 'chaos': it is dropped and created again")
    return args


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from redis.asyncio import Redis

    keys = Secrets()
    url = with_database(args.admin_url, args.database)
    redis_url = with_database(args.redis_url, str(args.redis_db))
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="omnishelf-chaos-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    async with Redis.from_url(redis_url) as redis:
        await redis.flushdb()
    print(f"chaos: database {args.database}, redis db {args.redis_db}, logs {log_dir}", flush=True)
    world = await build(args.admin_url, args.database, keys, args.members)
    env = chaos_env(url, redis_url, keys)
    cluster = Cluster(env, log_dir)
    load = Load(world, cluster, keys.payment, args.seed)
    try:
        await cluster.start()
        print(f"chaos: 4 processes up; {args.seconds:g} s of load and kills", flush=True)
        began = time.monotonic()
        kills = asyncio.create_task(
            killer(cluster, random.Random(args.seed), args.kill_every, args.seconds)
        )
        await load.run(args.clients, args.seconds, redis_url)
        kills.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await kills
        seconds = time.monotonic() - began
        print("chaos: load stopped; settling", flush=True)
        settled = await verify.settle(cluster, redis_url, dsn(url), args.settle_seconds)
        await cluster.stop()
        conn = await asyncpg.connect(dsn(url))
        try:
            problems, facts = await verify.harness_checks(conn, load.ledger)
        finally:
            await conn.close()
        doctor = await verify.run_doctor(env)
    finally:
        await cluster.stop()
        await load.close()
        if not args.keep_db:
            await drop_database(args.admin_url, args.database)
    if args.ledger_out:
        args.ledger_out.write_text(json.dumps(dataclasses.asdict(load.ledger)))
    logged = cluster.logged_errors()
    failed = sum(t.failed for t in load.tallies.values())
    clean = doctor["status"] in ("clean", "missing")
    return {
        "ok": settled["settled"] and not (problems or failed or logged) and clean,
        "seed": args.seed,
        "seconds": round(seconds, 1),
        "clients": args.clients,
        "kill_every": list(args.kill_every),
        "database": args.database if args.keep_db else None,
        "operations": {k: dataclasses.asdict(t) for k, t in load.tallies.items()},
        "dropped": load.dropped,
        "jobs_enqueued": load.jobs_enqueued,
        "kills": {
            "api": sum(k.kind == "api" for k in cluster.kills),
            "worker": sum(k.kind == "worker" for k in cluster.kills),
            "restarts": cluster.restarts,
            "log": [dataclasses.asdict(k) for k in cluster.kills],
        },
        "settle": settled,
        "logged_errors": logged,
        "checks": {"problems": problems, "facts": facts},
        "doctor": doctor,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    summary = asyncio.run(run(args))
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    print(verify.table(summary), f"chaos: summary in {args.json_out}", sep="\n", flush=True)
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
