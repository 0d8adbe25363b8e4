"""Benchmark stock reservations: `domain.inventory.reservations.reserve` (Tortoise ORM on
asyncpg, one unit of work per call) against the same transaction written with plain asyncpg.

    python -m bench.reservations --database-url postgres://postgres@127.0.0.1:5432/any \
        [--admin-url postgres://postgres@127.0.0.1:5432/postgres] [--seconds 10] \
        [--concurrency 32] [--variants 1000] [--rounds 2] [--profile]

`--database-url` names the server and credentials; the database in it is not touched. The
benchmark creates its own database next to it (`omnishelf_bench_reservations_<pid>`, from
`--admin-url`, else $PG_ADMIN_URL, else the same server's `postgres` database), migrates it
with `infra.db.connection.migrate`, seeds one store and `--variants` variants with 1,000,000
units each (through the domain services), and drops it at the end (unless --keep).

Scenarios, each with N concurrent workers back to back for a warm-up and then `--seconds`:

  hot     every reservation takes 1 unit of the same variant (all queue on one row lock)
  spread  each reservation takes 1 unit of a random one of `--variants` variants

Implementations:

  omnishelf  reservations.reserve(deps, [StockLine(variant, 1)], store, owner, ttl)
  raw        asyncpg pool of the same size: BEGIN; UPDATE stock_level SET reserved =
             reserved + 1 WHERE ... AND on_hand - reserved - safety_stock >= 1; INSERT
             stock_reservation; INSERT stock_movement; COMMIT

Both write the same rows (every owner is new, so nothing is released). The measured time is
split into `--rounds` turns in which the two take turns, each turn starting from the seeded
state (reservations and their movements deleted, `reserved` back to 0, tables vacuumed), so a
busy neighbour hurts both alike. After every turn the books are checked: each level's
`reserved` equals its held reservations and the ledger sums to every level. Not a test: it
prints a table (`ratio` is omnishelf / raw throughput; `app ms/op` is this process's CPU per
operation, the steadiest figure on a busy machine; `db CPU` is CPU seconds per wall second of
the benchmark database's PostgreSQL backends, when the server runs on this host).
`--profile` then runs the omnishelf spread scenario once more under cProfile.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import os
import pstats
import random
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

import asyncpg

SCENARIOS = ("hot", "spread")
IMPLS = ("omnishelf", "raw")
STOCK = 1_000_000
TTL = timedelta(minutes=15)
VARIANTS_PER_PRODUCT = 100

Op = Callable[[random.Random, str], Awaitable[None]]

RAW_RESERVE = (
    "UPDATE stock_level SET reserved = reserved + $3 "
    "WHERE location_id = $1 AND variant_id = $2 AND on_hand - reserved - safety_stock >= $3"
)
RAW_RESERVATION = (
    "INSERT INTO stock_reservation (id, owner, location_id, variant_id, quantity, state, "
    "expires_at, created_at) VALUES ($1, $2, $3, $4, $5, 'ACTIVE', $6, $7)"
)
RAW_MOVEMENT = (
    "INSERT INTO stock_movement (id, location_id, variant_id, kind, on_hand_delta, "
    "reserved_delta, reason, reference, actor, created_at) "
    "VALUES ($1, $2, $3, 'RESERVE', 0, $4, 'reserved', $5, 'SYSTEM', $6)"
)


# ---------------------------------------------------------------- database


def _dsn(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def create_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(_dsn(admin_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(_dsn(admin_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def reset(pool: asyncpg.Pool) -> None:
    """Back to the seeded state: no reservations, only the receipts in the ledger."""
    async with pool.acquire() as conn:
        await conn.execute(
            "DELETE FROM stock_reservation; "
            "DELETE FROM stock_movement WHERE kind = 'RESERVE'; "
            "UPDATE stock_level SET reserved = 0 WHERE reserved <> 0"
        )
        await conn.execute("VACUUM ANALYZE stock_level, stock_reservation, stock_movement")


async def books_balance(pool: asyncpg.Pool) -> str | None:
    """None when every level's reserved is its held reservations and the ledger's sums."""
    async with pool.acquire() as conn:
        bad = await conn.fetch(
            """
            SELECT l.variant_id, l.on_hand, l.reserved, m.on_hand AS m_on_hand,
                   m.reserved AS m_reserved, COALESCE(r.held, 0) AS held
            FROM stock_level l
            LEFT JOIN (SELECT location_id, variant_id, SUM(on_hand_delta) AS on_hand,
                              SUM(reserved_delta) AS reserved
                       FROM stock_movement GROUP BY 1, 2) m USING (location_id, variant_id)
            LEFT JOIN (SELECT location_id, variant_id, SUM(quantity) AS held
                       FROM stock_reservation WHERE state IN ('ACTIVE', 'AT_RISK')
                       GROUP BY 1, 2) r USING (location_id, variant_id)
            WHERE l.reserved <> COALESCE(r.held, 0)
               OR l.on_hand <> COALESCE(m.on_hand, 0) OR l.reserved <> COALESCE(m.reserved, 0)
            """
        )
    return f"{len(bad)} levels off, e.g. {dict(bad[0])}" if bad else None


# ---------------------------------------------------------------- seeding


@dataclass
class Shelf:
    store: UUID
    variants: list[UUID]
    hot: UUID


ADMIN: Any = None


async def seed(runtime: Any, count: int) -> Shelf:
    from domain.catalog.services import ProductDraft, VariantDraft, create_product
    from domain.identity.model import Principal, PrincipalKind, StaffRole
    from domain.ids import new_id
    from domain.inventory.model import MovementKind
    from domain.inventory.stock import Adjustment, adjust
    from domain.locations.model import LocationType
    from domain.locations.services import LocationDraft, create_location

    global ADMIN
    ADMIN = Principal(kind=PrincipalKind.STAFF, id=new_id(), role=StaffRole.ADMIN)
    store = await create_location(
        runtime.locations,
        LocationDraft(
            code="BENCH-1",
            name="Bench store",
            type=LocationType.STORE,
            address="1 Bench Rd",
            city="Shanghai",
            latitude=31.23,
            longitude=121.47,
        ),
    )
    variants: list[UUID] = []
    for start in range(0, count, VARIANTS_PER_PRODUCT):
        codes = [f"BENCH-{i:05d}" for i in range(start, min(count, start + VARIANTS_PER_PRODUCT))]
        product = await create_product(
            runtime.catalog,
            ProductDraft(
                name=f"Bench product {start // VARIANTS_PER_PRODUCT}",
                variants=[VariantDraft(code=c, name=c, price=100) for c in codes],
            ),
        )
        variants += [v.id for v in await runtime.repos.catalog.variants_of([product.id])]

    async def receive(variant: UUID) -> None:
        change = Adjustment(store.id, variant, STOCK, MovementKind.RECEIPT, "bench stock")
        await adjust(runtime.inventory, ADMIN, change, None)

    for start in range(0, len(variants), 20):
        await asyncio.gather(*(receive(v) for v in variants[start : start + 20]))
    return Shelf(store.id, variants, variants[0])


# ---------------------------------------------------------------- operations


class Refused(Exception):
    pass


def omnishelf_op(runtime: Any, shelf: Shelf, scenario: str) -> Op:
    from domain.inventory.model import StockLine
    from domain.inventory.reservations import reserve

    deps = runtime.inventory

    async def op(rnd: random.Random, owner: str) -> None:
        variant = shelf.hot if scenario == "hot" else rnd.choice(shelf.variants)
        await reserve(deps, [StockLine(variant, 1)], shelf.store, owner, TTL)

    return op


def raw_op(pool: asyncpg.Pool, shelf: Shelf, scenario: str) -> Op:
    from domain.ids import new_id

    async def op(rnd: random.Random, owner: str) -> None:
        variant = shelf.hot if scenario == "hot" else rnd.choice(shelf.variants)
        async with pool.acquire() as conn, conn.transaction():
            if await conn.execute(RAW_RESERVE, shelf.store, variant, 1) != "UPDATE 1":
                raise Refused(f"{variant} is out of stock")
            now = datetime.now(UTC)
            await conn.execute(
                RAW_RESERVATION, new_id(), owner, shelf.store, variant, 1, now + TTL, now
            )
            await conn.execute(RAW_MOVEMENT, new_id(), shelf.store, variant, 1, owner, now)

    return op


# ---------------------------------------------------------------- driving


@dataclass
class Result:
    scenario: str
    impl: str
    ops: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None
    app_cpu: float = 0.0  # CPU seconds of this process
    db_cpu: float | None = None  # CPU seconds of the database's backends

    def add(self, other: Result) -> None:
        self.ops += other.ops
        self.seconds += other.seconds
        self.latencies += other.latencies
        self.errors += other.errors
        self.first_error = self.first_error or other.first_error
        self.app_cpu += other.app_cpu
        if other.db_cpu is not None:
            self.db_cpu = (self.db_cpu or 0.0) + other.db_cpu

    @property
    def rate(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0

    def quantile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] * 1000


BACKENDS: list[int] = []


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu() -> float | None:
    total, seen = 0.0, False
    for pid in BACKENDS:
        with contextlib.suppress(OSError, IndexError, ValueError):
            total += _cpu_seconds(pid)
            seen = True
    return total if seen else None


async def find_backends(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        )
    BACKENDS[:] = [r["pid"] for r in rows]


async def drive(
    scenario: str, impl: str, op: Op, concurrency: int, seconds: float, warmup: float, turn: int
) -> Result:
    """N workers run the operation back to back; only those started after the warm-up count."""
    result = Result(scenario, impl)
    start = time.perf_counter()
    measure_from, stop = start + warmup, start + warmup + seconds
    marks: dict[str, float] = {}

    async def mark() -> None:
        await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
        marks["cpu"], marks["wall"] = time.process_time(), time.perf_counter()
        db = postgres_cpu()
        if db is not None:
            marks["db"] = db

    async def worker(n: int) -> None:
        rnd = random.Random(turn * 1000 + n)
        count = 0
        while (t0 := time.perf_counter()) < stop:
            count += 1
            try:
                await op(rnd, f"bench:{impl}:{turn}:{n}:{count}")
            except Exception as error:
                if t0 >= measure_from:
                    result.errors += 1
                    result.first_error = result.first_error or f"{type(error).__name__}: {error}"
                continue
            if t0 >= measure_from:
                result.latencies.append(time.perf_counter() - t0)

    marker = asyncio.create_task(mark())
    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    await marker
    result.seconds = time.perf_counter() - marks["wall"]
    result.app_cpu = time.process_time() - marks["cpu"]
    db_now = postgres_cpu() if "db" in marks else None
    result.db_cpu = db_now - marks["db"] if db_now is not None else None
    result.ops = len(result.latencies)
    return result


def table(results: dict[tuple[str, str], Result]) -> str:
    head = (
        "| scenario | omnishelf ops/s | raw asyncpg ops/s | ratio | omnishelf p50/p99 ms "
        "| raw p50/p99 ms | app ms/op omnishelf/raw | db CPU omnishelf/raw |"
    )
    lines = [head, "|---|--:|--:|--:|--:|--:|--:|--:|"]
    for scenario in SCENARIOS:
        if (scenario, "omnishelf") not in results:
            continue
        o, r = results[(scenario, "omnishelf")], results[(scenario, "raw")]

        def db(x: Result) -> str:
            return f"{x.db_cpu / x.seconds:.0%}" if x.db_cpu is not None else "n/a"

        lines.append(
            f"| {scenario} | {o.rate:,.0f} | {r.rate:,.0f} | {o.rate / r.rate:.2f} "
            f"| {o.quantile(0.5):.1f} / {o.quantile(0.99):.1f} "
            f"| {r.quantile(0.5):.1f} / {r.quantile(0.99):.1f} "
            f"| {1000 * o.app_cpu / max(o.ops, 1):.2f} / {1000 * r.app_cpu / max(r.ops, 1):.2f} "
            f"| {db(o)} / {db(r)} |"
        )
    return "\n".join(lines)


async def profile(runtime: Any, shelf: Shelf, args: argparse.Namespace) -> str:
    """The omnishelf spread scenario under cProfile: where this process's time goes."""
    profiler = cProfile.Profile()
    op = omnishelf_op(runtime, shelf, "spread")
    profiler.enable()
    result = await drive("spread", "omnishelf", op, args.concurrency, args.seconds / 2, 0, 99)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(25)
    return f"profiled {result.ops} reservations ({result.rate:,.0f}/s under the profiler)\n" + (
        out.getvalue()
    )


# ---------------------------------------------------------------- main


async def run(args: argparse.Namespace) -> int:
    from infra.db.connection import migrate
    from infra.runtime import Runtime
    from infra.settings import Settings

    admin_url = (
        args.admin_url
        or os.environ.get("PG_ADMIN_URL")
        or _with_database(args.database_url, "postgres")
    )
    name = f"omnishelf_bench_reservations_{os.getpid()}"
    bench_url = _with_database(args.database_url, name)
    print(f"database {name!r}: create, migrate, seed", flush=True)
    await create_database(admin_url, name)
    runtime = pool = None
    try:
        await asyncio.to_thread(migrate, bench_url)
        settings = Settings(
            env="development",
            database_url=bench_url,
            redis_url=None,
            db_pool_size=args.pool_size,
            run_jobs_in_process=False,
        )
        runtime = Runtime(settings, fast_password_hashing=True)
        await runtime.start()
        started = time.perf_counter()
        shelf = await seed(runtime, args.variants)
        print(
            f"seeded 1 store, {len(shelf.variants)} variants x {STOCK:,} units "
            f"in {time.perf_counter() - started:.1f}s",
            flush=True,
        )
        pool = await asyncpg.create_pool(
            _dsn(bench_url), min_size=args.pool_size, max_size=args.pool_size
        )
        async with pool.acquire() as conn:
            version = await conn.fetchval("SHOW server_version")
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(
            f"python {sys.version.split()[0]}, PostgreSQL {version}, {os.cpu_count()} CPUs "
            f"(load average {load:.1f}), concurrency {args.concurrency}, pool "
            f"{args.pool_size} connections per implementation, {args.seconds:g}s measured per "
            f"scenario and implementation in {args.rounds} turns (each after "
            f"{args.warmup:g}s warm-up)",
            flush=True,
        )
        warm = omnishelf_op(runtime, shelf, "spread")  # fill the ORM's pool too
        await asyncio.gather(*(warm(random.Random(n), f"warm-{n}") for n in range(args.pool_size)))
        await find_backends(pool)
        await reset(pool)

        results: dict[tuple[str, str], Result] = {}
        turn = 0
        for scenario in args.scenarios.split(","):
            if scenario not in SCENARIOS:
                raise SystemExit(f"unknown scenario {scenario!r}; use {','.join(SCENARIOS)}")
            for r in range(args.rounds):
                for impl in IMPLS if r % 2 == 0 else IMPLS[::-1]:  # alternate who goes first
                    op = (
                        omnishelf_op(runtime, shelf, scenario)
                        if impl == "omnishelf"
                        else raw_op(pool, shelf, scenario)
                    )
                    turn += 1
                    part = await drive(
                        scenario,
                        impl,
                        op,
                        args.concurrency,
                        args.seconds / args.rounds,
                        args.warmup,
                        turn,
                    )
                    problem = await books_balance(pool)
                    if problem:
                        raise SystemExit(f"books do not balance after {scenario}/{impl}: {problem}")
                    await reset(pool)
                    results.setdefault((scenario, impl), Result(scenario, impl)).add(part)
            for impl in IMPLS:
                done = results[(scenario, impl)]
                print(
                    f"  {scenario:6} {impl:9} {done.ops:7,} reservations, {done.rate:7,.0f}/s"
                    + (f", {done.errors} errors ({done.first_error})" if done.errors else ""),
                    flush=True,
                )
        print("\n" + table(results) + "\n", flush=True)
        if args.profile:
            print(await profile(runtime, shelf, args), flush=True)
        return 0
    finally:
        if pool is not None:
            await pool.close()
        if runtime is not None:
            await runtime.stop()
        if args.keep:
            print(f"kept database {name!r}")
        else:
            await drop_database(admin_url, name)
            print(f"dropped database {name!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.reservations", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--database-url", required=True, help="postgres://... (server to use)")
    parser.add_argument("--admin-url", help="where to CREATE/DROP DATABASE (or $PG_ADMIN_URL)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per run")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent workers")
    parser.add_argument("--variants", type=int, default=1000, help="variants in `spread`")
    parser.add_argument("--pool-size", type=int, default=20, help="connections per side")
    parser.add_argument("--rounds", type=int, default=2, help="turns per scenario")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds per turn")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="hot,spread")
    parser.add_argument("--profile", action="store_true", help="cProfile omnishelf afterwards")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args(argv)
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        parser.error("--database-url must be postgres://...")
    return asyncio.run(run(args))


if __name__ == "__main__":
    raise SystemExit(main())
