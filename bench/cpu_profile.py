"""Server CPU milliseconds and SQL round trips per request for the hot GraphQL operations.

    scripts/with-services.sh sh -c '.venv/bin/python -m bench.cpu_profile \
        --database-url "${PG_ADMIN_URL%/postgres}/omnishelf_bench_cpu" --sql'
    # options: --ops trivial,place_order,place_order_coupon,checkout_quote,
    #          checkout_quote_coupons,availability,
    #          products,products_stock,my_orders,pos_sale
    #          --requests 500 --rounds 4 --concurrency 8 --warmup 200 --keep --reuse
    #          --compare base=DIR (another source tree, e.g. `git archive HEAD | tar -x -C DIR`)
    #          --profile DIR (py-spy on the server: `.venv/bin/pip install py-spy` first)

Throughput on a shared machine moves with the neighbours; the CPU a request costs much less.
This measures the cost: `omnishelf serve` runs as a separate process in production mode
(OMNISHELF_ENV=production, uvicorn with uvloop and httptools, one worker) and, per
operation, `--requests` requests are sent over HTTP keep-alive by `--concurrency` clients in
this process; the server's CPU time (/proc utime + stime of its process group) over them,
divided by their number, is the figure. `--rounds` turns alternate the operations (and the
trees of `--compare`, whose servers run side by side on the same database), so a busy
neighbour hurts all alike; the table gives the lowest and the median turn. Requests per
second are printed too, for information only.

`--sql` also runs each operation a few times through the ASGI app in this process and counts
the round trips every asyncpg connection makes (asyncpg's query logger: each statement,
BEGIN and COMMIT; `--show-sql` prints them). `--profile DIR` attaches py-spy to the warm
server for the first turn and prints the busiest frames (collapsed stacks in DIR).

The database (its name must contain "bench") is dropped, created, migrated and seeded: 20
pickup stores, 40 products of 5 variants with stock everywhere, 64 members logged in (with
20 orders each; the first 32 with 300 coupons each for place_order_coupon, the next 16 with
three to be offered in checkout_quote_coupons), one POS device per store. `--keep` keeps it
and its secrets (in `--state`), `--reuse` starts from them without seeding again. The
documents are those of `make bench`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import contextlib
import itertools
import json
import os
import random
import secrets
import signal
import socket
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
WECHAT_APP = "wx-demo"
HOURS = {d: [("07:00", "23:00")] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
OPS = (
    "trivial",
    "place_order",
    "place_order_coupon",
    "checkout_quote",
    "checkout_quote_coupons",
    "availability",
    "products",
    "products_stock",
    "my_orders",
    "pos_sale",
)

# The documents of `make bench` (bench/flows.py), so the figures compare.
PLACE_ORDER = """mutation($input: PlaceOrderInput!) { placeOrder(input: $input) {
  order { id number status amountDue { amount } } errors { code message } } }"""
PLACE_ORDER_COUPON = """mutation($input: PlaceOrderInput!) { placeOrder(input: $input) {
  order { id number status couponDiscount { amount } amountDue { amount } }
  errors { code message } } }"""
CHECKOUT_QUOTE = """query($input: PlaceOrderInput!) { checkoutQuote(input: $input) {
  quote { tier subtotal { amount } memberSavings { amount } maxPointsRedeemable
    amountDue { amount } lines { sku unitPrice { amount } } } errors { code message } } }"""
CHECKOUT_QUOTE_COUPONS = """query($input: PlaceOrderInput!) { checkoutQuote(input: $input) {
  quote { subtotal { amount } amountDue { amount }
    couponOptions { discount { amount } reason coupon { id name } } }
  errors { code message } } }"""
AVAILABILITY = """query($id: ID!, $lat: Float!, $lng: Float!) { variant(id: $id) { id name
  availability(near: {latitude: $lat, longitude: $lng}, pickupOnly: true, first: 5) {
    location { id name address } status distance } } }"""
MY_ORDERS = """{ me { orders(first: 20) { edges { node { number status createdAt
  total { amount } lines { name quantity variant { product { name } } } } } } } }"""
PRODUCTS = """{ products(first: 20) { edges { node { id name priceFrom { amount }
  variants { id code name price { amount } } } } } }"""
PRODUCTS_STOCK = """{ products(first: 20) { edges { node { id name
  variants { id name totalAvailable } } } } }"""
POS_SALE = """mutation($input: RecordPosSalesInput!) { recordPosSales(input: $input) {
  discrepancies replayed errors { code message } } }"""
TRIVIAL = "{ __typename }"  # the floor: HTTP, middleware, strawberry, no resolver


@dataclass
class State:
    """What a run needs from the seed: secrets, ids and tokens (JSON in `--state`)."""

    jwt: str
    pii_master: str
    pii_hash: str
    payment: str
    stores: list[str]
    variants: list[str]
    members: list[str]
    member_ids: list[str]
    pos_tokens: list[str]
    # The first COUPON_MEMBERS members' coupons (¥3 off, no threshold), for place_order_coupon;
    # the next QUOTE_MEMBERS hold three coupons each (checkout_quote_coupons), the rest none
    # (checkout_quote).
    coupons: list[list[str]] = field(default_factory=list)


COUPON_MEMBERS = 32
QUOTE_MEMBERS = 16
COUPONS_EACH = 300  # every order uses a fresh one: enough for 4 turns of 500 on two trees


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _dsn(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


def _settings(args: argparse.Namespace, state: State) -> Any:
    from infra.settings import Settings

    return Settings(
        env="development",
        database_url=args.database_url,
        redis_url=None,
        jwt_secret=state.jwt,
        pii_master_key=state.pii_master,
        pii_hash_key=state.pii_hash,
        payment_secret=state.payment,
        access_token_ttl=86400,
        run_jobs_in_process=False,
        wechat_apps={WECHAT_APP: "unused"},
    )


async def seed(args: argparse.Namespace) -> State:
    from domain.catalog.services import ProductDraft, VariantDraft, create_product
    from domain.identity.model import DeviceKind, Principal, PrincipalKind, StaffRole
    from domain.identity.services import create_device
    from domain.ids import new_id
    from domain.inventory.model import MovementKind, StockLine
    from domain.inventory.stock import Adjustment, adjust
    from domain.locations.model import LocationType
    from domain.locations.services import LocationDraft, create_location
    from domain.members.login import login_with_wechat
    from domain.members.services import member_principal
    from domain.ordering.checkout import Checkout, place_order
    from domain.ordering.model import SalesChannel
    from infra.db.connection import migrate
    from infra.runtime import Runtime

    name = urlsplit(args.database_url).path.lstrip("/")
    if "bench" not in name:
        sys.exit("the database name must contain 'bench': it is dropped and created again")
    conn = await asyncpg.connect(_dsn(args.admin_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    migrate(args.database_url)
    state = State(
        jwt=secrets.token_urlsafe(48),
        pii_master=base64.b64encode(os.urandom(32)).decode(),
        pii_hash=base64.b64encode(os.urandom(32)).decode(),
        payment=secrets.token_urlsafe(32),
        stores=[],
        variants=[],
        members=[],
        member_ids=[],
        pos_tokens=[],
    )
    runtime = Runtime(_settings(args, state))
    await runtime.start()
    try:
        admin = Principal(kind=PrincipalKind.STAFF, id=new_id(), role=StaffRole.ADMIN)
        for n in range(20):
            location = await create_location(
                runtime.locations,
                LocationDraft(
                    code=f"CPU-{n + 1:02d}",
                    name=f"CPU store {n + 1}",
                    type=LocationType.STORE,
                    address=f"{n + 1} Bench Rd",
                    city="Shanghai",
                    latitude=31.2 + n * 0.01,
                    longitude=121.4 + n * 0.01,
                    opening_hours=HOURS,
                    pickup_enabled=True,
                    ships_online=n % 4 == 0,
                ),
            )
            state.stores.append(str(location.id))
            _, token = await create_device(runtime.auth, location.id, DeviceKind.POS)
            state.pos_tokens.append(token)
        for p in range(40):
            drafts = [
                VariantDraft(code=f"C{p:03d}-{v}", name=f"size {v}", price=990 + 10 * v)
                for v in range(5)
            ]
            product = await create_product(
                runtime.catalog, ProductDraft(name=f"CPU product {p}", variants=drafts)
            )
            for v in await runtime.repos.catalog.variants_of([product.id]):
                state.variants.append(str(v.id))
        for store in state.stores:
            for variant in state.variants:
                await adjust(
                    runtime.inventory,
                    admin,
                    Adjustment(
                        uuid.UUID(store), uuid.UUID(variant), 1_000_000, MovementKind.RECEIPT, "cpu"
                    ),
                    None,
                )
        rnd = random.Random(7)
        for n in range(64):
            member, pair, _ = await login_with_wechat(runtime.members, WECHAT_APP, f"test:cpu-{n}")
            state.members.append(pair.access_token)
            state.member_ids.append(str(member.id))
            for _ in range(20):
                lines = rnd.sample(state.variants, 2)
                await place_order(
                    runtime.ordering,
                    member_principal(member),
                    Checkout(
                        channel=SalesChannel.MINI_PROGRAM,
                        lines=[StockLine(uuid.UUID(v), 1) for v in lines],
                        member_id=member.id,
                        pickup_location_id=uuid.UUID(rnd.choice(state.stores)),
                    ),
                    None,
                )
        await _coupons(runtime, admin, state)
    finally:
        await runtime.stop()
    return state


async def _coupons(runtime: Any, admin: Any, state: State) -> None:
    """COUPONS_EACH coupons for each of the first COUPON_MEMBERS members, in one batch."""
    from domain.promotions.coupons import create_template, grant_batch_in_uow
    from domain.promotions.coupons_model import (
        CouponKind,
        CouponRules,
        CouponScope,
        TemplateDraft,
        Validity,
    )

    owners = [uuid.UUID(m) for m in state.member_ids[:COUPON_MEMBERS]]
    draft = TemplateDraft(
        name="CPU ¥3 off",
        rules=CouponRules(CouponKind.NO_THRESHOLD, amount_off=300),
        scope=CouponScope(),
        validity=Validity(days=30),
        total_quantity=len(owners) * COUPONS_EACH,
    )
    template = await create_template(runtime.coupons, admin, draft)
    async with runtime.coupons.uow() as uow:
        given = await grant_batch_in_uow(
            runtime.coupons,
            uow,
            template.id,
            [m for m in owners for _ in range(COUPONS_EACH)],
            "cpu",
        )
    held: dict[uuid.UUID, list[str]] = collections.defaultdict(list)
    for coupon in given:
        held[coupon.member_id].append(str(coupon.id))
    state.coupons = [held[m] for m in owners]
    # Three coupons to offer on a quote: one that applies, one whose threshold the cart does
    # not reach, one for another channel.
    quoting = [
        uuid.UUID(m) for m in state.member_ids[COUPON_MEMBERS : COUPON_MEMBERS + QUOTE_MEMBERS]
    ]
    for n, (rules, scope) in enumerate(
        (
            (
                CouponRules(CouponKind.PERCENT_OFF, percent_off_bp=1000, max_discount=500),
                CouponScope(),
            ),
            (CouponRules(CouponKind.AMOUNT_OFF, amount_off=2000, threshold=99_900), CouponScope()),
            (CouponRules(CouponKind.NO_THRESHOLD, amount_off=100), CouponScope(channels=("POS",))),
        )
    ):
        offer = TemplateDraft(
            name=f"CPU offer {n}",
            rules=rules,
            scope=scope,
            validity=Validity(days=30),
            total_quantity=len(quoting),
        )
        made = await create_template(runtime.coupons, admin, offer)
        async with runtime.coupons.uow() as uow:
            await grant_batch_in_uow(runtime.coupons, uow, made.id, quoting, f"cpu-offer-{n}")


# ---------------------------------------------------------------- the operations


def _gid(type_name: str, value: str) -> str:
    return base64.b64encode(f"{type_name}:{value}".encode()).decode()


Request = tuple[dict[str, Any], str | None]  # (JSON body, bearer token)


def requests_for(state: State) -> dict[str, Callable[[int, random.Random], Request]]:
    """Per operation: worker number and a random source -> the request to send."""

    def place_order(n: int, rnd: random.Random) -> Request:
        lines = [
            {"variantId": _gid("Variant", v), "quantity": 1} for v in rnd.sample(state.variants, 2)
        ]
        body = {
            "query": PLACE_ORDER,
            "variables": {
                "input": {
                    "channel": "MINI_PROGRAM",
                    "lines": lines,
                    "fulfilment": {
                        "pickup": {"locationId": _gid("Location", rnd.choice(state.stores))}
                    },
                    "idempotencyKey": uuid.uuid4().hex,
                }
            },
        }
        return body, state.members[n % len(state.members)]

    coupons = state.coupons  # each used once (popped) by any tree; --keep saves what is left
    turns = itertools.count()

    def place_order_coupon(n: int, rnd: random.Random) -> Request:
        """place_order's request by one of the coupon members, with a fresh coupon."""
        body, _ = place_order(n, rnd)
        m = next(turns) % len(coupons)
        body["query"] = PLACE_ORDER_COUPON
        body["variables"]["input"]["couponIds"] = [_gid("Coupon", coupons[m].pop())]
        return body, state.members[m]

    def checkout_quote(n: int, rnd: random.Random) -> Request:
        """place_order's cart priced (no points: these members have none), by a member
        without coupons."""
        body, _ = place_order(n, rnd)
        del body["variables"]["input"]["idempotencyKey"]
        body["query"] = CHECKOUT_QUOTE
        first = COUPON_MEMBERS + QUOTE_MEMBERS
        return body, state.members[first + n % (len(state.members) - first)]

    def checkout_quote_coupons(n: int, rnd: random.Random) -> Request:
        """The same quote by a member holding three coupons, listed as offers."""
        body, _ = checkout_quote(n, rnd)
        body["query"] = CHECKOUT_QUOTE_COUPONS
        return body, state.members[COUPON_MEMBERS + n % QUOTE_MEMBERS]

    def availability(n: int, rnd: random.Random) -> Request:
        body = {
            "query": AVAILABILITY,
            "variables": {
                "id": _gid("Variant", rnd.choice(state.variants)),
                "lat": 31.2 + rnd.random() / 5,
                "lng": 121.4 + rnd.random() / 5,
            },
        }
        return body, state.members[n % len(state.members)]

    def products(n: int, rnd: random.Random) -> Request:
        return {"query": PRODUCTS}, None

    def products_stock(n: int, rnd: random.Random) -> Request:
        return {"query": PRODUCTS_STOCK}, state.members[n % len(state.members)]

    def my_orders(n: int, rnd: random.Random) -> Request:
        return {"query": MY_ORDERS}, state.members[n % len(state.members)]

    def pos_sale(n: int, rnd: random.Random) -> Request:
        store = rnd.randrange(len(state.stores))
        lines = [
            {"variantId": _gid("Variant", v), "quantity": 1, "lineTotal": 100}
            for v in rnd.sample(state.variants, 2)
        ]
        body = {
            "query": POS_SALE,
            "variables": {
                "input": {
                    "locationId": _gid("Location", state.stores[store]),
                    "posTransactionId": uuid.uuid4().hex,
                    "lines": lines,
                    # every other sale names a member, who earns points on it (as make bench)
                    **(
                        {"memberId": _gid("Member", rnd.choice(state.member_ids))}
                        if rnd.random() < 0.5
                        else {}
                    ),
                }
            },
        }
        return body, state.pos_tokens[store]

    def trivial(n: int, rnd: random.Random) -> Request:
        return {"query": TRIVIAL}, None

    return {
        "trivial": trivial,
        "place_order": place_order,
        "place_order_coupon": place_order_coupon,
        "checkout_quote": checkout_quote,
        "checkout_quote_coupons": checkout_quote_coupons,
        "availability": availability,
        "products": products,
        "products_stock": products_stock,
        "my_orders": my_orders,
        "pos_sale": pos_sale,
    }


def check(op: str, body: dict[str, Any]) -> None:
    """The first response of each operation must be a success, not an error."""
    if body.get("errors"):
        raise RuntimeError(f"{op}: {body['errors']}")
    data = body["data"]
    payload = next(iter(data.values()))
    if isinstance(payload, dict) and payload.get("errors"):
        raise RuntimeError(f"{op}: {payload['errors']}")


# ---------------------------------------------------------------- the server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def group_cpu(pgid: int) -> float:
    """CPU seconds (utime + stime) of every process in a process group."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                if os.getpgid(int(entry.name)) == pgid:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                    total += (int(fields[11]) + int(fields[12])) / tick
    return total


@contextlib.asynccontextmanager
async def server(
    args: argparse.Namespace, state: State, root: Path, log_path: Path
) -> AsyncIterator[tuple[str, int]]:
    port = _free_port()
    env = {
        **os.environ,
        "OMNISHELF_ENV": "production",
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "JWT_SECRET": state.jwt,
        "PII_MASTER_KEY": state.pii_master,
        "PII_HASH_KEY": state.pii_hash,
        "PAYMENT_WEBHOOK_SECRET": state.payment,
        "WECHAT_FAKE": "0",
        "WECHAT_APPS": "wx1:cpu-app-secret",
        "SMS_PROVIDER": "disabled",
        "NOTIFIER": "disabled",  # no WeChat to reach from here: messages are kept as FAILED
        "LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "infra.cli", "serve", "--port", str(port)]
    with log_path.open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            *command, cwd=root, env=env, stdout=log, stderr=log, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=2) as client:
            deadline = time.monotonic() + 60
            while True:
                if process.returncode is not None:
                    raise RuntimeError(f"the server exited; see {log_path}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get("/readyz")).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not become ready; see {log_path}")
                await asyncio.sleep(0.2)
        yield base, process.pid
    finally:
        if process.returncode is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                os.killpg(process.pid, signal.SIGKILL)
                await process.wait()


async def drive(
    base: str, make: Callable[[int, random.Random], Request], count: int, concurrency: int
) -> tuple[int, float, dict[str, Any]]:
    """Send `count` requests from `concurrency` keep-alive clients; (errors, seconds, first)."""
    remaining = count
    errors = 0
    first: dict[str, Any] = {}

    async def worker(n: int) -> None:
        nonlocal remaining, errors
        rnd = random.Random(n * 7919 + count)
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            while remaining > 0:
                remaining -= 1
                body, token = make(n, rnd)
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                response = await client.post("/graphql", json=body, headers=headers)
                result = response.json()
                if not first:
                    first.update(result)
                if response.status_code != 200 or result.get("errors"):
                    errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    return errors, time.perf_counter() - started, first


async def measure(args: argparse.Namespace, state: State) -> None:
    """Warm servers; `--rounds` turns in which every operation sends `--requests` requests to
    each (so a busy neighbour hurts all alike); the lowest and the median cost per turn."""
    makers = requests_for(state)
    ops = args.ops.split(",")
    trees = {"this": ROOT, **compared_trees(args.compare)}
    costs: dict[tuple[str, str], list[float]] = {(t, op): [] for t in trees for op in ops}
    rates: dict[tuple[str, str], list[float]] = {(t, op): [] for t in trees for op in ops}
    errors: collections.Counter[tuple[str, str]] = collections.Counter()
    async with contextlib.AsyncExitStack() as stack:
        servers = {
            tree: await stack.enter_async_context(server(args, state, root, Path(args.log)))
            for tree, root in trees.items()
        }
        for base, _ in servers.values():
            for op in ops:
                _, _, first = await drive(base, makers[op], args.warmup, args.concurrency)
                check(op, first)
        for turn in range(args.rounds):
            for op in ops:
                order = list(servers) if turn % 2 == 0 else list(reversed(servers))
                for tree in order:
                    base, pid = servers[tree]
                    async with profiler(args, f"{tree}-{op}", pid, turn) as raw:
                        cpu0 = group_cpu(pid)
                        failed, seconds, _ = await drive(
                            base, makers[op], args.requests, args.concurrency
                        )
                        cpu = group_cpu(pid) - cpu0
                    costs[tree, op].append(cpu * 1000 / args.requests)
                    rates[tree, op].append(args.requests / seconds)
                    errors[tree, op] += failed
                    if raw is not None and raw.exists():
                        print(f"{tree} {op} (turn {turn + 1}):")
                        summarise(raw, args.top)
    print(
        f"server CPU ms per request: {args.rounds} turns of {args.requests} requests, "
        f"{args.concurrency} clients (req/s: information only)"
    )
    first = list(trees)[-1]  # ratios against the last tree compared (the oldest, by habit)
    print(
        f"{'operation':<14} {'tree':<8} {'min':>7} {'median':>7} {'ratio':>6} {'req/s':>6} "
        f"{'errors':>6}"
    )
    for op in ops:
        for tree in trees:
            c = costs[tree, op]
            ratio = statistics.median(c) / statistics.median(costs[first, op])
            print(
                f"{op:<14} {tree:<8} {min(c):>7.2f} {statistics.median(c):>7.2f} {ratio:>6.2f} "
                f"{statistics.median(rates[tree, op]):>6.0f} {errors[tree, op]:>6}"
            )


def compared_trees(spec: str | None) -> dict[str, Path]:
    """`--compare name=DIR,name2=DIR2` (or one bare DIR, named `base`)."""
    trees: dict[str, Path] = {}
    for item in (spec or "").split(","):
        if item:
            name, _, path = item.rpartition("=")
            trees[name or "base"] = Path(path)
    return trees


@contextlib.asynccontextmanager
async def profiler(
    args: argparse.Namespace, op: str, pid: int, turn: int
) -> AsyncIterator[Path | None]:
    """py-spy attached to the warm server for one turn's requests (no start-up); the first
    turn only."""
    if not args.profile or turn > 0:
        yield None
        return
    raw = Path(args.profile) / f"{op}.txt"
    raw.unlink(missing_ok=True)
    spy = await asyncio.create_subprocess_exec(
        str(ROOT / ".venv/bin/py-spy"),
        *("record", "--format", "raw", "--rate", "250", "--pid", str(pid), "-o", str(raw)),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    await asyncio.sleep(1.0)  # attached
    try:
        yield raw
    finally:
        spy.send_signal(signal.SIGINT)
        await spy.wait()


# ---------------------------------------------------------------- SQL statements


async def count_statements(args: argparse.Namespace, state: State) -> None:
    """Each operation through the ASGI app in this process; asyncpg round trips per request."""
    from asyncpg.connection import Connection

    from api.app import create_app
    from infra.runtime import Runtime

    log: list[str] = []
    original_init = Connection.__init__

    def init(self: Connection, *a: Any, **kw: Any) -> None:
        original_init(self, *a, **kw)
        self.add_query_logger(lambda record: log.append(record.query))

    Connection.__init__ = init  # type: ignore[method-assign]
    settings = _settings(args, state)
    runtime = Runtime(settings)
    await runtime.start()
    makers = requests_for(state)
    try:
        app = create_app(runtime=runtime)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            for op in args.ops.split(","):
                counts = []
                rnd = random.Random(1)
                for _ in range(5):
                    body, token = makers[op](0, rnd)
                    headers = {"Authorization": f"Bearer {token}"} if token else {}
                    await asyncio.sleep(0.05)
                    log.clear()
                    response = await client.post("/graphql", json=body, headers=headers)
                    await asyncio.sleep(0.05)  # loggers run with call_soon
                    check(op, response.json())
                    counts.append(len(log))
                print(f"{op:<14} SQL round trips per request: {sorted(counts)[2]}")
                if args.show_sql:
                    for query in log:
                        print("    ", " ".join(query.split())[:160])
    finally:
        Connection.__init__ = original_init  # type: ignore[method-assign]
        await runtime.stop()


# ---------------------------------------------------------------- profiles


def summarise(path: Path, top: int) -> None:
    """py-spy's raw (collapsed) output: the busiest frames, self and inclusive."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        frames = stack.split(";")
        count = int(n)
        total += count
        own[_short(frames[-1])] += count
        for frame in {_short(f) for f in frames}:
            inclusive[frame] += count
    if not total:
        return
    print(f"  busy samples: {total}")
    print("  self:")
    for frame, n in own.most_common(top):
        print(f"    {100 * n / total:5.1f}%  {frame}")
    print("  inclusive:")
    for frame, n in inclusive.most_common(top * 2):
        print(f"    {100 * n / total:5.1f}%  {frame}")


def _short(frame: str) -> str:
    frame = frame.replace(str(ROOT) + "/", "").replace(".venv/lib/python3.11/site-packages/", "")
    return frame.split(" (", 1)[0] + " (" + frame.split(" (", 1)[-1] if " (" in frame else frame


# ---------------------------------------------------------------- main


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--admin-url", default=os.environ.get("PG_ADMIN_URL"))
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL") or os.environ.get("TEST_REDIS_URL")
    )
    parser.add_argument("--ops", default=",".join(OPS))
    parser.add_argument("--requests", type=int, default=500, help="per operation and turn")
    parser.add_argument("--rounds", type=int, default=4, help="turns of every operation")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--sql", action="store_true", help="count SQL round trips per request")
    parser.add_argument("--show-sql", action="store_true", help="print the last request's SQL")
    parser.add_argument("--no-cpu", action="store_true", help="skip the server CPU measurement")
    parser.add_argument("--profile", help="directory for py-spy profiles of the server")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument(
        "--compare",
        help="other source trees as name=DIR,name2=DIR2 (e.g. `git archive HEAD | tar -x -C "
        "DIR`): run their servers too, turn about with this one; ratios are to the last",
    )
    parser.add_argument("--state", default="/tmp/omnishelf_cpu_profile.json")
    parser.add_argument("--log", default="/tmp/omnishelf_cpu_profile_server.log")
    parser.add_argument("--reuse", action="store_true", help="skip seeding: use --state")
    parser.add_argument("--keep", action="store_true", help="keep the database and --state")
    return parser.parse_args(argv)


async def main(args: argparse.Namespace, state: State | None) -> State:
    if state is None:
        started = time.perf_counter()
        state = await seed(args)
        print(f"seeded in {time.perf_counter() - started:.0f}s", flush=True)
    try:
        if args.sql:
            await count_statements(args, state)
        if not args.no_cpu:
            await measure(args, state)
    finally:
        if not args.keep and not args.reuse:
            name = urlsplit(args.database_url).path.lstrip("/")
            conn = await asyncpg.connect(_dsn(args.admin_url))
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await conn.close()
    return state


def run(args: argparse.Namespace) -> None:
    if not args.redis_url:
        sys.exit("production mode needs Redis: pass --redis-url (or run under with-services.sh)")
    saved = Path(args.state)
    state = State(**json.loads(saved.read_text())) if args.reuse else None
    state = asyncio.run(main(args, state))
    if args.keep:
        saved.write_text(json.dumps(asdict(state)))
    elif not args.reuse:
        saved.unlink(missing_ok=True)


if __name__ == "__main__":
    run(parse())
