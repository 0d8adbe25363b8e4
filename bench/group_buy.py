"""The group-buy benchmark (issue 18): joins and payments of group-buys of five, in process
(the domain's `open_group`/`join_group` and the till payment on Tortoise/asyncpg, no HTTP).

In `make bench` (scenario `group_buy`, bench/loadgen.py): `domain` is one seat per operation,
a join (or the open of a new group when the client's group is full) and its payment, which
completes the group on every fifth; each client fills groups of its own, the 256 members
taking turns. `raw` does the same rows by hand in two asyncpg transactions, in a campaign of
its own (so its seats leave the members' per-campaign limit to the domain): the member's seat
count, the seat, the group's counter, the conditional stock update and the reservation; then
the group's paid counter. After the run the books must balance (no group over its size, every
counter equal to its seats).

Standalone, on a fresh database of its own:

    python -m bench.group_buy [--clients 32] [--seconds 5]
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from bench.driver import Client, Op
from bench.flash_sale import RAW_RESERVATION, RAW_RESERVE, _members, _world
from bench.standalone import fresh_runtime, measure, parse, parser, run, started

SIZE = 5
BUYERS = 256  # at most 100 seats each (the per-member limit): 25,600 seats a run


async def seed_group_buy(runtime: Any) -> dict[str, Any]:
    """A store and its SKU (1,000,000 units), two campaigns of groups of five with no practical
    limits (one for the domain, one for the raw baseline, so the baseline's seats do not use
    up the members' per-campaign limit of 100), and the members who take the seats in turns."""
    from domain.growth.group_buys import CampaignTerms, create_campaign

    admin, store, variant = await _world(runtime, "G", 1_000_000)
    now = runtime.clock.now()
    terms = CampaignTerms(
        variant_id=variant,
        price=99900,
        group_size=SIZE,
        time_limit=timedelta(hours=24),
        per_member_limit=100,
        starts_at=now,
        ends_at=now + timedelta(days=1),
        units_offered=1_000_000,
        location_ids=(store,),
    )
    campaign = await create_campaign(runtime.group_buys, admin, terms, None)
    raw_campaign = await create_campaign(runtime.group_buys, admin, terms, None)
    buyers = await _members(runtime, BUYERS, "group")
    return {
        "store": str(store),
        "variant": str(variant),
        "campaign": str(campaign.id),
        "raw_campaign": str(raw_campaign.id),
        "members": [str(b.id) for b in buyers],
    }


RAW_MEMBER_SEAT = (
    "INSERT INTO group_buy_member (id, campaign_id, member_id, seats) VALUES ($1, $2, $3, 1) "
    "ON CONFLICT (campaign_id, member_id) DO UPDATE SET seats = group_buy_member.seats + 1 "
    "RETURNING id"
)
RAW_GROUP = (
    "INSERT INTO group_buy (id, campaign_id, leader_id, size, status, seats_taken, paid, "
    "opened_at, expires_at) VALUES ($1, $2, $3, $4, 'OPEN', 0, 0, $5, $6)"
)
RAW_SEAT = (
    "INSERT INTO group_buy_seat (id, group_id, campaign_id, member_id, order_id, label, leader, "
    "status, joined_at) VALUES ($1, $2, $3, $4, $5, 'B**', false, 'HELD', $6)"
)
RAW_TAKE_SEAT = (
    "UPDATE group_buy SET seats_taken = seats_taken + 1 "
    "WHERE id = $1 AND status = 'OPEN' AND seats_taken < size AND expires_at > $2"
)
RAW_PAY = (
    "UPDATE group_buy SET paid = paid + 1, status = CASE WHEN paid + 1 = size "
    "THEN 'COMPLETED' ELSE status END WHERE id = $1 AND status = 'OPEN' AND paid < seats_taken"
)
RAW_SEAT_PAID = "UPDATE group_buy_seat SET status = 'PAID' WHERE order_id = $1"


def group_op(world: dict[str, Any], impl: str, runtime: Any, pool: asyncpg.Pool) -> Op:
    from domain.identity.model import Principal, PrincipalKind, StaffRole
    from domain.ids import new_id

    hot = world["group_buy"]
    store, variant = uuid.UUID(hot["store"]), uuid.UUID(hot["variant"])
    campaign = uuid.UUID(hot["campaign" if impl == "domain" else "raw_campaign"])
    members = [Principal(kind=PrincipalKind.MEMBER, id=uuid.UUID(m)) for m in hot["members"]]
    cashier = Principal(kind=PrincipalKind.STAFF, id=new_id(), role=StaffRole.ADMIN)

    def seat(c: Client) -> tuple[Any, bool]:
        """The next member of the client's sequence, and whether a new group starts."""
        n = c.state["n"] = c.state.get("n", -1) + 1
        return members[(max(c.index, 0) * SIZE + n) % len(members)], n % SIZE == 0

    if impl == "domain":
        from domain.growth.group_buys import Where, join_group, open_group
        from domain.ordering.payments import record_in_store_payment

        async def domain(c: Client, strict: bool) -> None:
            member, opens = seat(c)
            if opens:
                group, order = await open_group(runtime.group_buys, member, campaign, Where(store))
                c.state["group"] = group.id
            else:
                group, order = await join_group(
                    runtime.group_buys, member, c.state["group"], Where(store)
                )
            await record_in_store_payment(
                runtime.ordering, cashier, order.id, "CASH", order.amount_due
            )
            if strict and order.lines[0].unit_price != 99900:
                raise AssertionError(f"not the group price: {order.lines[0].unit_price}")

        return domain

    async def raw(c: Client, strict: bool) -> None:
        member, opens = seat(c)
        now, order = datetime.now(UTC), new_id()
        async with pool.acquire() as conn:
            async with conn.transaction():
                if opens:
                    c.state["group"] = new_id()
                    await conn.execute(
                        RAW_GROUP, c.state["group"], campaign, member.id, SIZE, now,
                        now + timedelta(hours=24),
                    )  # fmt: skip
                group = c.state["group"]
                await conn.fetchval(RAW_MEMBER_SEAT, new_id(), campaign, member.id)
                await conn.execute(RAW_SEAT, new_id(), group, campaign, member.id, order, now)
                if await conn.execute(RAW_TAKE_SEAT, group, now) != "UPDATE 1":
                    raise RuntimeError("group full")
                if await conn.execute(RAW_RESERVE, store, variant) != "UPDATE 1":
                    raise RuntimeError("no stock")
                await conn.execute(
                    RAW_RESERVATION, new_id(), f"order:{order}", store, variant,
                    now + timedelta(minutes=15), now,
                )  # fmt: skip
            async with conn.transaction():
                await conn.execute(RAW_SEAT_PAID, order)
                if await conn.execute(RAW_PAY, group) != "UPDATE 1":
                    raise RuntimeError("not counted")

    return raw


async def group_books(pool: asyncpg.Pool, world: dict[str, Any]) -> str | None:
    """None when no group of the campaigns holds more seats than its size and every group's
    counters equal its seats."""
    campaigns = [uuid.UUID(world["group_buy"][k]) for k in ("campaign", "raw_campaign")]
    async with pool.acquire() as conn:
        bad = await conn.fetchval(
            "SELECT count(*) FROM group_buy g WHERE g.campaign_id = ANY($1::uuid[]) "
            "AND (g.seats_taken > g.size "
            "OR g.seats_taken <> (SELECT count(*) FROM group_buy_seat s WHERE s.group_id = g.id) "
            "OR g.paid <> (SELECT count(*) FROM group_buy_seat s WHERE s.group_id = g.id "
            "AND s.status = 'PAID'))",
            campaigns,
        )
    return f"{bad} groups whose counters disagree with their seats" if bad else None


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    async with fresh_runtime(args, min_pool=2) as (runtime, _, pool):
        report = started()
        world = {"group_buy": await seed_group_buy(runtime)}
        for impl in ("domain", "raw"):
            op = group_op(world, impl, runtime, pool)
            report[impl] = await measure(op, args.clients, args.warmup, args.seconds)
        report["books"] = await group_books(pool, world) or "ok"
        report["load_after"] = os.getloadavg()
        return report


def main(argv: list[str] | None = None) -> int:
    found = parser("python -m bench.group_buy", __doc__, 32, 2.0, 20, "omnishelf_h4_bench_group")
    report = run(main_async, parse(found, argv))
    return 0 if report["books"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
