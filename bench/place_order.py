"""Benchmark placeOrder (pickup, two lines) three ways, on a fresh PostgreSQL database.

    python -m bench.place_order --database-url postgres://postgres@127.0.0.1:5432/omnishelf_bench \
        [--admin-url postgres://postgres@127.0.0.1:5432/postgres] [--redis-url redis://...] \
        [--seconds 10] [--concurrency 8,32,64] [--scenarios domain,http,raw]

Scenarios, each driven by N concurrent workers back to back for a warm-up and then
`--seconds` of measurement, split into `--rounds` turns in which the scenarios take turns (so
a busy neighbour on a shared machine hurts all of them alike):

  domain  `domain.ordering.checkout.place_order` called in this process (Tortoise, asyncpg)
  http    the GraphQL `placeOrder` mutation over HTTP (httpx, keep-alive) to `omnishelf serve`
          run as a separate process in production mode (OMNISHELF_ENV=production: secrets,
          PostgreSQL and Redis set; uvicorn with uvloop and httptools)
  raw     the same writes with plain asyncpg: BEGIN; claim the idempotency key; two
          conditional UPDATEs of stock_level; INSERT the reservations, the movements, the
          order, its lines and its first event; store the idempotency result; COMMIT

Every order is placed by one of the seeded members, at a random store, for two distinct
random variants (1 unit each), with a fresh idempotency key, as the mini-program does. The
database is dropped and created again (its name must contain "bench"), migrated, seeded,
and dropped at the end unless --keep. Not a test: it prints a table per concurrency.

The load generator shares the machine with the server and PostgreSQL; the table shows the
CPU each used (CPU seconds per wall second; `app` is the server for http, this process
otherwise), `app ms/order` (the steadiest figure on a busy machine), and what any other
process on the machine took meanwhile. `--server-prefix` runs the server under a profiler
(py-spy is no dependency: `.venv/bin/pip install py-spy` first):
    --server-prefix ".venv/bin/py-spy record --format raw -o server.txt --"
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import functools
import json
import os
import random
import secrets
import signal
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ("domain", "http", "raw")
TARGET_CONCURRENCY, TARGET_RATE, TARGET_P99_MS = 32, 300.0, 100.0
WECHAT_APP = "wx-demo"  # the bench process logs members in with the fake gateway
HOURS = {d: [("07:00", "23:00")] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}

PLACE_ORDER = """
mutation($input: PlaceOrderInput!) {
  placeOrder(input: $input) {
    order { id number status total { amount } }
    errors { code message }
  }
}"""


# ---------------------------------------------------------------- set-up


@dataclass(frozen=True)
class Secrets:
    """Production refuses development secrets: fresh ones per run, shared by the bench
    process (which mints the members' tokens) and the server (which verifies them)."""

    jwt: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    pii_master: str = field(default_factory=lambda: base64.b64encode(os.urandom(32)).decode())
    pii_hash: str = field(default_factory=lambda: base64.b64encode(os.urandom(32)).decode())
    payment: str = field(default_factory=lambda: secrets.token_urlsafe(32))


@dataclass
class Variant:
    id: uuid.UUID
    product_id: uuid.UUID
    sku: str
    name: str
    price: int


@dataclass
class Member:
    id: uuid.UUID
    token: str
    principal: Any


@dataclass
class World:
    stores: list[uuid.UUID]
    variants: list[Variant]
    members: list[Member]


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


async def recreate_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(admin_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(admin_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def bench_settings(args: argparse.Namespace, keys: Secrets) -> Any:
    from infra.settings import Settings

    return Settings(
        env="development",
        database_url=args.database_url,
        redis_url=None,
        jwt_secret=keys.jwt,
        pii_master_key=keys.pii_master,
        pii_hash_key=keys.pii_hash,
        payment_secret=keys.payment,
        access_token_ttl=3600,
        db_pool_size=args.pool_size,
        run_jobs_in_process=False,
        wechat_apps={WECHAT_APP: "unused"},
    )


async def seed(runtime: Any, args: argparse.Namespace) -> World:
    from domain.catalog.services import ProductDraft, VariantDraft, create_product
    from domain.identity.model import Principal, PrincipalKind, StaffRole
    from domain.ids import new_id
    from domain.inventory.model import MovementKind
    from domain.inventory.stock import Adjustment, adjust
    from domain.locations.model import LocationType
    from domain.locations.services import LocationDraft, create_location
    from domain.members.login import login_with_wechat
    from domain.members.services import member_principal

    admin = Principal(kind=PrincipalKind.STAFF, id=new_id(), role=StaffRole.ADMIN)
    stores = []
    for n in range(args.stores):
        location = await create_location(
            runtime.locations,
            LocationDraft(
                code=f"BENCH-{n + 1:02d}",
                name=f"Bench store {n + 1}",
                type=LocationType.STORE,
                address=f"{n + 1} Bench Rd",
                city="Shanghai",
                latitude=31.2 + n * 0.01,
                longitude=121.4 + n * 0.01,
                opening_hours=HOURS,
                pickup_enabled=True,
            ),
        )
        stores.append(location.id)
    variants: list[Variant] = []
    per_product = 10
    for p in range((args.variants + per_product - 1) // per_product):
        drafts = [
            VariantDraft(code=f"B{p:03d}-{v:02d}", name=f"size {v}", price=990 + 10 * v)
            for v in range(min(per_product, args.variants - p * per_product))
        ]
        product = await create_product(
            runtime.catalog, ProductDraft(name=f"Bench product {p}", variants=drafts)
        )
        for v in await runtime.repos.catalog.variants_of([product.id]):
            variants.append(
                Variant(v.id, product.id, v.code, f"{product.name} {v.name}", v.price.amount)
            )
    for store in stores:
        for variant in variants:
            await adjust(
                runtime.inventory,
                admin,
                Adjustment(store, variant.id, 1_000_000, MovementKind.RECEIPT, "bench stock"),
                None,
            )
    members = []
    for n in range(args.members):
        member, pair, _ = await login_with_wechat(runtime.members, WECHAT_APP, f"test:bench-{n}")
        members.append(Member(member.id, pair.access_token, member_principal(member)))
    return World(stores, variants, members)


# ---------------------------------------------------------------- measuring


@dataclass
class Result:
    scenario: str
    concurrency: int
    orders: int
    seconds: float
    latencies: list[float]
    errors: int
    first_error: str | None
    app_cpu: float | None  # CPU seconds per wall second of the process doing the work
    client_cpu: float | None  # of the load generator, when it is another process
    db_cpu: float | None  # of the local PostgreSQL processes
    host_cpu: float  # CPU seconds per second of the whole machine (all cores, any process)

    @property
    def other_cpu(self) -> float:
        """What processes other than the app, the load generator and PostgreSQL used."""
        return self.host_cpu - (self.app_cpu or 0) - (self.client_cpu or 0) - (self.db_cpu or 0)

    @property
    def rate(self) -> float:
        return self.orders / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] * 1000


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


OrderFn = Callable[[int, random.Random], Awaitable[None]]


async def drive(
    scenario: str,
    concurrency: int,
    seconds: float,
    warmup: float,
    place: OrderFn,
    seed_base: int,
    postmaster: int | None,
    server_pgid: int | None = None,
) -> Result:
    """N workers place orders back to back; only orders started after the warm-up count."""
    latencies: list[float] = []
    errors = 0
    first_error: str | None = None
    start = time.perf_counter()
    measure_from, stop = start + warmup, start + warmup + seconds
    cpu_marks: dict[str, float] = {}

    async def mark() -> None:
        await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
        cpu_marks["client"] = time.process_time()
        cpu_marks["host_busy"], cpu_marks["host_total"] = host_cpu()
        db = postgres_cpu(postmaster)
        if db is not None:
            cpu_marks["db"] = db
        if server_pgid is not None:
            cpu_marks["server"] = group_cpu(server_pgid)
        cpu_marks["wall"] = time.perf_counter()

    async def worker(n: int) -> None:
        nonlocal errors, first_error
        rnd = random.Random(seed_base * 10_000 + n)
        while (t0 := time.perf_counter()) < stop:
            try:
                await place(n, rnd)
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
    wall = time.perf_counter() - cpu_marks["wall"]
    busy, total = host_cpu()
    share = (busy - cpu_marks["host_busy"]) / max(total - cpu_marks["host_total"], 1e-9)
    host = share * (os.cpu_count() or 1)
    db_now = postgres_cpu(postmaster) if "db" in cpu_marks else None
    db_cpu = (db_now - cpu_marks["db"]) / wall if db_now is not None else None
    client_cpu = (time.process_time() - cpu_marks["client"]) / wall
    server_cpu = (
        (group_cpu(server_pgid) - cpu_marks["server"]) / wall if server_pgid is not None else None
    )
    return Result(
        scenario,
        concurrency,
        len(latencies),
        wall,
        latencies,
        errors,
        first_error,
        app_cpu=server_cpu if server_pgid is not None else client_cpu,
        client_cpu=client_cpu if server_pgid is not None else None,
        db_cpu=db_cpu,
        host_cpu=host,
    )


def merged(turns: list[Result]) -> Result:
    """One scenario's turns as one run: counts added, CPU shares weighted by time."""

    def average(values: list[float | None]) -> float | None:
        if any(v is None for v in values):
            return None
        return sum(v * t.seconds for v, t in zip(values, turns, strict=True) if v is not None) / (
            sum(t.seconds for t in turns) or 1
        )

    first = turns[0]
    return Result(
        first.scenario,
        first.concurrency,
        sum(t.orders for t in turns),
        sum(t.seconds for t in turns),
        [x for t in turns for x in t.latencies],
        sum(t.errors for t in turns),
        next((t.first_error for t in turns if t.first_error), None),
        app_cpu=average([t.app_cpu for t in turns]),
        client_cpu=average([t.client_cpu for t in turns]),
        db_cpu=average([t.db_cpu for t in turns]),
        host_cpu=average([t.host_cpu for t in turns]) or 0.0,
    )


def pick(world: World, n: int, rnd: random.Random) -> tuple[Member, uuid.UUID, list[Variant]]:
    member = world.members[n % len(world.members)]
    store = rnd.choice(world.stores)
    lines = rnd.sample(world.variants, 2)
    return member, store, lines


# ---------------------------------------------------------------- (a) domain


def domain_orders(runtime: Any, world: World) -> OrderFn:
    from domain.inventory.model import StockLine
    from domain.ordering.checkout import Checkout, place_order
    from domain.ordering.model import SalesChannel

    async def place(n: int, rnd: random.Random) -> None:
        member, store, lines = pick(world, n, rnd)
        checkout = Checkout(
            channel=SalesChannel.MINI_PROGRAM,
            lines=[StockLine(v.id, 1) for v in lines],
            member_id=member.id,
            pickup_location_id=store,
        )
        await place_order(runtime.ordering, member.principal, checkout, uuid.uuid4().hex)

    return place


# ---------------------------------------------------------------- (b) HTTP


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def production_server(
    args: argparse.Namespace, keys: Secrets, log_path: Path
) -> AsyncIterator[tuple[str, int]]:
    """`omnishelf serve` in its own process, production mode; yields (base url, pgid)."""
    port = _free_port()
    env = {
        **os.environ,
        "OMNISHELF_ENV": "production",
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "JWT_SECRET": keys.jwt,
        "PII_MASTER_KEY": keys.pii_master,
        "PII_HASH_KEY": keys.pii_hash,
        "PAYMENT_WEBHOOK_SECRET": keys.payment,
        "WECHAT_FAKE": "0",
        "WECHAT_APPS": "wx1:bench-app-secret",
        "SMS_PROVIDER": "disabled",
        "DB_POOL_SIZE": str(args.pool_size),
        "LOG_LEVEL": args.server_log_level,
    }
    command = [
        *args.server_prefix.split(),
        sys.executable,
        "-m",
        "infra.cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(args.server_workers),
    ]
    base = f"http://127.0.0.1:{port}"
    with log_path.open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            *command, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True
        )
    try:
        async with httpx.AsyncClient(base_url=base, timeout=2) as client:
            deadline = time.monotonic() + 60
            while True:
                if process.returncode is not None:
                    raise RuntimeError(f"the server exited ({process.returncode}); {log_path}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get("/readyz")).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not become ready; see {log_path}")
                await asyncio.sleep(0.2)
        yield base, process.pid  # its own session: the pid is the process group id
    finally:
        if process.returncode is None:
            os.killpg(process.pid, signal.SIGINT)  # the server, its workers, a profiler
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                os.killpg(process.pid, signal.SIGKILL)
                await process.wait()


def host_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine, all cores (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # user nice system idle iowait irq softirq steal
    tick = os.sysconf("SC_CLK_TCK")
    return (total - idle) / tick, total / tick


async def wait_until_idle(limit: float, threshold: float = 0.9) -> None:
    """On a shared machine: wait (at most `limit` seconds) until the CPU was `threshold`
    idle for two seconds, so other processes do not eat into a run."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        busy0, total0 = host_cpu()
        await asyncio.sleep(2)
        busy1, total1 = host_cpu()
        if 1 - (busy1 - busy0) / max(total1 - total0, 1e-9) >= threshold:
            return
    print(f"  (the machine stayed busy for {limit:g}s; running anyway)", flush=True)


def postmaster_of(backend_pid: int) -> int | None:
    """The PostgreSQL server process of one of its backends, if it runs on this machine."""
    try:
        return int(Path(f"/proc/{backend_pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def postgres_cpu(postmaster: int | None) -> float | None:
    """CPU seconds of the bench's PostgreSQL server: its postmaster and every process it
    started (backends, WAL writer...); None when it runs elsewhere."""
    if postmaster is None:
        return None
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(entry.name) == postmaster or int(stat[1]) == postmaster:
                    total += (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
    return total


def group_cpu(pgid: int) -> float:
    """CPU seconds of a process group: the server and whatever it started (workers), or a
    profiler and the server under it."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                if os.getpgid(int(entry.name)) == pgid:
                    total += _cpu_seconds(int(entry.name))
    return total


def http_orders(client: httpx.AsyncClient, world: World) -> OrderFn:
    from api.relay import encode_id

    store_ids = {s: encode_id("Location", s) for s in world.stores}
    variant_ids = {v.id: encode_id("Variant", v.id) for v in world.variants}

    async def place(n: int, rnd: random.Random) -> None:
        member, store, lines = pick(world, n, rnd)
        variables = {
            "input": {
                "channel": "MINI_PROGRAM",
                "lines": [{"variantId": variant_ids[v.id], "quantity": 1} for v in lines],
                "fulfilment": {"pickup": {"locationId": store_ids[store]}},
                "idempotencyKey": uuid.uuid4().hex,
            }
        }
        response = await client.post(
            "/graphql",
            json={"query": PLACE_ORDER, "variables": variables},
            headers={"Authorization": f"Bearer {member.token}"},
        )
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")
        body = response.json()
        payload = (body.get("data") or {}).get("placeOrder") or {}
        if body.get("errors") or payload.get("errors") or not payload.get("order"):
            raise RuntimeError(json.dumps(body)[:300])

    return place


# ---------------------------------------------------------------- (c) raw asyncpg

RAW_CLAIM = (
    "INSERT INTO idempotency_record (id, scope, key, fingerprint, created_at) "
    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (scope, key) DO NOTHING RETURNING id"
)
RAW_RESERVE = (
    "UPDATE stock_level SET reserved = reserved + $3 WHERE location_id = $1 AND variant_id = $2 "
    "AND on_hand - reserved - safety_stock >= $3"
)
RAW_RESERVATIONS = (
    "INSERT INTO stock_reservation (id, owner, location_id, variant_id, quantity, state, "
    "expires_at, created_at) VALUES ($1, $2, $3, $4, $5, 'ACTIVE', $6, $7), "
    "($8, $2, $3, $9, $10, 'ACTIVE', $6, $7)"
)
RAW_MOVEMENTS = (
    "INSERT INTO stock_movement (id, location_id, variant_id, kind, on_hand_delta, "
    "reserved_delta, reason, reference, actor, created_at) VALUES "
    "($1, $2, $3, 'RESERVE', 0, $4, 'reserved', $5, 'SYSTEM', $6), "
    "($7, $2, $8, 'RESERVE', 0, $9, 'reserved', $5, 'SYSTEM', $6)"
)
RAW_ORDER = (
    "INSERT INTO customer_order (id, number, member_id, channel, fulfilment, location_id, "
    "status, currency, total, note, created_at, updated_at, payment_deadline, at_risk, "
    "reminder_sent) VALUES ($1, $2, $3, 'MINI_PROGRAM', 'PICKUP', $4, 'PENDING_PAYMENT', "
    "'CNY', $5, '', $6, $6, $7, false, false)"
)
RAW_LINES = (
    "INSERT INTO order_line (id, order_id, variant_id, product_id, sku, name, unit_price, "
    "quantity) VALUES ($1, $2, $3, $4, $5, $6, $7, 1), ($8, $2, $9, $10, $11, $12, $13, 1)"
)
RAW_EVENT = (
    "INSERT INTO order_event (id, order_id, from_status, to_status, actor, reason, at) "
    "VALUES ($1, $2, NULL, 'PENDING_PAYMENT', $3, 'placed', $4)"
)
RAW_COMPLETE = "UPDATE idempotency_record SET result = $3::jsonb WHERE scope = $1 AND key = $2"


class Shortage(Exception):
    pass


def raw_orders(pool: asyncpg.Pool, world: World) -> OrderFn:
    from domain.ids import new_id
    from domain.ordering.checkout import order_number

    async def place(n: int, rnd: random.Random) -> None:
        member, store, picked = pick(world, n, rnd)
        lines = sorted(picked, key=lambda v: v.id)  # the domain's lock order: by variant id
        now = datetime.now(UTC)
        order_id = new_id()
        owner = f"order:{order_id}"
        actor = f"MEMBER:{member.id}"
        scope = f"{actor}:placeOrder"
        key = uuid.uuid4().hex
        a, b = lines
        async with pool.acquire() as conn, conn.transaction():
            claimed = await conn.fetchval(RAW_CLAIM, new_id(), scope, key, "0" * 64, now)
            if claimed is None:
                raise RuntimeError("idempotency key reused")
            for v in lines:
                if await conn.execute(RAW_RESERVE, store, v.id, 1) != "UPDATE 1":
                    raise Shortage(v.sku)
            expires = now + timedelta(minutes=15)
            await conn.execute(
                RAW_RESERVATIONS, new_id(), owner, store, a.id, 1, expires, now, new_id(), b.id, 1
            )
            await conn.execute(
                RAW_MOVEMENTS, new_id(), store, a.id, 1, owner, now, new_id(), b.id, 1
            )
            await conn.execute(
                RAW_ORDER,
                order_id,
                order_number(order_id),
                member.id,
                store,
                a.price + b.price,
                now,
                now + timedelta(minutes=15),
            )
            await conn.execute(
                RAW_LINES,
                new_id(),
                order_id,
                a.id,
                a.product_id,
                a.sku,
                a.name,
                a.price,
                new_id(),
                b.id,
                b.product_id,
                b.sku,
                b.name,
                b.price,
            )
            await conn.execute(RAW_EVENT, new_id(), order_id, actor, now)
            await conn.execute(RAW_COMPLETE, scope, key, json.dumps({"order_id": str(order_id)}))

    return place


# ---------------------------------------------------------------- report


def table(results: list[Result]) -> str:
    """The asked-for columns, then where the CPU went: the process doing the work (`app`:
    the server for http, this process otherwise) per second and per order, the load
    generator (http only), PostgreSQL, and any other process on the machine."""
    raw = next((r.rate for r in results if r.scenario == "raw"), None)
    columns = [
        ("scenario", 8), ("orders/s", 8), ("p50 ms", 7), ("p99 ms", 7), ("ratio to raw", 12),
        ("errors", 6), ("app CPU", 7), ("app ms/order", 12), ("client CPU", 10),
        ("db CPU", 6), ("other CPU", 9),
    ]  # fmt: skip

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{max(value, 0) * 100:.0f}%"

    rows = [" | ".join(f"{name:>{width}}" for name, width in columns)]
    rows.append("-" * len(rows[0]))
    for r in results:
        cells = [
            r.scenario,
            f"{r.rate:.1f}",
            f"{r.percentile(0.50):.1f}",
            f"{r.percentile(0.99):.1f}",
            f"{r.rate / raw:.2f}" if raw else "-",
            str(r.errors),
            pct(r.app_cpu),
            f"{r.app_cpu * 1000 / r.rate:.1f}" if r.app_cpu is not None and r.rate else "-",
            pct(r.client_cpu),
            pct(r.db_cpu),
            pct(r.other_cpu),
        ]
        rows.append(" | ".join(f"{c:>{w}}" for c, (_, w) in zip(cells, columns, strict=True)))
    noisy = [r for r in results if r.other_cpu > 0.15]
    if noisy:
        rows.append(
            "warning: other processes used CPU during "
            + ", ".join(f"{r.scenario} ({r.other_cpu * 100:.0f}%)" for r in noisy)
            + ": those numbers are lower than this machine can do alone"
        )
    return "\n".join(rows)


async def check_consistency(runtime: Any) -> str:
    """After the runs: every level agrees with its ledger."""
    from infra.db import sql

    sums = await runtime.repos.inventory.ledger_sums()
    rows = await sql.fetch("SELECT location_id, variant_id, on_hand, reserved FROM stock_level")
    wrong = [
        r
        for r in rows
        if sums.get((sql.as_uuid(r["location_id"]), sql.as_uuid(r["variant_id"])))
        != (r["on_hand"], r["reserved"])
    ]
    orders = (await sql.fetch("SELECT count(*) AS n FROM customer_order"))[0]["n"]
    return f"{orders} orders; {len(rows)} stock levels, {len(wrong)} disagree with the ledger"


# ---------------------------------------------------------------- main


async def run(args: argparse.Namespace) -> int:
    from infra.db.connection import migrate
    from infra.runtime import Runtime

    name = _database_name(args.database_url)
    admin_url = args.admin_url or _with_database(args.database_url, "postgres")
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    scenarios = [s.strip() for s in args.scenarios.split(",")]
    log_path = Path(args.server_log or tempfile.mkstemp(prefix="bench-server-", suffix=".log")[1])

    print(f"fresh database {name!r}: drop, create, migrate", flush=True)
    await recreate_database(admin_url, name)
    keys = Secrets()
    runtime = None
    pool = None
    try:
        await asyncio.to_thread(migrate, args.database_url)
        runtime = Runtime(bench_settings(args, keys), fast_password_hashing=True)
        await runtime.start()
        started = time.perf_counter()
        world = await seed(runtime, args)
        print(
            f"seeded {len(world.stores)} stores x {len(world.variants)} variants (1M units "
            f"each), {len(world.members)} members in {time.perf_counter() - started:.1f}s",
            flush=True,
        )
        conn = await asyncpg.connect(_asyncpg_dsn(args.database_url))
        version = await conn.fetchval("SHOW server_version")
        postmaster = postmaster_of(await conn.fetchval("SELECT pg_backend_pid()"))
        await conn.close()
        print(
            f"python {sys.version.split()[0]}, PostgreSQL {version}, {os.cpu_count()} CPUs, "
            f"pool {args.pool_size} connections per process, {args.seconds:g}s per run after "
            f"{args.warmup:g}s warm-up, server workers {args.server_workers}",
            flush=True,
        )
        pool = await asyncpg.create_pool(
            _asyncpg_dsn(args.database_url), min_size=args.pool_size, max_size=args.pool_size
        )
        all_results: list[Result] = []
        server = (
            production_server(args, keys, log_path)
            if "http" in scenarios
            else contextlib.nullcontext(("", 0))
        )
        async with server as (base, server_pgid):
            if "http" in scenarios:
                print(f"server {base} (pid {server_pgid}), log {log_path}", flush=True)
            for concurrency in concurrencies:
                turns: dict[str, list[Result]] = {scenario: [] for scenario in scenarios}
                for turn in range(args.rounds):
                    for n, scenario in enumerate(scenarios):
                        if args.wait_idle:
                            await wait_until_idle(args.wait_idle)
                        measure = functools.partial(
                            drive,
                            scenario,
                            concurrency,
                            args.seconds / args.rounds,
                            args.warmup if turn == 0 else min(args.warmup, 0.5),
                            seed_base=(concurrency * 10 + n) * 100 + turn,
                            postmaster=postmaster,
                        )
                        if scenario == "domain":
                            result = await measure(domain_orders(runtime, world))
                        elif scenario == "raw":
                            result = await measure(raw_orders(pool, world))
                        else:
                            limits = httpx.Limits(
                                max_connections=concurrency, max_keepalive_connections=concurrency
                            )
                            async with httpx.AsyncClient(
                                base_url=base, limits=limits, timeout=30
                            ) as client:
                                result = await measure(
                                    http_orders(client, world), server_pgid=server_pgid
                                )
                        turns[scenario].append(result)
                        if result.first_error:
                            print(f"  {scenario}: first error: {result.first_error}", flush=True)
                results = [merged(turns[scenario]) for scenario in scenarios]
                all_results.extend(results)
                print(f"\nconcurrency {concurrency}\n{table(results)}\n", flush=True)
        print("consistency:", await check_consistency(runtime))
        target = next(
            (
                r
                for r in all_results
                if r.scenario == "http" and r.concurrency == TARGET_CONCURRENCY
            ),
            None,
        )
        if target is not None:
            met = target.rate >= TARGET_RATE and target.percentile(0.99) < TARGET_P99_MS
            print(
                f"target (HTTP, {TARGET_CONCURRENCY} clients: >= {TARGET_RATE:g} orders/s, "
                f"p99 < {TARGET_P99_MS:g} ms): {'met' if met else 'NOT met'} "
                f"({target.rate:.0f} orders/s, p99 {target.percentile(0.99):.0f} ms)"
            )
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
        prog="python -m bench.place_order", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--database-url", required=True, help="postgres://.../<name with bench>")
    parser.add_argument("--admin-url", help="a database to run CREATE/DROP DATABASE from")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL") or os.environ.get("TEST_REDIS_URL"),
        help="Redis for the production-mode server (default: REDIS_URL or TEST_REDIS_URL)",
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds first")
    parser.add_argument("--concurrency", default="8,32,64", help="comma-separated worker counts")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="domain,http,raw")
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="split each run into this many turns, the scenarios taking turns (default 2)",
    )
    parser.add_argument("--stores", type=int, default=4)
    parser.add_argument("--variants", type=int, default=100)
    parser.add_argument("--members", type=int, default=256)
    parser.add_argument(
        "--pool-size", type=int, default=20, help="connections per process (server: DB_POOL_SIZE)"
    )
    parser.add_argument("--server-workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--server-prefix",
        default="",
        help='a command to run the server under, e.g. "py-spy record -o server.svg --"',
    )
    parser.add_argument("--server-log", help="server output (default: a temporary file)")
    parser.add_argument("--server-log-level", default="INFO", help="the server's LOG_LEVEL")
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0,
        metavar="SECONDS",
        help="before each run, wait up to this long for the machine to be 90%% idle",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args(argv)
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        parser.error("--database-url must be postgres://")
    if "bench" not in _database_name(args.database_url):
        parser.error("the database is dropped and created again: its name must contain 'bench'")
    unknown = set(args.scenarios.split(",")) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}; choose from {','.join(SCENARIOS)}")
    if "http" in args.scenarios and not args.redis_url:
        parser.error("the http scenario runs the server in production mode: give --redis-url")
    return asyncio.run(run(args))


if __name__ == "__main__":
    raise SystemExit(main())
