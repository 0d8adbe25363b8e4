"""A fresh database and what the load needs, made through the domain services in this process:
two stores with a clerk and a till each, six hot variants, a daily subscription plan, a CS
agent, members, and duplicates of members (merged away during the run)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from uuid import UUID

from bench.database import WECHAT_APP, Secrets, recreate_database, runtime_settings, with_database
from bench.seed import HOURS

STOCK = 5_000  # per variant and store: the run is about crashes, not shortages
PASSWORD = "chaos-staff-password"


@dataclass(frozen=True)
class Member:
    id: UUID
    gid: str  # the Relay global id
    token: str


@dataclass(frozen=True)
class Store:
    id: UUID
    gid: str
    clerk: str  # a STORE_CLERK's access token
    till: str  # a POS device's token


@dataclass(frozen=True)
class World:
    stores: list[Store]
    variants: list[str]  # global ids; few, so their stock rows are contended
    plan: str
    plan_variants: list[str]
    cs: str  # a CS agent's access token
    members: list[Member]
    dups: list[Member]  # each merged into one of `members` by a merge operation


async def build(admin_url: str, database: str, keys: Secrets, members: int) -> World:
    from api.relay import encode_id
    from domain.catalog.services import ProductDraft, VariantDraft, create_product
    from domain.identity.model import DeviceKind, Principal, PrincipalKind, StaffRole
    from domain.identity.services import create_device, create_staff, staff_login
    from domain.ids import new_id
    from domain.inventory.model import MovementKind
    from domain.inventory.stock import Adjustment, adjust
    from domain.locations.model import LocationType
    from domain.locations.services import LocationDraft, create_location
    from domain.members.login import login_with_wechat
    from domain.subscriptions.model import Interval, IntervalUnit
    from domain.subscriptions.plans import create_plan
    from infra.db.connection import migrate
    from infra.runtime import Runtime

    url = with_database(admin_url, database)
    await recreate_database(admin_url, database)
    await asyncio.to_thread(migrate, url)
    runtime = Runtime(runtime_settings(url, keys), fast_password_hashing=True)
    await runtime.start()
    admin = Principal(kind=PrincipalKind.STAFF, id=new_id(), role=StaffRole.ADMIN)

    async def staff(username: str, role: StaffRole, stores: list[UUID]) -> str:
        await create_staff(runtime.auth, username, PASSWORD, role, stores)
        _, pair = await staff_login(runtime.auth, username, PASSWORD, "127.0.0.1")
        return pair.access_token

    async def member(code: str) -> Member:
        found, pair, _ = await login_with_wechat(runtime.members, WECHAT_APP, f"test:{code}")
        return Member(found.id, encode_id("Member", found.id), pair.access_token)

    try:
        drafts = [VariantDraft(f"CHAOS-{n}", f"box {n}", 990 + 100 * n) for n in range(6)]
        product = await create_product(
            runtime.catalog, ProductDraft("Chaos fruit", variants=drafts)
        )
        variants = sorted(
            await runtime.repos.catalog.variants_of([product.id]), key=lambda v: v.code
        )
        stores = []
        for n in (1, 2):
            location = await create_location(
                runtime.locations,
                LocationDraft(
                    f"CHAOS-{n}", f"Chaos store {n}", LocationType.STORE, f"{n} Chaos Rd",
                    "Shanghai", 31.2 + n / 100, 121.4 + n / 100, opening_hours=HOURS,
                    pickup_enabled=True,
                ),
            )  # fmt: skip
            for v in variants:
                receipt = Adjustment(location.id, v.id, STOCK, MovementKind.RECEIPT, "chaos")
                await adjust(runtime.inventory, admin, receipt, None)
            _, till = await create_device(runtime.auth, location.id, DeviceKind.POS, "chaos till")
            clerk = await staff(f"chaos-clerk-{n}", StaffRole.STORE_CLERK, [location.id])
            stores.append(Store(location.id, encode_id("Location", location.id), clerk, till))
        daily = Interval(IntervalUnit.DAY, 1)
        plan = await create_plan(
            runtime.subscriptions, "Chaos daily", [v.id for v in variants[:3]], daily, 10, 0
        )
        return World(
            stores=stores,
            variants=[encode_id("Variant", v.id) for v in variants],
            plan=encode_id("SubscriptionPlan", plan.id),
            plan_variants=[encode_id("Variant", v.id) for v in variants[:3]],
            cs=await staff("chaos-cs", StaffRole.CS_AGENT, []),
            members=[await member(f"chaos-{n}") for n in range(members)],
            dups=[await member(f"chaos-dup-{n}") for n in range(4 * members)],
        )
    finally:
        await runtime.stop()
