"""The orders each run of the WeChat Pay scenarios pays (bench.wechatpay).

Every operation of `wechatpay_notify` and `wechatpay_pay_order` needs an order of its own still
to pay (a payment is taken once). Before each run the runner writes a batch of them straight
into the database, as bench.doctor fills its world: pending pickup orders of the seeded
members with their lines, reservations (counted in `stock_level.reserved`) and timeline, and
for `wechatpay_notify` a pending WeChat Pay payment each, with its notification signed and
encrypted by the fake's own code, timestamped just before the run (the server refuses
notifications more than five minutes old). What a run leaves unpaid is deleted after it."""

from __future__ import annotations

import asyncio
import json
import math
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from bench.database import WECHAT_APP, dsn
from bench.processes import PAYMENT_TIMEOUT
from bench.wechatpay import NOTIFY, PAY_ORDER, SCENARIOS, Keys
from tests.fakes.wechatpay_server import FakeWeChatPay, Transaction

# Orders prepared per second of a run (warm-up, window and tail), at least: more than either
# side reaches on these 2 CPUs; twice the best rate seen so far if that is more. A run that
# pays them all reports errors ("no prepared order left").
SUPPLY = {NOTIFY: {"http": 800, "raw": 2500}, PAY_ORDER: {"http": 400, "raw": 800}}
TAIL = 2.0  # seconds: the driver's grace after the window, and the checked first operations


def batch_size(scenario: str, impl: str, warmup: float, seconds: float, seen: float = 0) -> int:
    """Orders for a run; `seen`: the best rate of earlier runs of the same kind."""
    rate = max(SUPPLY[scenario][impl], 2 * seen)
    return math.ceil(rate * (warmup + seconds + TAIL)) + 4


ORDERS = (
    "INSERT INTO customer_order (id, number, member_id, channel, fulfilment, location_id, "
    "status, currency, total, note, created_at, updated_at, payment_deadline, at_risk, "
    "reminder_sent, points_redeemed, points_discount) SELECT unnest($1::uuid[]), "
    "unnest($2::text[]), unnest($3::uuid[]), 'MINI_PROGRAM', 'PICKUP', unnest($4::uuid[]), "
    "'PENDING_PAYMENT', 'CNY', unnest($5::bigint[]), '', $6, $6, $7, false, false, 0, 0"
)
LINES = (
    "INSERT INTO order_line (id, order_id, variant_id, product_id, sku, name, unit_price, "
    "quantity) SELECT unnest($1::uuid[]), unnest($2::uuid[]), unnest($3::uuid[]), "
    "unnest($4::uuid[]), unnest($5::text[]), unnest($6::text[]), unnest($7::bigint[]), 1"
)
RESERVATIONS = (
    "INSERT INTO stock_reservation (id, owner, location_id, variant_id, quantity, state, "
    "expires_at, created_at) SELECT unnest($1::uuid[]), 'order:' || unnest($2::uuid[]), "
    "unnest($3::uuid[]), unnest($4::uuid[]), 1, 'ACTIVE', $5, $6"
)
RESERVED = (
    "UPDATE stock_level s SET reserved = s.reserved + n.quantity FROM (SELECT unnest($1::uuid[]) "
    "AS location_id, unnest($2::uuid[]) AS variant_id, unnest($3::int[]) AS quantity) n "
    "WHERE s.location_id = n.location_id AND s.variant_id = n.variant_id"
)
PLACED = (
    "INSERT INTO order_event (id, order_id, from_status, to_status, actor, reason, at) "
    "SELECT unnest($1::uuid[]), unnest($2::uuid[]), NULL, 'PENDING_PAYMENT', "
    "'MEMBER:' || unnest($3::uuid[]), 'placed', $4"
)
PAYMENTS = (
    "INSERT INTO order_payment (id, order_id, kind, provider, provider_ref, method, amount, "
    "currency, status, created_at, reason, attempts) SELECT unnest($1::uuid[]), "
    "unnest($2::uuid[]), 'PAYMENT', 'wechatpay', unnest($3::text[]), 'ONLINE', "
    "unnest($4::bigint[]), 'CNY', 'PENDING', $5, '', 0"
)
# After a run: what it did not pay goes (its reservations given back to the stock levels).
UNUSED = (
    "SELECT o.id FROM customer_order o WHERE o.id = ANY($1::uuid[]) "
    "AND o.status = 'PENDING_PAYMENT' AND ($2 OR NOT EXISTS "
    "(SELECT 1 FROM order_payment p WHERE p.order_id = o.id))"
)
UNRESERVE = (
    "UPDATE stock_level s SET reserved = s.reserved - n.quantity FROM (SELECT location_id, "
    "variant_id, sum(quantity) AS quantity FROM stock_reservation WHERE owner = ANY($1::text[]) "
    "GROUP BY location_id, variant_id) n "
    "WHERE s.location_id = n.location_id AND s.variant_id = n.variant_id"
)
DROP_RESERVATIONS = "DELETE FROM stock_reservation WHERE owner = ANY($1::text[])"
DELETE_UNUSED = (
    "DELETE FROM order_payment WHERE order_id = ANY($1::uuid[])",
    "DELETE FROM order_event WHERE order_id = ANY($1::uuid[])",
    "DELETE FROM order_line WHERE order_id = ANY($1::uuid[])",
    "DELETE FROM customer_order WHERE id = ANY($1::uuid[])",
)


def plan_orders(world: dict[str, Any], count: int, tag: str) -> list[dict[str, Any]]:
    """`count` pickup orders of two variants at one of the seeded stores, for the seeded
    members in turn: who, where, what and how much (the ids fresh)."""
    from api.relay import encode_id

    members, stores, variants = world["members"], world["stores"], world["variants"]
    orders = []
    for n in range(count):
        order_id = uuid.uuid4()
        a, b = variants[n % len(variants)], variants[(n * 7 + 3) % len(variants)]
        if a is b:
            b = variants[(n + 1) % len(variants)]
        orders.append(
            {
                "id": str(order_id),
                "gid": encode_id("Order", order_id),
                "number": f"W{tag}{n:09d}"[:20],
                "member": n % len(members),
                "store": stores[n % len(stores)]["id"],
                "lines": [a, b],
                "amount": a["price"] + b["price"],
                "ref": uuid.uuid4().hex,  # out_trade_no: the payment's id, as the provider's
            }
        )
    return orders


async def write_orders(
    conn: asyncpg.Connection, world: dict[str, Any], orders: list[dict[str, Any]], paying: bool
) -> None:
    """The orders as checkout writes them (and, `paying`, a pending WeChat Pay payment each,
    as payOrder writes it), in one transaction."""
    now = datetime.now(UTC)
    members = world["members"]
    ids = [uuid.UUID(o["id"]) for o in orders]
    lines = [(o, v) for o in orders for v in o["lines"]]
    line_orders = [uuid.UUID(o["id"]) for o, _ in lines]
    line_stores = [uuid.UUID(o["store"]) for o, _ in lines]
    line_variants = [uuid.UUID(v["id"]) for _, v in lines]
    reserved: dict[tuple[uuid.UUID, uuid.UUID], int] = {}
    for key in zip(line_stores, line_variants, strict=True):
        reserved[key] = reserved.get(key, 0) + 1
    async with conn.transaction():
        await conn.execute(
            ORDERS,
            ids,
            [o["number"] for o in orders],
            [uuid.UUID(members[o["member"]]["id"]) for o in orders],
            [uuid.UUID(o["store"]) for o in orders],
            [o["amount"] for o in orders],
            now,
            now + timedelta(seconds=PAYMENT_TIMEOUT),
        )
        await conn.execute(
            LINES,
            [uuid.uuid4() for _ in lines],
            line_orders,
            line_variants,
            [uuid.UUID(v["product_id"]) for _, v in lines],
            [v["sku"] for _, v in lines],
            [v["name"] for _, v in lines],
            [v["price"] for _, v in lines],
        )
        await conn.execute(
            RESERVATIONS,
            [uuid.uuid4() for _ in lines],
            line_orders,
            line_stores,
            line_variants,
            now + timedelta(seconds=PAYMENT_TIMEOUT),
            now,
        )
        keys = sorted(reserved)  # rows locked in a fixed order
        await conn.execute(
            RESERVED, [k[0] for k in keys], [k[1] for k in keys], [reserved[k] for k in keys]
        )
        await conn.execute(
            PLACED,
            [uuid.uuid4() for _ in orders],
            ids,
            [uuid.UUID(members[o["member"]]["id"]) for o in orders],
            now,
        )
        if paying:
            await conn.execute(
                PAYMENTS,
                [uuid.UUID(o["ref"]) for o in orders],
                ids,
                [o["ref"] for o in orders],
                [o["amount"] for o in orders],
                now,
            )


def notifications(fake: FakeWeChatPay, orders: list[dict[str, Any]]) -> None:
    """Each order's TRANSACTION.SUCCESS notification as WeChat Pay POSTs it (signed, resource
    encrypted), made by the fake's own code, added to the order as `body` and `headers`."""
    for order in orders:
        request = {
            "appid": WECHAT_APP,
            "mchid": fake.mchid,
            "out_trade_no": order["ref"],
            "amount": {"total": order["amount"], "currency": "CNY"},
            "payer": {"openid": "o-bench-payer"},
        }
        fake.transactions[order["ref"]] = Transaction("JSAPI", request, "wx-bench")
        fake.pay(order["ref"])
        body = fake.notification(order["ref"])
        order["body"] = body.decode()
        order["headers"] = fake.signed_headers(body)
        del fake.transactions[order["ref"]]


async def prepare_run(
    database_url: str,
    world: dict[str, Any],
    keys: Keys,
    scenario: str,
    count: int,
    out: Path,
) -> list[str]:
    """A run's orders written to the database and described in `out` (JSON); returns their
    ids, for `withdraw` afterwards."""
    orders = plan_orders(world, count, uuid.uuid4().hex[:8])
    paying = scenario == NOTIFY
    conn = await asyncpg.connect(dsn(database_url))
    try:
        for start in range(0, len(orders), 5000):
            await write_orders(conn, world, orders[start : start + 5000], paying)
    finally:
        await conn.close()
    if paying:
        await asyncio.to_thread(notifications, keys.fake(), orders)
    await asyncio.to_thread(out.write_text, json.dumps(orders))
    return [o["id"] for o in orders]


async def withdraw(database_url: str, ids: list[str], scenario: str) -> int:
    """Delete the orders of a run that it did not pay (or, for payOrder, did not start paying):
    nothing is left for the payment jobs to find. Returns how many there were."""
    conn = await asyncpg.connect(dsn(database_url))
    try:
        async with conn.transaction():
            rows = await conn.fetch(UNUSED, [uuid.UUID(i) for i in ids], scenario == NOTIFY)
            unused = [r["id"] for r in rows]
            owners = [f"order:{i}" for i in unused]
            await conn.execute(UNRESERVE, owners)
            await conn.execute(DROP_RESERVATIONS, owners)
            for statement in DELETE_UNUSED:
                await conn.execute(statement, unused)
        return len(unused)
    finally:
        await conn.close()


class Supply:
    """A run's prepared orders, handed out one by one to its clients."""

    def __init__(self, orders: list[dict[str, Any]]):
        self.orders = orders
        self._next = 0

    @classmethod
    def load(cls, path: str | None) -> Supply:
        return cls(json.loads(Path(path).read_text()) if path else [])

    def take(self) -> dict[str, Any]:
        if self._next >= len(self.orders):
            raise LookupError("no prepared order left for this run")
        order = self.orders[self._next]
        self._next += 1
        return order


@dataclass
class RunOrders:
    """The runner's side: before each run of a WeChat Pay scenario, its orders (and their
    file for the load generator); after it, what it left unpaid withdrawn."""

    database_url: str
    world: dict[str, Any]
    keys: Keys
    warmup: float
    seconds: float
    pending: list[tuple[str, list[str]]] = field(default_factory=list)
    seen: dict[tuple[str, str], float] = field(default_factory=dict)  # best rates so far

    async def before(self, scenario: str, impl: str, count: int = 0) -> dict[str, str]:
        """The spec's additions for a run (none for other scenarios): `count` orders, or as
        many as the run could pay (batch_size)."""
        if scenario not in SCENARIOS:
            return {}
        out = self.keys.folder / f"orders-{scenario}-{impl}.json"
        best = self.seen.get((scenario, impl), 0.0)
        count = count or batch_size(scenario, impl, self.warmup, self.seconds, best)
        ids = await prepare_run(self.database_url, self.world, self.keys, scenario, count, out)
        self.pending.append((scenario, ids))
        return {"batch": str(out)}

    def saw(self, scenario: str, impl: str, rate: float) -> None:
        """A run's throughput: later runs of the same kind get orders for twice as much."""
        self.seen[(scenario, impl)] = max(rate, self.seen.get((scenario, impl), 0.0))

    async def after(self) -> int:
        """How many prepared orders were left unused (now deleted)."""
        left = 0
        for scenario, ids in self.pending:
            left += await withdraw(self.database_url, ids, scenario)
        self.pending = []
        return left
