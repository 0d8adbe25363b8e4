"""The in-process scenarios: domain services (Tortoise ORM on asyncpg) against the same
transactions written with plain asyncpg, no HTTP. The "≥ 40 % of raw" target is about them.

points_ledger — earning and redeeming points:
  earn    one credit of 100 points with a fresh idempotency key (a new lot with its expiry)
  redeem  a hold of 100 points, then its posting in a second transaction (checkout, then
          payment)
  each `spread` over a crowd of members (a random one per operation) or `hot` on a single
  member (every operation waits for that account row's lock). Each (workload, impl) pair has
  its own members, seeded alike.
  raw per transaction: lock the account row FOR UPDATE, check the idempotency key or the
  hold's owner, read the spendable lots soonest expiry first, insert the entry (and lot or
  hold), update the lots, update the account.

reservations — `domain.inventory.reservations.reserve`, one unit for a new owner:
  hot     always the same variant (every transaction queues on one stock_level row lock)
  spread  a random variant of the catalog
  raw: BEGIN; UPDATE stock_level SET reserved = reserved + 1 WHERE ... AND on_hand -
  reserved - safety_stock >= 1; INSERT stock_reservation; INSERT stock_movement; COMMIT.
  Every run starts from the seeded state of its own store (reservations and their movements
  deleted, `reserved` back to 0) and ends with a check that the books balance.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from bench.driver import Client, Op

POINTS = 100
TTL = timedelta(minutes=15)
VARIANTS = {
    "points_ledger": ("earn-spread", "earn-hot", "redeem-spread", "redeem-hot"),
    "reservations": ("hot", "spread"),
}

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


class Refused(Exception):
    pass


def _new_id() -> uuid.UUID:
    from domain.ids import new_id

    return new_id()


def _pick(members: list[uuid.UUID], c: Client) -> uuid.UUID:
    return members[0] if len(members) == 1 else c.rnd.choice(members)


# ---------------------------------------------------------------- points ledger


def ledger_op(
    world: dict[str, Any], workload: str, impl: str, runtime: Any, pool: asyncpg.Pool
) -> Op:
    members = [uuid.UUID(m) for m in world["ledger_crowds"][f"{workload}/{impl}"]]
    earn = workload.startswith("earn")
    if impl == "domain":
        return _domain_earn(runtime, members) if earn else _domain_redeem(runtime, members)
    return _raw_earn(pool, members) if earn else _raw_redeem(pool, members)


def _domain_earn(runtime: Any, members: list[uuid.UUID]) -> Op:
    from domain.loyalty import ledger
    from domain.loyalty.model import EntryKind

    deps = runtime.loyalty

    async def op(c: Client, strict: bool) -> None:
        member, key = _pick(members, c), uuid.uuid4().hex
        async with deps.uow() as uow:
            await ledger.credit(
                deps, uow, member, POINTS, EntryKind.EARN, f"bench:{key}", "SYSTEM", "bench", key
            )

    return op


def _domain_redeem(runtime: Any, members: list[uuid.UUID]) -> Op:
    from domain.loyalty import ledger

    deps = runtime.loyalty

    async def op(c: Client, strict: bool) -> None:
        member, owner = _pick(members, c), f"order:{uuid.uuid4()}"
        async with deps.uow() as uow:
            await ledger.hold(deps, uow, member, POINTS, owner, f"MEMBER:{member}")
        async with deps.uow() as uow:
            if await ledger.post_hold(deps, uow, owner, "SYSTEM") is None:
                raise Refused("the hold vanished")

    return op


def _raw_earn(pool: asyncpg.Pool, members: list[uuid.UUID]) -> Op:
    from domain.loyalty.model import PointsPolicy

    policy = PointsPolicy()

    async def op(c: Client, strict: bool) -> None:
        member, key = _pick(members, c), uuid.uuid4().hex
        now = datetime.now(UTC)
        async with pool.acquire() as conn, conn.transaction():
            balance, held, debt = await conn.fetchrow(RAW_LOCK, member)
            if await conn.fetchval(RAW_KEY, member, key) is not None:
                return
            paid = min(POINTS, debt)
            if paid < POINTS:
                await conn.execute(RAW_LOT, _new_id(), member, POINTS - paid, now,
                                   policy.expiry_for(now), f"bench:{key}")  # fmt: skip
            balance, debt = balance + POINTS, debt - paid
            await conn.execute(RAW_ENTRY, _new_id(), member, "EARN", POINTS, 0, balance, held,
                               f"bench:{key}", "SYSTEM", "bench", key, now)  # fmt: skip
            await conn.execute(RAW_ACCOUNT, member, balance, held, debt)

    return op


def _raw_redeem(pool: asyncpg.Pool, members: list[uuid.UUID]) -> Op:
    async def op(c: Client, strict: bool) -> None:
        member, owner = _pick(members, c), f"order:{uuid.uuid4()}"
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
                await conn.execute(RAW_NEW_HOLD, _new_id(), member, owner, POINTS,
                                   json.dumps(taken), now)  # fmt: skip
                held += POINTS
                await conn.execute(RAW_ENTRY, _new_id(), member, "HOLD", 0, POINTS, balance, held,
                                   owner, f"MEMBER:{member}", "held for redemption",
                                   f"hold:{owner}", now)  # fmt: skip
                await conn.execute(RAW_ACCOUNT, member, balance, held, debt)
            async with conn.transaction():  # the posting
                found = await conn.fetchrow(RAW_HOLD_BY_OWNER, owner)
                balance, held, debt = await conn.fetchrow(RAW_LOCK, found["member_id"])
                found = await conn.fetchrow(RAW_HOLD_BY_OWNER, owner)  # under the lock
                if found["state"] != "OPEN":
                    return
                for lot_id, part in json.loads(found["allocations"]).items():
                    await conn.execute(RAW_SPEND_HELD, uuid.UUID(lot_id), part)
                await conn.execute(RAW_POST_HOLD, found["id"])
                balance, held = balance - POINTS, held - POINTS
                await conn.execute(RAW_ENTRY, _new_id(), member, "REDEEM", -POINTS, -POINTS,
                                   balance, held, owner, "SYSTEM", "redeemed", f"redeem:{owner}",
                                   datetime.now(UTC))  # fmt: skip
                await conn.execute(RAW_ACCOUNT, member, balance, held, debt)

    return op


async def ledger_books(pool: asyncpg.Pool, members: list[str]) -> str | None:
    """None when every account of the crowd keeps the ledger's invariants: balance equals
    its entries and its lots minus debt; held equals its entries', its lots' and its open
    holds'."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
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
            WHERE a.member_id = ANY($1::uuid[])
            """,
            [uuid.UUID(m) for m in members],
        )
    wrong = [
        dict(r)
        for r in rows
        if not (
            r["balance"] == r["entries"] == r["lots"] - r["debt"]
            and r["held"] == r["entries_held"] == r["lots_held"] == r["open_holds"]
        )
    ]
    return f"{len(wrong)} of {len(rows)} accounts off, e.g. {wrong[0]}" if wrong else None


# ---------------------------------------------------------------- reservations


def reservation_op(
    world: dict[str, Any], variant: str, impl: str, runtime: Any, pool: asyncpg.Pool
) -> Op:
    shelf = world["shelf"]
    store = uuid.UUID(shelf["store"])
    variants = [uuid.UUID(v) for v in shelf["variants"]]

    def pick(c: Client) -> uuid.UUID:
        return variants[0] if variant == "hot" else c.rnd.choice(variants)

    def owner(c: Client) -> str:
        c.state["n"] = c.state.get("n", 0) + 1
        return f"bench:{impl}:{c.index}:{c.state['n']}:{uuid.uuid4().hex[:8]}"

    if impl == "domain":
        from domain.inventory.model import StockLine
        from domain.inventory.reservations import reserve

        deps = runtime.inventory

        async def domain(c: Client, strict: bool) -> None:
            await reserve(deps, [StockLine(pick(c), 1)], store, owner(c), TTL)

        return domain

    async def raw(c: Client, strict: bool) -> None:
        item, who = pick(c), owner(c)
        async with pool.acquire() as conn, conn.transaction():
            if await conn.execute(RAW_RESERVE, store, item, 1) != "UPDATE 1":
                raise Refused(f"{item} is out of stock")
            now = datetime.now(UTC)
            await conn.execute(RAW_RESERVATION, _new_id(), who, store, item, 1, now + TTL, now)
            await conn.execute(RAW_MOVEMENT, _new_id(), store, item, 1, who, now)

    return raw


async def reset_shelf(pool: asyncpg.Pool, world: dict[str, Any]) -> None:
    """The reservation store back to its seeded state: no reservations, only receipts."""
    store = uuid.UUID(world["shelf"]["store"])
    async with pool.acquire() as conn:
        await conn.execute("DELETE FROM stock_reservation WHERE location_id = $1", store)
        await conn.execute(
            "DELETE FROM stock_movement WHERE location_id = $1 AND kind = 'RESERVE'", store
        )
        await conn.execute(
            "UPDATE stock_level SET reserved = 0 WHERE location_id = $1 AND reserved <> 0", store
        )
        await conn.execute("VACUUM ANALYZE stock_level, stock_reservation, stock_movement")


async def shelf_books(pool: asyncpg.Pool, world: dict[str, Any]) -> str | None:
    """None when every level of the store has `reserved` equal to its held reservations,
    and the ledger sums to its levels."""
    store = uuid.UUID(world["shelf"]["store"])
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
            WHERE l.location_id = $1 AND (l.reserved <> COALESCE(r.held, 0)
               OR l.on_hand <> COALESCE(m.on_hand, 0) OR l.reserved <> COALESCE(m.reserved, 0))
            """,
            store,
        )
    return f"{len(bad)} levels off, e.g. {dict(bad[0])}" if bad else None
