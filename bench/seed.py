"""Seed the benchmark's world through the domain services (so every row is one the
application could have written) and describe it as JSON for the load generator.

Stores around central Shanghai with pickup; products with variants and 1,000,000 units of
every variant in every store; members logged in through the WeChat login (each access token
has its `auth_session` row, verified by the server exactly as in production) holding points;
members with an order history; members holding many coupons; a clerk per store, a CS agent
and a POS device per store, all with real tokens; for the in-process scenarios, the
points-ledger crowds and a store of its own for the reservation runs."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar
from uuid import UUID

from bench.database import WECHAT_APP

T = TypeVar("T")
HOURS = {d: [("00:00", "23:59")] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
STOCK = 1_000_000
STAFF_PASSWORD = "bench-password-1"
LEDGER_WORKLOADS = ("earn-spread", "earn-hot", "redeem-spread", "redeem-hot")
LEDGER_IMPLS = ("domain", "raw")


@dataclass(frozen=True)
class Size:
    stores: int = 12
    products: int = 40
    variants_per_product: int = 5
    members: int = 256
    history_members: int = 32
    orders_each: int = 22
    points_each: int = 2_000_000
    ledger_members: int = 200  # per spread crowd of the points_ledger scenario
    coupon_members: int = 256  # place_order_coupon's members (points, and coupons to use)
    coupons_each: int = 120  # more than one run of place_order_coupon uses (see bench.coupons)
    quote_members: int = 64  # checkout_quote_coupons' members: three coupons each to offer

    @classmethod
    def quick(cls) -> Size:
        return cls(
            stores=4, products=20, members=64, history_members=8, ledger_members=50,
            coupon_members=64, quote_members=16,
        )  # fmt: skip


async def in_batches(
    items: Iterable[T], size: int, work: Callable[[T], Awaitable[Any]]
) -> list[Any]:
    """`work` over the items, `size` at a time (the domain's pool has 20 connections)."""
    pending = list(items)
    done: list[Any] = []
    for start in range(0, len(pending), size):
        done += await asyncio.gather(*(work(x) for x in pending[start : start + size]))
    return done


def _admin() -> Any:
    from domain.identity.model import Principal, PrincipalKind, StaffRole
    from domain.ids import new_id

    return Principal(kind=PrincipalKind.STAFF, id=new_id(), role=StaffRole.ADMIN)


async def _stores(runtime: Any, size: Size) -> list[dict[str, Any]]:
    from api.relay import encode_id
    from domain.locations.model import LocationType
    from domain.locations.services import LocationDraft, create_location

    stores = []
    for n in range(size.stores):
        ring, step = divmod(n, 6)
        latitude = 31.2304 + (ring + 1) * 0.012 * (1 if step % 2 else -1) + step * 0.003
        longitude = 121.4737 + (ring + 1) * 0.015 * (1 if step < 3 else -1) - step * 0.002
        location = await create_location(
            runtime.locations,
            LocationDraft(
                code=f"BENCH-{n + 1:02d}",
                name=f"Bench store {n + 1}",
                type=LocationType.STORE,
                address=f"{n + 1} Bench Rd",
                city="Shanghai",
                latitude=latitude,
                longitude=longitude,
                opening_hours=HOURS,
                pickup_enabled=True,
                ships_online=n % 4 == 0,  # what products_stock's totalAvailable counts
            ),
        )
        stores.append(
            {
                "id": str(location.id),
                "gid": encode_id("Location", location.id),
                "code": location.code,
                "name": location.name,
                "latitude": latitude,
                "longitude": longitude,
            }
        )
    return stores


async def _catalog(runtime: Any, size: Size) -> list[dict[str, Any]]:
    from api.relay import encode_id
    from domain.catalog.services import ProductDraft, VariantDraft, create_product

    variants = []
    for p in range(size.products):
        drafts = [
            VariantDraft(code=f"B{p:03d}-{v:02d}", name=f"size {v}", price=990 + 110 * v + 7 * p)
            for v in range(size.variants_per_product)
        ]
        product = await create_product(
            runtime.catalog, ProductDraft(name=f"Bench product {p}", variants=drafts)
        )
        for v in await runtime.repos.catalog.variants_of([product.id]):
            variants.append(
                {
                    "id": str(v.id),
                    "gid": encode_id("Variant", v.id),
                    "product_id": str(product.id),
                    "sku": v.code,
                    "name": f"{product.name} {v.name}",
                    "price": v.price.amount,
                }
            )
    return variants


async def _member_prices(runtime: Any, admin: Any, variants: list[dict[str, Any]]) -> None:
    """A third of the variants have member prices: 1 yuan off for every tier but GOLD, 2 for
    GOLD (the bench members are of the first tier)."""
    from domain.promotions.member_prices import set_member_price

    for variant in variants[::3]:
        for tier in runtime.loyalty.policy.tiers:
            off = 200 if tier.name == "GOLD" else 100
            await set_member_price(
                runtime.member_prices, admin, UUID(variant["id"]), tier.name, variant["price"] - off
            )


async def _stock(
    runtime: Any, admin: Any, codes: list[str], variants: list[dict[str, Any]]
) -> None:
    from domain.inventory.stock import MAX_BATCH, BulkRow, bulk_set

    rows = [BulkRow(code, v["sku"], STOCK) for code in codes for v in variants]
    batches = [rows[i : i + MAX_BATCH] for i in range(0, len(rows), MAX_BATCH)]
    for outcomes in await in_batches(
        batches, 4, lambda batch: bulk_set(runtime.inventory, admin, batch)
    ):
        bad = [o for o in outcomes if o.status != "SET"]
        if bad:
            raise RuntimeError(f"stock seeding refused rows: {bad[:3]}")


async def _members(runtime: Any, count: int, prefix: str) -> list[dict[str, Any]]:
    from api.relay import encode_id
    from domain.members.login import login_with_wechat

    async def one(n: int) -> dict[str, Any]:
        member, pair, _ = await login_with_wechat(runtime.members, WECHAT_APP, f"test:{prefix}-{n}")
        session = runtime.tokens.verify(pair.access_token).session_id
        return {
            "id": str(member.id),
            "gid": encode_id("Member", member.id),
            "token": pair.access_token,
            "session_id": str(session),
        }

    return await in_batches(range(count), 16, one)


async def _points(runtime: Any, members: list[UUID], each: int) -> None:
    """Two lots per member (different expiry dates) for checkouts and CS debits to spend."""
    from domain.loyalty import ledger
    from domain.loyalty.model import EntryKind

    deps = runtime.loyalty

    async def one(member: UUID) -> None:
        for days in (90, 300):
            async with deps.uow() as uow:
                await ledger.credit(
                    deps,
                    uow,
                    member,
                    each // 2,
                    EntryKind.ADJUST,
                    "bench:seed",
                    "SYSTEM",
                    "bench seed",
                    None,
                    expires_at=deps.clock.now() + timedelta(days=days),
                )

    await in_batches(members, 16, one)


async def _history(
    runtime: Any, members: list[dict[str, Any]], world: dict[str, Any], each: int
) -> None:
    """`each` pickup orders per member (2 lines), as the checkout writes them."""
    import random

    from domain.inventory.model import StockLine
    from domain.members.services import member_principal
    from domain.ordering.checkout import Checkout, place_order
    from domain.ordering.model import SalesChannel

    rnd = random.Random(7)
    stores, variants = world["stores"], world["variants"]

    async def orders_of(member: dict[str, Any]) -> None:
        found = await runtime.repos.members.get(UUID(member["id"]))
        principal = member_principal(found)
        for _ in range(each):
            lines = rnd.sample(variants, 2)
            checkout = Checkout(
                channel=SalesChannel.MINI_PROGRAM,
                lines=[StockLine(UUID(v["id"]), 1) for v in lines],
                member_id=found.id,
                pickup_location_id=UUID(rnd.choice(stores)["id"]),
            )
            await place_order(runtime.ordering, principal, checkout, None)

    await in_batches(members, 8, orders_of)


async def _staff(runtime: Any, world: dict[str, Any]) -> None:
    from domain.identity.model import DeviceKind, StaffRole
    from domain.identity.services import create_device, create_staff, hash_secret, staff_login

    async def login(username: str, role: StaffRole, stores: list[UUID]) -> dict[str, Any]:
        staff = await create_staff(runtime.auth, username, STAFF_PASSWORD, role, stores)
        _, pair = await staff_login(runtime.auth, username, STAFF_PASSWORD, "127.0.0.1")
        session = runtime.tokens.verify(pair.access_token).session_id
        return {"id": str(staff.id), "token": pair.access_token, "session_id": str(session)}

    for store in world["stores"]:
        store_id = UUID(store["id"])
        store["clerk"] = await login(
            f"{store['code'].lower()}-clerk", StaffRole.STORE_CLERK, [store_id]
        )
        device, token = await create_device(runtime.auth, store_id, DeviceKind.POS, "bench till")
        store["pos"] = {"id": str(device.id), "token": token, "token_hash": hash_secret(token)}
    world["cs"] = await login("bench-cs", StaffRole.CS_AGENT, [])


async def _coupon_crowd(runtime: Any, admin: Any, size: Size) -> dict[str, Any]:
    """place_order_coupon: members like the others (logged in, with points), each granted
    `coupons_each` coupons of one NO_THRESHOLD template (¥3 off) in one batch."""
    from collections import defaultdict

    from bench.coupons import COUPON_OFF
    from domain.promotions.coupons import create_template, grant_batch_in_uow
    from domain.promotions.coupons_model import (
        CouponKind,
        CouponRules,
        CouponScope,
        TemplateDraft,
        Validity,
    )

    members = await _members(runtime, size.coupon_members, "coupon")
    ids = [UUID(m["id"]) for m in members]
    await _points(runtime, ids, size.points_each)
    draft = TemplateDraft(
        name="Bench ¥3 off",
        rules=CouponRules(CouponKind.NO_THRESHOLD, amount_off=COUPON_OFF),
        scope=CouponScope(),
        validity=Validity(days=30),
        total_quantity=len(ids) * size.coupons_each,
    )
    template = await create_template(runtime.coupons, admin, draft)
    async with runtime.coupons.uow() as uow:
        given = await grant_batch_in_uow(
            runtime.coupons,
            uow,
            template.id,
            [m for m in ids for _ in range(size.coupons_each)],
            "bench:seed",
        )
    held: dict[UUID, list[str]] = defaultdict(list)
    for coupon in given:
        held[coupon.member_id].append(str(coupon.id))
    for member, member_id in zip(members, ids, strict=True):
        member["coupons"] = held[member_id]
    return {"template": str(template.id), "members": members}


# checkout_quote_coupons' offers: one that applies, one whose threshold the cart does not
# reach, one for another channel (the quote lists all three, best first, with the reasons).
QUOTE_OFFERS = (
    ("10 % off, at most ¥5", "PERCENT_OFF", {"percent_off_bp": 1000, "max_discount": 500}, ()),
    ("¥20 off ¥999", "AMOUNT_OFF", {"amount_off": 2000, "threshold": 99_900}, ()),
    ("¥1 off at the till", "NO_THRESHOLD", {"amount_off": 100}, ("POS",)),
)


async def _quote_crowd(runtime: Any, admin: Any, size: Size) -> dict[str, Any]:
    """checkout_quote_coupons: members like the others (logged in, with points), each
    holding one coupon of each of QUOTE_OFFERS."""
    from domain.promotions.coupons import create_template, grant_batch_in_uow
    from domain.promotions.coupons_model import (
        CouponKind,
        CouponRules,
        CouponScope,
        TemplateDraft,
        Validity,
    )

    members = await _members(runtime, size.quote_members, "quote")
    ids = [UUID(m["id"]) for m in members]
    await _points(runtime, ids, size.points_each)
    for n, (name, kind, amounts, channels) in enumerate(QUOTE_OFFERS):
        draft = TemplateDraft(
            name=name,
            rules=CouponRules(CouponKind(kind), **amounts),
            scope=CouponScope(channels=channels),
            validity=Validity(days=30),
            total_quantity=len(ids),
        )
        template = await create_template(runtime.coupons, admin, draft)
        async with runtime.coupons.uow() as uow:
            await grant_batch_in_uow(runtime.coupons, uow, template.id, ids, f"bench:offer{n}")
    return {"members": members}


async def _ledger_crowds(runtime: Any, size: Size) -> dict[str, list[str]]:
    """points_ledger: members per (workload, implementation), seeded alike, so both
    implementations start from the same state. Redeeming crowds get lots to spend."""
    from domain.loyalty import ledger

    crowds: dict[str, list[str]] = {}
    for workload in LEDGER_WORKLOADS:
        for impl in LEDGER_IMPLS:
            count = 1 if workload.endswith("hot") else size.ledger_members
            made = await _members(runtime, count, f"ledger-{workload}-{impl}")
            ids = [UUID(m["id"]) for m in made]
            if workload.startswith("redeem"):
                await _points(runtime, ids, 40_000_000 if count == 1 else 400_000)
            else:

                async def open_account(member: UUID) -> None:
                    async with runtime.loyalty.uow() as uow:
                        await ledger.account_for(runtime.loyalty, uow, member)

                await in_batches(ids, 16, open_account)
            crowds[f"{workload}/{impl}"] = [str(i) for i in ids]
    return crowds


async def _reservation_shelf(
    runtime: Any, admin: Any, variants: list[dict[str, Any]]
) -> dict[str, Any]:
    """reservations: a store of its own (its rows are reset between runs)."""
    from domain.locations.model import LocationType
    from domain.locations.services import LocationDraft, create_location

    store = await create_location(
        runtime.locations,
        LocationDraft(
            code="BENCH-RSV",
            name="Bench reservations",
            type=LocationType.WAREHOUSE,
            address="1 Shelf Rd",
            city="Shanghai",
            latitude=31.3,
            longitude=121.5,
        ),
    )
    await _stock(runtime, admin, [store.code], variants)
    return {"store": str(store.id), "variants": [v["id"] for v in variants]}


async def seed(
    runtime: Any,
    size: Size,
    *,
    ledger: bool,
    reservations: bool,
    flash: bool = False,
    group_buy: bool = False,
    coupons: bool = False,
) -> dict[str, Any]:
    """Everything the scenarios need, as plain JSON (ids as strings)."""
    admin = _admin()
    world: dict[str, Any] = {"stores": await _stores(runtime, size)}
    world["variants"] = await _catalog(runtime, size)
    await _member_prices(runtime, admin, world["variants"])
    await _stock(runtime, admin, [s["code"] for s in world["stores"]], world["variants"])
    world["members"] = await _members(runtime, size.members, "bench")
    await _points(runtime, [UUID(m["id"]) for m in world["members"]], size.points_each)
    history = world["members"][: size.history_members]
    await _history(runtime, history, world, size.orders_each)
    world["history_members"] = history
    await _staff(runtime, world)
    if coupons:
        world["coupon_crowd"] = await _coupon_crowd(runtime, admin, size)
        world["quote_crowd"] = await _quote_crowd(runtime, admin, size)
    if ledger:
        world["ledger_crowds"] = await _ledger_crowds(runtime, size)
    if reservations:
        world["shelf"] = await _reservation_shelf(runtime, admin, world["variants"])
    if flash:
        from bench.flash_sale import seed_flash

        world["flash"] = await seed_flash(runtime)
    if group_buy:
        from bench.group_buy import seed_group_buy

        world["group_buy"] = await seed_group_buy(runtime)
    return world
