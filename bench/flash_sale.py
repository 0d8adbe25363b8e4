"""The flash-sale benchmark (issue 17): one hot SKU at one store, in process (the domain's
`place_order` on Tortoise/asyncpg, no HTTP).

In `make bench` (scenario `flash_sale`, bench/loadgen.py): before timing, the rush below must
come out exact or the run fails; then `domain` is placeOrder of 1 unit of the hot SKU at the
hot store during a flash sale (64 members taking turns), `raw` the same hot rows by hand.

Standalone, on a fresh database of its own:

    python -m bench.flash_sale [--buyers 1000] [--units 100] [--clients 32] [--seconds 5]

1. The rush: `--buyers` members at once (one order of 1 unit each, all started together) for
   a flash sale of `--units` units with a per-member limit of 1, on a shelf of 10x that:
   exactly `--units` orders, the rest refused with FLASH_SALE_SOLD_OUT, 0 oversold (the sale's
   counter, the shelf's reserved units and the orders agree).
2. Throughput at `--clients` closed-loop clients for `--seconds` (after a warm-up), every
   order 1 unit of the same SKU at the same store:
     plain  placeOrder without a flash sale (the hot SKU: one stock_level row, one pickup
            number row per store and day), through the checkout's admission gate
     flash  placeOrder during a flash sale (the sale's counter row on top: a third hot row)
     flash_ungated  the same with the gate off (`HotRowGate.per_key = 0`): the convoy
     raw    the hot rows of a flash-sale order by hand in one asyncpg transaction: the member's
            counter, the sale's counter, the conditional stock update and the reservation
            insert (no order rows: a lower bound of what one SKU's locks allow)
Results are printed as one JSON document (and written with --json-out)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from bench.database import dsn
from bench.driver import Client, Op
from bench.standalone import fresh_runtime, measure, parse, parser, run, started


async def _members(runtime: Any, count: int, prefix: str) -> list[Any]:
    from domain.members.login import login_with_wechat
    from domain.members.services import member_principal

    made = []
    for i in range(count):
        member, _, _ = await login_with_wechat(runtime.members, "wx-demo", f"test:{prefix}-{i}")
        made.append(member_principal(member))
    return made


async def _world(runtime: Any, suffix: str, shelf: int) -> tuple[Any, uuid.UUID, uuid.UUID]:
    """A store and its one SKU with `shelf` units: each part of the run has its own."""
    from domain.catalog.services import ProductDraft, VariantDraft, create_product
    from domain.identity.model import Principal, PrincipalKind, StaffRole
    from domain.ids import new_id
    from domain.inventory.model import MovementKind
    from domain.inventory.stock import Adjustment, adjust
    from domain.locations.model import LocationType
    from domain.locations.services import LocationDraft, create_location

    admin = Principal(kind=PrincipalKind.STAFF, id=new_id(), role=StaffRole.ADMIN)
    store = await create_location(
        runtime.locations,
        LocationDraft(
            code=f"HOT-{suffix}",
            name="Hot store",
            type=LocationType.STORE,
            address="1 Nanjing Rd",
            city="Shanghai",
            latitude=31.2304,
            longitude=121.4737,
            pickup_enabled=True,
        ),
    )
    product = await create_product(
        runtime.catalog,
        ProductDraft(
            name="Moutai", variants=[VariantDraft(code=f"HOT-{suffix}", name="500ml", price=149900)]
        ),
    )
    [variant] = await runtime.repos.catalog.variants_of([product.id])
    await adjust(
        runtime.inventory,
        admin,
        Adjustment(store.id, variant.id, shelf, MovementKind.RECEIPT, "bench"),
        None,
    )
    return admin, store.id, variant.id


async def _sale(
    runtime: Any, admin: Any, store: uuid.UUID, variant: uuid.UUID, units: int, limit: int
) -> Any:
    from domain.promotions.flash_sales import FlashSaleTerms, create_flash_sale

    now = runtime.clock.now()
    return await create_flash_sale(
        runtime.flash_sales,
        admin,
        variant,
        FlashSaleTerms(
            price=99900,
            starts_at=now,
            ends_at=now + timedelta(hours=2),
            units_offered=units,
            per_member_limit=limit,
            location_ids=(store,),
        ),
    )


def _checkout(member: Any, store: uuid.UUID, variant: uuid.UUID) -> Any:
    from domain.inventory.model import StockLine
    from domain.ordering.checkout import Checkout
    from domain.ordering.model import SalesChannel

    return Checkout(
        channel=SalesChannel.MINI_PROGRAM,
        lines=[StockLine(variant, 1)],
        member_id=member.id,
        pickup_location_id=store,
    )


async def rush(runtime: Any, pool: asyncpg.Pool, buyers: int, units: int) -> dict[str, Any]:
    from domain.errors import DomainError
    from domain.ordering.checkout import place_order

    admin, store, variant = await _world(runtime, "R", units * 10)
    sale = await _sale(runtime, admin, store, variant, units, 1)
    crowd = await _members(runtime, buyers, "rush")
    start = asyncio.Event()

    async def buy(n: int, member: Any) -> str:
        await start.wait()
        try:
            await place_order(runtime.ordering, member, _checkout(member, store, variant), f"r{n}")
        except DomainError as error:
            return str(error.code)
        return "ORDER"

    tasks = [asyncio.create_task(buy(n, m)) for n, m in enumerate(crowd)]
    t0 = time.perf_counter()
    start.set()
    outcomes = Counter(await asyncio.gather(*tasks))
    seconds = time.perf_counter() - t0
    async with pool.acquire() as conn:
        sold = await conn.fetchval("SELECT units_sold FROM flash_sale WHERE id = $1", sale.id)
        reserved = await conn.fetchval(
            "SELECT reserved FROM stock_level WHERE location_id = $1 AND variant_id = $2",
            store,
            variant,
        )
        orders = await conn.fetchval(
            "SELECT count(*) FROM order_line WHERE variant_id = $1", variant
        )
    return {
        "buyers": buyers,
        "units": units,
        "outcomes": dict(outcomes),
        "seconds": round(seconds, 3),
        "units_sold": sold,
        "reserved": reserved,
        "order_lines": orders,
        "oversold": max(orders - units, 0),
        "ok": outcomes["ORDER"] == units == sold == reserved == orders
        and outcomes["FLASH_SALE_SOLD_OUT"] == buyers - units,
    }


async def checked_rush(runtime: Any, url: str, buyers: int = 1000, units: int = 100) -> str:
    """The rush for `make bench`: its summary, or an error that fails the run."""
    pool = await asyncpg.create_pool(dsn(url), min_size=1, max_size=2)
    try:
        found = await rush(runtime, pool, buyers, units)
    finally:
        await pool.close()
    if not found["ok"]:
        raise RuntimeError(f"the flash-sale rush is wrong: {found}")
    return f"{buyers} buyers for {units} units: {found['outcomes']}, 0 oversold"


RAW_MEMBER_TAKE = (
    "INSERT INTO flash_sale_buyer (id, flash_sale_id, member_id, bought) VALUES ($1, $2, $3, 1) "
    "ON CONFLICT (flash_sale_id, member_id) DO UPDATE SET bought = flash_sale_buyer.bought + 1 "
    "WHERE flash_sale_buyer.bought + 1 <= $4 RETURNING id"
)
RAW_SALE_TAKE = (
    "UPDATE flash_sale SET units_sold = units_sold + 1 "
    "WHERE id = $1 AND units_sold + 1 <= units_offered AND cancelled_at IS NULL"
)
RAW_RESERVE = (
    "UPDATE stock_level SET reserved = reserved + 1 "
    "WHERE location_id = $1 AND variant_id = $2 AND on_hand - reserved - safety_stock >= 1"
)
RAW_RESERVATION = (
    "INSERT INTO stock_reservation (id, owner, location_id, variant_id, quantity, state, "
    "expires_at, created_at) VALUES ($1, $2, $3, $4, 1, 'ACTIVE', $5, $6)"
)


async def throughput(
    runtime: Any, pool: asyncpg.Pool, clients: int, warmup: float, seconds: float
) -> dict[str, Any]:
    from domain.ordering.checkout import place_order

    admin, store, variant = await _world(runtime, "T", 1_000_000)
    buyers = await _members(runtime, MEMBERS, "loop")
    results: dict[str, Any] = {}

    async def plain(c: Client, strict: bool) -> None:
        member = buyers[c.index % len(buyers)]
        await place_order(runtime.ordering, member, _checkout(member, store, variant), None)

    results["plain"] = await measure(plain, clients, warmup, seconds)
    sale = await _sale(runtime, admin, store, variant, 1_000_000, 1_000_000)
    world = {
        "flash": {
            "store": str(store),
            "variant": str(variant),
            "sale": str(sale.id),
            "members": [str(b.id) for b in buyers],
        }
    }
    flash, raw = flash_op(world, "domain", runtime, pool), flash_op(world, "raw", runtime, pool)
    results["flash"] = await measure(flash, clients, warmup, seconds)
    results["raw"] = await measure(raw, clients, warmup, seconds)
    # The same without the checkout's admission gate (domain/ordering/hot_rows.py).
    gate = runtime.ordering.hot_rows
    per_key, gate.per_key = gate.per_key, 0
    try:
        results["flash_ungated"] = await measure(flash, clients, warmup, seconds)
    finally:
        gate.per_key = per_key
    results["books"] = await flash_books(pool, world) or "ok"
    return results


# ---------------------------------------------------------------- make bench (bench/loadgen.py)

MEMBERS = 64


async def seed_flash(runtime: Any) -> dict[str, Any]:
    """The hot store, its SKU (1,000,000 units), a flash sale of all of them with no
    practical limit, and the members who buy it in turns."""
    admin, store, variant = await _world(runtime, "B", 1_000_000)
    sale = await _sale(runtime, admin, store, variant, 1_000_000, 1_000_000)
    buyers = await _members(runtime, MEMBERS, "flash")
    return {
        "store": str(store),
        "variant": str(variant),
        "sale": str(sale.id),
        "members": [str(b.id) for b in buyers],
    }


def flash_op(world: dict[str, Any], impl: str, runtime: Any, pool: asyncpg.Pool) -> Op:
    from domain.identity.model import Principal, PrincipalKind
    from domain.ids import new_id

    hot = world["flash"]
    store, variant, sale = (uuid.UUID(hot[k]) for k in ("store", "variant", "sale"))
    members = [Principal(kind=PrincipalKind.MEMBER, id=uuid.UUID(m)) for m in hot["members"]]

    def member(c: Client) -> Any:
        c.state["n"] = c.state.get("n", -1) + 1
        return members[(max(c.index, 0) + c.state["n"] * 7) % len(members)]

    if impl == "domain":
        from domain.ordering.checkout import place_order

        async def domain(c: Client, strict: bool) -> None:
            buyer = member(c)
            order = await place_order(
                runtime.ordering, buyer, _checkout(buyer, store, variant), None
            )
            if strict and order.lines[0].unit_price != 99900:
                raise AssertionError(f"not the sale price: {order.lines[0].unit_price}")

        return domain

    async def raw(c: Client, strict: bool) -> None:
        buyer = member(c)
        now = datetime.now(UTC)
        async with pool.acquire() as conn, conn.transaction():
            if await conn.fetchval(RAW_MEMBER_TAKE, new_id(), sale, buyer.id, 1_000_000) is None:
                raise RuntimeError("limit")
            if await conn.execute(RAW_SALE_TAKE, sale) != "UPDATE 1":
                raise RuntimeError("sold out")
            if await conn.execute(RAW_RESERVE, store, variant) != "UPDATE 1":
                raise RuntimeError("no stock")
            await conn.execute(
                RAW_RESERVATION, new_id(), f"bench:{uuid.uuid4()}", store, variant,
                now + timedelta(minutes=15), now,
            )  # fmt: skip

    return raw


async def flash_books(pool: asyncpg.Pool, world: dict[str, Any]) -> str | None:
    """None when the sale's counter equals its members' counts and the shelf's reserved units
    equal its active reservations."""
    hot = world["flash"]
    sale, store = uuid.UUID(hot["sale"]), uuid.UUID(hot["store"])
    async with pool.acquire() as conn:
        sold = await conn.fetchval("SELECT units_sold FROM flash_sale WHERE id = $1", sale)
        bought = await conn.fetchval(
            "SELECT COALESCE(SUM(bought), 0) FROM flash_sale_buyer WHERE flash_sale_id = $1", sale
        )
        reserved = await conn.fetchval(
            "SELECT COALESCE(SUM(reserved), 0) FROM stock_level WHERE location_id = $1", store
        )
        held = await conn.fetchval(
            "SELECT COALESCE(SUM(quantity), 0) FROM stock_reservation "
            "WHERE location_id = $1 AND state = 'ACTIVE'",
            store,
        )
    if sold != bought or reserved != held:
        return f"sale {sold} vs members {bought}; reserved {reserved} vs reservations {held}"
    return None


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    async with fresh_runtime(args, min_pool=2) as (runtime, _, pool):
        report = started()
        report["rush"] = await rush(runtime, pool, args.buyers, args.units)
        report["throughput"] = await throughput(
            runtime, pool, args.clients, args.warmup, args.seconds
        )
        report["load_after"] = os.getloadavg()
        return report


def main(argv: list[str] | None = None) -> int:
    found = parser("python -m bench.flash_sale", __doc__, 32, 2.0, 20, "omnishelf_h6_bench_flash")
    found.add_argument("--buyers", type=int, default=1000)
    found.add_argument("--units", type=int, default=100)
    report = run(main_async, parse(found, argv))
    return 0 if report["rush"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
