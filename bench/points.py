"""Benchmark the points ledger: earning and redeeming through the domain services, against
the same writes done with plain asyncpg, on a fresh PostgreSQL database.

    python -m bench.points --database-url postgres://postgres@127.0.0.1:5432/omnishelf_bench \
        [--admin-url postgres://postgres@127.0.0.1:5432/postgres] [--seconds 10] \
        [--concurrency 32] [--members 500] [--profile]

Workloads, each driven by N concurrent workers for a warm-up and then `--seconds`:

  earn    one credit of 100 points with a fresh idempotency key (a new lot with its expiry)
  redeem  a hold of 100 points and then, in a second transaction, its posting (as checkout
          and payment do)

each `spread` over `--members` members (a random one per operation) and `hot` on a single
member (every operation waits for the same account row lock). Two implementations:

  domain  `domain.loyalty.ledger.credit` / `hold` + `post_hold`, one unit of work each
          (Tortoise ORM on asyncpg), in this process
  raw     the same transactions with plain asyncpg: lock the account row FOR UPDATE, check
          the idempotency key / the hold's owner, read the spendable lots soonest expiry
          first, insert the entry (and lot or hold), update the lots, update the account

Each (workload, implementation) pair has its own members, seeded alike, so every run starts
from the same state. The database is dropped and created again (its name must contain
"bench"), migrated, seeded, checked for consistency at the end, and dropped unless --keep.
Not a test: it prints a table per concurrency (`ratio` is domain / raw throughput; `app
CPU` and `db CPU` are CPU seconds per wall second of this process and of this database's
PostgreSQL backends; `app ms/op` is this process's CPU per operation, the steadiest figure
on a busy machine). `--profile` then runs the domain workloads once more under cProfile
(wall-clock timer) and prints where the process's time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import logging
import os
import pstats
import random
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

WECHAT_APP = "wx-demo"  # the development settings' fake WeChat gateway
POINTS = 100
WORKLOADS = ("earn-spread", "earn-hot", "redeem-spread", "redeem-hot")
IMPLS = ("domain", "raw")


# ---------------------------------------------------------------- database


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def _dsn(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


async def recreate_database(admin_url: str, name: str) -> None:
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


def bench_settings(args: argparse.Namespace) -> Any:
    from infra.settings import Settings

    return Settings(
        env="development",
        database_url=args.database_url,
        redis_url=None,
        db_pool_size=args.pool_size,
        run_jobs_in_process=False,
    )


# ---------------------------------------------------------------- seeding


@dataclass
class Crowd:
    """The members one (workload, implementation) pair works on."""

    members: list[uuid.UUID]

    def pick(self, rnd: random.Random) -> uuid.UUID:
        return self.members[0] if len(self.members) == 1 else rnd.choice(self.members)


async def make_members(runtime: Any, count: int, prefix: str) -> list[uuid.UUID]:
    from domain.members.login import login_with_wechat

    made: list[uuid.UUID] = []
    for start in range(0, count, 32):
        batch = await asyncio.gather(
            *(
                login_with_wechat(runtime.members, WECHAT_APP, f"test:{prefix}-{n}")
                for n in range(start, min(count, start + 32))
            )
        )
        made += [member.id for member, _, _ in batch]
    return made


async def seed_lots(runtime: Any, members: list[uuid.UUID], each: int) -> None:
    """Three lots per member with different expiry dates, for redemptions to take from."""
    from domain.loyalty import ledger
    from domain.loyalty.model import EntryKind

    deps = runtime.loyalty

    async def one(member: uuid.UUID) -> None:
        for days in (45, 120, 300):
            async with deps.uow() as uow:
                await ledger.credit(
                    deps,
                    uow,
                    member,
                    each,
                    EntryKind.ADJUST,
                    "bench:seed",
                    "SYSTEM",
                    "bench seed",
                    None,
                    expires_at=deps.clock.now() + timedelta(days=days),
                )

    for start in range(0, len(members), 32):
        await asyncio.gather(*(one(m) for m in members[start : start + 32]))


async def open_accounts(runtime: Any, members: list[uuid.UUID]) -> None:
    """Empty accounts, so both implementations start from an existing account row."""
    from domain.loyalty import ledger

    deps = runtime.loyalty
    for member in members:
        async with deps.uow() as uow:
            await ledger.account_for(deps, uow, member)


async def seed(runtime: Any, args: argparse.Namespace) -> dict[tuple[str, str], Crowd]:
    crowds: dict[tuple[str, str], Crowd] = {}
    for workload in WORKLOADS:
        for impl in IMPLS:
            count = 1 if workload.endswith("hot") else args.members
            members = await make_members(runtime, count, f"bench-{workload}-{impl}")
            if workload.startswith("redeem"):
                await seed_lots(runtime, members, 20_000_000 if count == 1 else 200_000)
            else:
                await open_accounts(runtime, members)
            crowds[(workload, impl)] = Crowd(members)
    return crowds


# ---------------------------------------------------------------- the operations

Op = Callable[[random.Random], Awaitable[None]]


def domain_op(runtime: Any, workload: str, crowd: Crowd) -> Op:
    from domain.loyalty import ledger
    from domain.loyalty.model import EntryKind

    deps = runtime.loyalty

    async def earn(rnd: random.Random) -> None:
        member, key = crowd.pick(rnd), uuid.uuid4().hex
        async with deps.uow() as uow:
            await ledger.credit(
                deps, uow, member, POINTS, EntryKind.EARN, f"bench:{key}", "SYSTEM", "bench", key
            )

    async def redeem(rnd: random.Random) -> None:
        member, owner = crowd.pick(rnd), f"order:{uuid.uuid4()}"
        async with deps.uow() as uow:
            await ledger.hold(deps, uow, member, POINTS, owner, f"MEMBER:{member}")
        async with deps.uow() as uow:
            posted = await ledger.post_hold(deps, uow, owner, "SYSTEM")
        assert posted is not None

    return earn if workload.startswith("earn") else redeem


RAW_LOCK = "SELECT balance, held, debt FROM points_account WHERE member_id = $1 FOR UPDATE"
RAW_KEY = "SELECT 1 FROM points_entry WHERE member_id = $1 AND idempotency_key = $2"
RAW_LOT = (
    "INSERT INTO points_lot (id, member_id, amount, remaining, held, earned_at, expires_at, "
    "source) VALUES ($1, $2, $3, $3, 0, $4, $5, $6)"
)
RAW_ENTRY = (
    "INSERT INTO points_entry (id, member_id, kind, amount, held_change, balance_after, "
    "held_after, source, actor, reason, idempotency_key, created_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
)
RAW_ACCOUNT = "UPDATE points_account SET balance = $2, held = $3, debt = $4 WHERE member_id = $1"
RAW_HOLD_BY_OWNER = (
    "SELECT id, member_id, amount, state, allocations FROM points_hold WHERE owner = $1"
)
RAW_SPENDABLE = (
    "SELECT id, remaining FROM points_lot WHERE member_id = $1 AND remaining > 0 "
    "ORDER BY expires_at, id"
)
RAW_EARMARK = "UPDATE points_lot SET remaining = remaining - $2, held = held + $2 WHERE id = $1"
RAW_NEW_HOLD = (
    "INSERT INTO points_hold (id, member_id, owner, amount, state, allocations, created_at) "
    "VALUES ($1, $2, $3, $4, 'OPEN', $5::jsonb, $6)"
)
RAW_SPEND_HELD = "UPDATE points_lot SET held = held - $2 WHERE id = $1"
RAW_POST_HOLD = "UPDATE points_hold SET state = 'POSTED' WHERE id = $1"


class Refused(Exception):
    pass


def raw_op(pool: asyncpg.Pool, runtime: Any, workload: str, crowd: Crowd) -> Op:
    from domain.ids import new_id

    policy = runtime.loyalty.policy

    async def earn(rnd: random.Random) -> None:
        member, key = crowd.pick(rnd), uuid.uuid4().hex
        now = datetime.now(UTC)
        async with pool.acquire() as conn, conn.transaction():
            balance, held, debt = await conn.fetchrow(RAW_LOCK, member)
            if await conn.fetchval(RAW_KEY, member, key) is not None:
                return
            paid = min(POINTS, debt)
            if paid < POINTS:
                expires = policy.expiry_for(now)
                await conn.execute(
                    RAW_LOT, new_id(), member, POINTS - paid, now, expires, f"bench:{key}"
                )
            balance, debt = balance + POINTS, debt - paid
            await conn.execute(
                RAW_ENTRY,
                new_id(),
                member,
                "EARN",
                POINTS,
                0,
                balance,
                held,
                f"bench:{key}",
                "SYSTEM",
                "bench",
                key,
                now,
            )
            await conn.execute(RAW_ACCOUNT, member, balance, held, debt)

    async def redeem(rnd: random.Random) -> None:
        member, owner = crowd.pick(rnd), f"order:{uuid.uuid4()}"
        now = datetime.now(UTC)
        async with pool.acquire() as conn:
            async with conn.transaction():  # the hold
                balance, held, debt = await conn.fetchrow(RAW_LOCK, member)
                if await conn.fetchrow(RAW_HOLD_BY_OWNER, owner) is not None:
                    return
                if balance - held < POINTS:
                    raise Refused("insufficient points")
                taken: dict[str, int] = {}
                need = POINTS
                for lot in await conn.fetch(RAW_SPENDABLE, member):
                    part = min(lot["remaining"], need)
                    taken[str(lot["id"])] = part
                    need -= part
                    if need == 0:
                        break
                for lot_id, part in taken.items():
                    await conn.execute(RAW_EARMARK, uuid.UUID(lot_id), part)
                await conn.execute(
                    RAW_NEW_HOLD, new_id(), member, owner, POINTS, json.dumps(taken), now
                )
                held += POINTS
                await conn.execute(
                    RAW_ENTRY,
                    new_id(),
                    member,
                    "HOLD",
                    0,
                    POINTS,
                    balance,
                    held,
                    owner,
                    f"MEMBER:{member}",
                    "held for redemption",
                    f"hold:{owner}",
                    now,
                )
                await conn.execute(RAW_ACCOUNT, member, balance, held, debt)
            async with conn.transaction():  # the posting
                found = await conn.fetchrow(RAW_HOLD_BY_OWNER, owner)
                balance, held, debt = await conn.fetchrow(RAW_LOCK, found["member_id"])
                found = await conn.fetchrow(RAW_HOLD_BY_OWNER, owner)  # under the lock
                if found["state"] != "OPEN":
                    return
                allocations = json.loads(found["allocations"])
                for lot_id, part in allocations.items():
                    await conn.execute(RAW_SPEND_HELD, uuid.UUID(lot_id), part)
                await conn.execute(RAW_POST_HOLD, found["id"])
                balance, held = balance - POINTS, held - POINTS
                await conn.execute(
                    RAW_ENTRY,
                    new_id(),
                    member,
                    "REDEEM",
                    -POINTS,
                    -POINTS,
                    balance,
                    held,
                    owner,
                    "SYSTEM",
                    "redeemed",
                    f"redeem:{owner}",
                    datetime.now(UTC),
                )
                await conn.execute(RAW_ACCOUNT, member, balance, held, debt)

    return earn if workload.startswith("earn") else redeem


# ---------------------------------------------------------------- measuring


@dataclass
class Result:
    workload: str
    impl: str
    concurrency: int
    ops: int
    seconds: float
    latencies: list[float]
    errors: int
    first_error: str | None
    app_cpu: float
    db_cpu: float | None

    @property
    def rate(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] * 1000


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


BACKENDS: list[int] = []  # the PostgreSQL backends serving this database (both pools)


async def find_backends(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        pids = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        )
    BACKENDS[:] = [r["pid"] for r in pids]


def postgres_cpu() -> float | None:
    """CPU seconds of this database's backends (None when the server is not on this host;
    other databases on the same server, e.g. other benchmarks, are not counted)."""
    total, seen = 0.0, False
    for pid in BACKENDS:
        with contextlib.suppress(OSError, IndexError, ValueError):
            total += _cpu_seconds(pid)
            seen = True
    return total if seen else None


async def drive(
    workload: str,
    impl: str,
    concurrency: int,
    seconds: float,
    warmup: float,
    op: Op,
    seed_base: int,
) -> Result:
    """N workers run the operation back to back; only those started after the warm-up count."""
    latencies: list[float] = []
    errors = 0
    first_error: str | None = None
    start = time.perf_counter()
    measure_from, stop = start + warmup, start + warmup + seconds
    marks: dict[str, float] = {}

    async def mark() -> None:
        await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
        marks["cpu"] = time.process_time()
        db = postgres_cpu()
        if db is not None:
            marks["db"] = db
        marks["wall"] = time.perf_counter()

    async def worker(n: int) -> None:
        nonlocal errors, first_error
        rnd = random.Random(seed_base * 10_000 + n)
        while (t0 := time.perf_counter()) < stop:
            try:
                await op(rnd)
            except Exception as error:
                if t0 >= measure_from:
                    errors += 1
                    first_error = first_error or f"{type(error).__name__}: {error}"[:300]
                continue
            if t0 >= measure_from:
                latencies.append(time.perf_counter() - t0)

    marker = asyncio.create_task(mark())
    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    await marker
    wall = time.perf_counter() - marks["wall"]
    db_now = postgres_cpu() if "db" in marks else None
    return Result(
        workload,
        impl,
        concurrency,
        len(latencies),
        wall,
        latencies,
        errors,
        first_error,
        app_cpu=(time.process_time() - marks["cpu"]) / wall,
        db_cpu=(db_now - marks["db"]) / wall if db_now is not None else None,
    )


def combine(parts: list[Result]) -> Result:
    """Rounds of one (workload, implementation) as one result."""
    wall = sum(p.seconds for p in parts)
    db = [p.db_cpu for p in parts]
    return Result(
        parts[0].workload,
        parts[0].impl,
        parts[0].concurrency,
        sum(p.ops for p in parts),
        wall,
        [latency for p in parts for latency in p.latencies],
        sum(p.errors for p in parts),
        next((p.first_error for p in parts if p.first_error), None),
        app_cpu=sum(p.app_cpu * p.seconds for p in parts) / wall,
        db_cpu=None if None in db else sum((p.db_cpu or 0) * p.seconds for p in parts) / wall,
    )


class _Counter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage().lstrip().upper()
        if text.startswith(("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")):
            self.statements.append(text)


@contextlib.contextmanager
def count_sql() -> Iterator[list[str]]:
    logger = logging.getLogger("tortoise.db_client")
    handler = _Counter()
    old = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield handler.statements
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)


async def statements_per_op(runtime: Any, crowds: dict[tuple[str, str], Crowd]) -> str:
    """SQL statements one domain operation sends (BEGIN/COMMIT not counted)."""
    rnd = random.Random(1)
    parts = []
    for workload in ("earn-spread", "redeem-spread"):
        op = domain_op(runtime, workload, crowds[(workload, "domain")])
        with count_sql() as statements:
            await op(rnd)
        parts.append(f"{workload.split('-')[0]} {len(statements)}")
    return (
        "domain statements per operation: "
        + ", ".join(parts)
        + " (raw: earn 5, redeem 14 when one lot is touched)"
    )


async def domain_warm(runtime: Any) -> None:
    """Open every pooled connection of the domain side before measuring."""
    from tortoise.transactions import in_transaction

    async with in_transaction() as conn:
        await conn.execute_query("SELECT 1")
        await asyncio.sleep(0.05)


def table(results: list[Result]) -> str:
    head = (
        f"{'workload':<13} | {'impl':<6} | {'ops/s':>8} | {'p50 ms':>7} | {'p99 ms':>7} | "
        f"{'ratio':>5} | {'errors':>6} | {'app CPU':>7} | {'db CPU':>6} | {'app ms/op':>9}"
    )
    rows = [head, "-" * len(head)]
    raw = {r.workload: r.rate for r in results if r.impl == "raw"}
    for r in results:
        ratio = f"{r.rate / raw[r.workload]:.2f}" if raw.get(r.workload) else "-"
        db = f"{r.db_cpu * 100:.0f}%" if r.db_cpu is not None else "-"
        per_op = f"{r.app_cpu * r.seconds / r.ops * 1000:.2f}" if r.ops else "-"
        rows.append(
            f"{r.workload:<13} | {r.impl:<6} | {r.rate:>8.1f} | {r.percentile(0.5):>7.1f} | "
            f"{r.percentile(0.99):>7.1f} | {ratio:>5} | {r.errors:>6} | "
            f"{r.app_cpu * 100:>6.0f}% | {db:>6} | {per_op:>9}"
        )
    return "\n".join(rows)


async def check_consistency() -> str:
    """After the runs, the ledger's invariants for every account, in SQL."""
    from infra.db import sql

    rows = await sql.fetch(
        """
        SELECT a.member_id, a.balance, a.held, a.debt,
               COALESCE(e.amount, 0) AS entries, COALESCE(e.held, 0) AS entries_held,
               COALESCE(l.points, 0) AS lots, COALESCE(l.held, 0) AS lots_held,
               COALESCE(h.amount, 0) AS open_holds
        FROM points_account a
        LEFT JOIN (SELECT member_id, sum(amount) AS amount, sum(held_change) AS held
                   FROM points_entry GROUP BY member_id) e ON e.member_id = a.member_id
        LEFT JOIN (SELECT member_id, sum(remaining + held) AS points, sum(held) AS held
                   FROM points_lot GROUP BY member_id) l ON l.member_id = a.member_id
        LEFT JOIN (SELECT member_id, sum(amount) AS amount FROM points_hold
                   WHERE state = 'OPEN' GROUP BY member_id) h ON h.member_id = a.member_id
        """
    )
    wrong = [
        r
        for r in rows
        if not (
            r["balance"] == r["entries"] == r["lots"] - r["debt"]
            and r["held"] == r["entries_held"] == r["lots_held"] == r["open_holds"]
        )
    ]
    entries = (await sql.fetch("SELECT count(*) AS n FROM points_entry"))[0]["n"]
    return f"{entries} entries; {len(rows)} accounts, {len(wrong)} break an invariant"


# ---------------------------------------------------------------- profile


def _package(filename: str) -> str:
    path = filename.replace("\\", "/")
    for marker, name in (
        ("/tortoise/", "tortoise (ORM: query building, model instances)"),
        ("/pypika", "pypika (SQL text)"),
        ("/asyncpg/", "asyncpg (protocol)"),
        ("/asyncio/", "asyncio (event loop, tasks)"),
        ("/domain/", "domain"),
        ("/infra/", "infra (repositories)"),
        ("/uuid.py", "uuid"),
        ("/datetime", "datetime"),
        ("/json/", "json"),
        ("/zoneinfo", "zoneinfo"),
    ):
        if marker in path:
            return name
    if path.startswith("<") or path == "~":
        return "builtins (C functions)"
    return "other"


async def profile(runtime: Any, crowds: dict[tuple[str, str], Crowd], args: Any) -> str:
    out = []
    for workload in ("earn-spread", "redeem-spread"):
        op = domain_op(runtime, workload, crowds[(workload, "domain")])
        profiler = cProfile.Profile()
        profiler.enable()
        result = await drive(workload, "domain", args.profile_concurrency, 5, 0.0, op, 99)
        profiler.disable()
        stats = pstats.Stats(profiler)
        total = sum(t[2] for t in stats.stats.values())
        by_package: dict[str, float] = defaultdict(float)
        for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items():
            by_package[_package(filename)] += tottime
        out.append(
            f"\n{workload} (domain, {args.profile_concurrency} workers, under cProfile: "
            f"{result.rate:.0f} ops/s): self time by package"
        )
        for name, spent in sorted(by_package.items(), key=lambda kv: -kv[1]):
            out.append(f"  {spent / total * 100:5.1f}%  {name}")
        out.append("  top functions by self time:")
        for (filename, line, func), (_, calls, tottime, _, _) in sorted(
            stats.stats.items(), key=lambda kv: -kv[1][2]
        )[:12]:
            short = "/".join(filename.split("/")[-2:])
            per_op = calls / max(1, result.ops)
            out.append(
                f"  {tottime / total * 100:5.1f}%  {short}:{line} {func} ({per_op:.0f} calls/op)"
            )
        out.append("  top functions by cumulative time:")
        rows = sorted(
            stats.stats.items(),
            key=lambda kv: -kv[1][3],
        )
        shown = 0
        for (filename, line, func), (_, _, _, cumtime, _) in rows:
            short = "/".join(filename.split("/")[-2:])
            if any(s in short for s in ("asyncio/", "bench/", "contextlib", "<")):
                continue
            out.append(f"  {cumtime / total * 100:5.1f}%  {short}:{line} {func}")
            shown += 1
            if shown == 18:
                break
    return "\n".join(out)


# ---------------------------------------------------------------- main


async def run(args: argparse.Namespace) -> int:
    from infra.db.connection import migrate
    from infra.runtime import Runtime

    name = _database_name(args.database_url)
    admin_url = args.admin_url or _with_database(args.database_url, "postgres")
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    workloads = [w.strip() for w in args.workloads.split(",")]
    for workload in workloads:
        if workload not in WORKLOADS:
            raise SystemExit(f"unknown workload {workload!r}; use {','.join(WORKLOADS)}")

    print(f"fresh database {name!r}: drop, create, migrate", flush=True)
    await recreate_database(admin_url, name)
    runtime = None
    pool = None
    try:
        await asyncio.to_thread(migrate, args.database_url)
        runtime = Runtime(bench_settings(args), fast_password_hashing=True)
        await runtime.start()
        started = time.perf_counter()
        crowds = await seed(runtime, args)
        members = sum(len(c.members) for c in crowds.values())
        print(f"seeded {members} members in {time.perf_counter() - started:.1f}s", flush=True)
        pool = await asyncpg.create_pool(
            _dsn(args.database_url), min_size=args.pool_size, max_size=args.pool_size
        )
        async with pool.acquire() as conn:
            version = await conn.fetchval("SHOW server_version")
        print(
            f"python {sys.version.split()[0]}, PostgreSQL {version}, {os.cpu_count()} CPUs, "
            f"pool {args.pool_size} connections per implementation, {args.seconds:g}s per run "
            f"in {args.rounds} turns (each after {args.warmup:g}s warm-up), "
            f"{args.members} members per spread run",
            flush=True,
        )
        print(await statements_per_op(runtime, crowds), flush=True)
        await asyncio.gather(*(domain_warm(runtime) for _ in range(args.pool_size)))
        await find_backends(pool)
        for concurrency in concurrencies:
            results = []
            for w, workload in enumerate(workloads):
                parts: dict[str, list[Result]] = {impl: [] for impl in IMPLS}
                for r in range(args.rounds):
                    # alternate which goes first: a busy neighbour hurts both alike
                    for impl in IMPLS if r % 2 == 0 else IMPLS[::-1]:
                        crowd = crowds[(workload, impl)]
                        op = (
                            domain_op(runtime, workload, crowd)
                            if impl == "domain"
                            else raw_op(pool, runtime, workload, crowd)
                        )
                        part = await drive(
                            workload,
                            impl,
                            concurrency,
                            args.seconds / args.rounds,
                            args.warmup,
                            op,
                            concurrency * 1000 + w * 100 + r * 10 + IMPLS.index(impl),
                        )
                        parts[impl].append(part)
                for impl in IMPLS:
                    result = combine(parts[impl])
                    if result.first_error:
                        print(f"  {workload} {impl}: first error: {result.first_error}")
                    results.append(result)
            print(f"\nconcurrency {concurrency}\n{table(results)}\n", flush=True)
        print("consistency:", await check_consistency(), flush=True)
        if args.profile:
            print(await profile(runtime, crowds, args), flush=True)
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
        prog="python -m bench.points", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--database-url", required=True, help="postgres://.../<name with bench>")
    parser.add_argument("--admin-url", help="a database to run CREATE/DROP DATABASE from")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per run")
    parser.add_argument(
        "--warmup", type=float, default=1.0, help="unmeasured seconds before each round"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=4,
        help="domain and raw take turns this many times, `--seconds` split between them",
    )
    parser.add_argument("--concurrency", default="32", help="comma-separated worker counts")
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help=",".join(WORKLOADS))
    parser.add_argument("--members", type=int, default=500, help="members per spread run")
    parser.add_argument("--pool-size", type=int, default=20, help="connections per side")
    parser.add_argument("--profile", action="store_true", help="profile the domain afterwards")
    parser.add_argument("--profile-concurrency", type=int, default=32)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args(argv)
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        parser.error("--database-url must be postgres://")
    if "bench" not in _database_name(args.database_url):
        parser.error("the database is dropped and created again: its name must contain 'bench'")
    return asyncio.run(run(args))


if __name__ == "__main__":
    raise SystemExit(main())
