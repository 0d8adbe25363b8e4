"""Stock operations racing each other on a real database.

On PostgreSQL each racer is its own transaction on its own pooled connection (the runtime's
asyncpg pool, DB_POOL_SIZE 20), so they really overlap and the conditional UPDATEs, row
locks and SKIP LOCKED decide who wins; the tests check that they did overlap. SQLite
serialises writers: the same invariants must hold there.

After every race the books must balance: no level negative, each level's `reserved` is the
sum of its ACTIVE and AT_RISK reservations, and the ledger sums to every level.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, TypeVar
from uuid import UUID

from tortoise import connections

from domain.catalog.services import ProductDraft, VariantDraft, create_product
from domain.errors import InventoryError
from domain.events import ReservationExpired
from domain.identity.model import Principal, PrincipalKind, StaffRole
from domain.ids import new_id
from domain.inventory import reservations, stock
from domain.inventory.model import (
    HOLDING,
    InsufficientStock,
    MovementKind,
    Reservation,
    ReservationState,
    StaleQuantity,
    StockLine,
    TillLine,
)
from domain.inventory.stock import Adjustment, PosSaleResult
from domain.uow import UnitOfWork
from infra.db.models.inventory import MovementRow, ReservationRow, StockLevelRow
from infra.runtime import Runtime
from tests.support import MovableClock, is_postgres

T = TypeVar("T")

ADMIN = Principal(kind=PrincipalKind.STAFF, id=new_id(), role=StaffRole.ADMIN)
TTL = timedelta(minutes=15)


async def variants(runtime: Runtime, count: int, prefix: str = "RACE") -> list[UUID]:
    codes = [f"{prefix}-{i}" for i in range(count)]
    product = await create_product(
        runtime.catalog,
        ProductDraft(
            name="Race Rice", variants=[VariantDraft(code=c, name=c, price=500) for c in codes]
        ),
    )
    by_code = {v.code: v.id for v in await runtime.repos.catalog.variants_of([product.id])}
    return [by_code[c] for c in codes]


async def receive(runtime: Runtime, location_id: UUID, variant_id: UUID, units: int) -> None:
    await stock.adjust(
        runtime.inventory,
        ADMIN,
        Adjustment(location_id, variant_id, units, MovementKind.RECEIPT, "delivery"),
        None,
    )


async def outcome(action: Awaitable[T]) -> T | InventoryError:
    """The result, or the expected domain error; anything else (a deadlock...) propagates."""
    try:
        return await action
    except InventoryError as error:
        return error


async def race(*racers: Awaitable[T]) -> list[T]:
    """Run them all at once and wait for every one; then re-raise the first unexpected
    error (a deadlock, say), so no racer is left running into the next test."""
    failures: list[BaseException] = []

    async def run(racer: Awaitable[T]) -> T | None:
        try:
            return await racer
        except Exception as error:
            failures.append(error)
            return None

    results = await asyncio.gather(*(run(r) for r in racers))
    if failures:
        raise failures[0]
    return results  # type: ignore[return-value]


async def level_of(location_id: UUID, variant_id: UUID) -> StockLevelRow:
    return await StockLevelRow.get(location_id=location_id, variant_id=variant_id)


async def check_books(runtime: Runtime) -> None:
    levels = {(r.location_id, r.variant_id): r for r in await StockLevelRow.all()}
    holding: Counter[tuple[UUID, UUID]] = Counter()
    for r in await ReservationRow.filter(state__in=list(HOLDING)):
        holding[(r.location_id, r.variant_id)] += r.quantity
    ledger = await runtime.repos.inventory.ledger_sums()
    for key, level in levels.items():
        assert level.on_hand >= 0 and level.reserved >= 0, (key, level.on_hand, level.reserved)
        assert level.reserved == holding[key], (key, level.reserved, holding[key])
        assert ledger.get(key, (0, 0)) == (level.on_hand, level.reserved), (key, ledger.get(key))
    assert set(ledger) <= set(levels)
    assert set(holding) <= set(levels)


@asynccontextmanager
async def connections_in_use(runtime: Runtime) -> AsyncIterator[list[int]]:
    """On PostgreSQL, the most pooled connections busy at once while the block runs."""
    peak = [0]
    if not is_postgres(runtime.settings.database_url):
        yield peak
        return
    pool = connections.get("default")._pool  # type: ignore[attr-defined]
    done = asyncio.Event()

    async def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], pool.get_size() - pool.get_idle_size())
            await asyncio.sleep(0.001)

    watcher = asyncio.create_task(watch())
    try:
        yield peak
    finally:
        done.set()
        await watcher


def overlapped(runtime: Runtime, peak: list[int]) -> bool:
    """Racers overlap on PostgreSQL; SQLite has one connection and serialises them."""
    return peak[0] > 1 if is_postgres(runtime.settings.database_url) else True


async def test_200_single_unit_reservations_for_50_units(
    runtime: Runtime, stores: dict[str, Any]
) -> None:
    [variant] = await variants(runtime, 1)
    store = stores["SH-A"].id
    await receive(runtime, store, variant, 50)

    async with connections_in_use(runtime) as peak:
        results = await race(
            *(
                outcome(
                    reservations.reserve(
                        runtime.inventory, [StockLine(variant, 1)], store, f"cart-{i}", TTL
                    )
                )
                for i in range(200)
            )
        )
    assert overlapped(runtime, peak), peak

    won = [r for r in results if isinstance(r, list)]
    lost = [r for r in results if isinstance(r, InsufficientStock)]
    assert (len(won), len(lost)) == (50, 150), Counter(type(r).__name__ for r in results)
    assert all(len(r) == 1 and r[0].quantity == 1 for r in won)
    assert len({r[0].owner for r in won}) == 50
    level = await level_of(store, variant)
    assert (level.on_hand, level.reserved) == (50, 50)
    assert await ReservationRow.filter(state=ReservationState.ACTIVE).count() == 50
    assert await MovementRow.filter(kind=MovementKind.RESERVE).count() == 50
    await check_books(runtime)


async def test_multi_line_reservations_in_opposite_orders_do_not_deadlock(
    runtime: Runtime, stores: dict[str, Any]
) -> None:
    a, b = await variants(runtime, 2)
    store = stores["SH-A"].id
    await receive(runtime, store, a, 70)
    await receive(runtime, store, b, 80)

    def racer(i: int) -> Awaitable[list[Reservation] | InventoryError]:
        lines = [StockLine(a, 1), StockLine(b, 1)]
        return outcome(
            reservations.reserve(
                runtime.inventory, lines if i % 2 else lines[::-1], store, f"basket-{i}", TTL
            )
        )

    async with connections_in_use(runtime) as peak:
        results = await race(*(racer(i) for i in range(100)))  # deadlocks would raise
    assert overlapped(runtime, peak), peak

    won = [r for r in results if isinstance(r, list)]
    lost = [r for r in results if isinstance(r, InsufficientStock)]
    assert (len(won), len(lost)) == (70, 30)
    assert all({x.variant_id for x in r} == {a, b} for r in won)  # all or nothing
    level_a, level_b = await level_of(store, a), await level_of(store, b)
    assert (level_a.on_hand, level_a.reserved) == (70, 70)
    assert (level_b.on_hand, level_b.reserved) == (80, 70)
    await check_books(runtime)


async def test_till_sales_racing_reservations_keep_the_invariants(
    runtime: Runtime, stores: dict[str, Any]
) -> None:
    [variant] = await variants(runtime, 1)
    store = stores["SH-A"].id
    await receive(runtime, store, variant, 40)

    def reserve(i: int) -> Awaitable[list[Reservation] | InventoryError]:
        return outcome(
            reservations.reserve(
                runtime.inventory, [StockLine(variant, 1 + i % 2)], store, f"web-{i}", TTL
            )
        )

    def sell(i: int) -> Awaitable[PosSaleResult | InventoryError]:
        return outcome(
            stock.record_pos_sale(
                runtime.inventory, ADMIN, store, f"till-{i}", [TillLine(variant, 1 + i % 3, 0)]
            )
        )

    racers: list[Awaitable[Any]] = []
    for i in range(60):
        racers.append(reserve(i))
        if i % 2:
            racers.append(sell(i))
    async with connections_in_use(runtime) as peak:
        results = await race(*racers)
    assert overlapped(runtime, peak), peak

    sales = [r for r in results if isinstance(r, PosSaleResult)]
    held = [r for r in results if isinstance(r, list)]
    refused = [r for r in results if isinstance(r, InsufficientStock)]
    assert len(sales) == 30  # a till sale is never refused
    assert len(held) + len(refused) == 60
    taken = sum(t for s in sales for _, _, t in s.lines)
    sold = sum(q for s in sales for _, q, _ in s.lines)
    assert taken <= sold
    level = await level_of(store, variant)
    assert level.on_hand == 40 - taken
    assert level.reserved == sum(r[0].quantity for r in held)
    rows = await ReservationRow.filter(location_id=store, variant_id=variant)
    active = sum(r.quantity for r in rows if r.state is ReservationState.ACTIVE)
    assert active <= level.on_hand, "what is still ACTIVE must fit on the shelf"
    assert sum(s.at_risk for s in sales) == sum(
        1 for r in rows if r.state is ReservationState.AT_RISK
    )
    await check_books(runtime)


async def test_till_sales_racing_releases_commits_and_sweeps_keep_the_invariants(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any]
) -> None:
    """Sales that undercut reservations flag them AT_RISK while their owners release,
    commit or expire them: every sale goes through (no deadlock: everything takes the
    levels before the reservations), nothing is released twice. Three rounds."""
    store = stores["SH-A"].id
    for round_ in range(3):
        a, b = await variants(runtime, 2, f"ROUND{round_}")
        await receive(runtime, store, a, 50)
        await receive(runtime, store, b, 50)
        for i in range(45):
            lines = [StockLine(a, 1), StockLine(b, 1)] if i % 3 else [StockLine(b, 1)]
            ttl = timedelta(minutes=5) if i % 5 == 0 else timedelta(hours=1)
            await reservations.reserve(runtime.inventory, lines, store, f"pick-{round_}-{i}", ttl)
        clock.advance(timedelta(minutes=10))  # every fifth one has expired

        racers: list[Awaitable[Any]] = []
        for i in range(45):
            owner = f"pick-{round_}-{i}"
            if i % 5 == 0:
                racers.append(reservations.sweep_expired(runtime.inventory, batch=3))
            elif i % 2:
                racers.append(outcome(reservations.commit(runtime.inventory, owner)))
            else:
                racers.append(reservations.release(runtime.inventory, owner))
            if i % 2 == 0:  # soon below what is reserved: the sales put reservations at risk
                till = [TillLine(b, 2, 0), TillLine(a, 2, 0)]
                tx = f"till-{round_}-{i}"
                racers.append(stock.record_pos_sale(runtime.inventory, ADMIN, store, tx, till))
        async with connections_in_use(runtime) as peak:
            results = await race(*racers)  # a deadlock or a refused till sale would raise
        assert overlapped(runtime, peak), peak

        await check_books(runtime)
        while await reservations.sweep_expired(runtime.inventory):  # what a busy level left
            pass

        sales = [r for r in results if isinstance(r, PosSaleResult)]
        assert len(sales) == 23
        rows = await ReservationRow.filter(variant_id__in=[a, b])
        for variant in (a, b):
            level = await level_of(store, variant)
            taken = sum(t for s in sales for v, _, t in s.lines if v == variant)
            committed = sum(
                r.quantity
                for r in rows
                if r.variant_id == variant and r.state is ReservationState.COMMITTED
            )
            assert level.on_hand == 50 - taken - committed
        expired = {r.owner for r in rows if r.state is ReservationState.EXPIRED}
        assert expired == {f"pick-{round_}-{i}" for i in range(0, 45, 5)}
        for r in rows:  # released, committed (or refused: a sale took the goods), or expired
            number = int(r.owner.rsplit("-", 1)[1])
            if number % 5 == 0:
                assert r.state is ReservationState.EXPIRED, (r.owner, r.state)
            elif number % 2 == 0:
                assert r.state is ReservationState.RELEASED, (r.owner, r.state)
            else:
                assert r.state in (ReservationState.COMMITTED, *HOLDING), (r.owner, r.state)
        await check_books(runtime)


async def test_two_sweepers_release_each_expired_reservation_once(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any]
) -> None:
    """Two sweepers in batches of 7 over reservations alternating between two levels, so
    one starts at level a and the other at b (taking the levels in claim order would
    deadlock). Three rounds."""
    store = stores["SH-A"].id
    told: list[ReservationExpired] = []

    async def linger(uow: UnitOfWork, event: ReservationExpired) -> None:
        told.append(event)
        await asyncio.sleep(0.01)  # hold the sweeper's locks a little while

    async def sweeper() -> int:
        """Sweep in small batches until nothing is due (a level the other sweeper holds
        is left for a later pass)."""
        total = 0
        while await ReservationRow.filter(
            state__in=list(HOLDING), expires_at__lte=clock.now()
        ).exists():
            total += await reservations.sweep_expired(runtime.inventory, batch=7)
        return total

    for round_ in range(3):
        a, b = await variants(runtime, 2, f"SWEEP{round_}")
        await receive(runtime, store, a, 100)
        await receive(runtime, store, b, 100)
        owners: dict[str, set[UUID]] = {}
        for i in range(40):  # a, b, a, b... then ten owners with a line at each
            lines = [StockLine(a, 1 + i % 3), StockLine(b, 2)] if i >= 30 else []
            lines = lines or [StockLine(b if i % 2 else a, 1 + i % 3)]
            made = await reservations.reserve(
                runtime.inventory, lines, store, f"late-{round_}-{i}", timedelta(minutes=5)
            )
            owners[f"late-{round_}-{i}"] = {r.id for r in made}
        await reservations.reserve(  # one that has not expired yet
            runtime.inventory, [StockLine(a, 1)], store, f"paying-{round_}", timedelta(hours=1)
        )
        clock.advance(timedelta(minutes=10))

        told.clear()
        runtime.events.register(ReservationExpired, linger)
        try:
            async with connections_in_use(runtime) as peak:
                counts = await race(sweeper(), sweeper())
        finally:
            runtime.events.unregister(ReservationExpired, linger)
        assert overlapped(runtime, peak), peak

        expired = set().union(*owners.values())
        assert sum(counts) == len(expired) == 50
        rows = {r.id: r for r in await ReservationRow.filter(variant_id__in=[a, b])}
        assert {i for i, r in rows.items() if r.state is ReservationState.EXPIRED} == expired
        assert [r.owner for r in rows.values() if r.state is ReservationState.ACTIVE] == [
            f"paying-{round_}"
        ]
        level_a, level_b = await level_of(store, a), await level_of(store, b)
        assert (level_a.reserved, level_b.reserved) == (1, 0)

        releases = await MovementRow.filter(kind=MovementKind.RELEASE, variant_id__in=[a, b])
        assert len(releases) == len(expired)  # one RELEASE per reservation, never two
        assert all(m.reason == "expired" for m in releases)
        assert Counter(m.reference for m in releases) == {o: len(x) for o, x in owners.items()}

        reported = [i for event in told for i in event.reservation_ids]
        assert sorted(reported) == sorted(expired)  # each reservation reported exactly once
        for event in told:
            assert set(event.reservation_ids) <= owners[event.owner]
        per_owner = Counter(event.owner for event in told)
        assert set(per_owner) == set(owners)
        for owner, ids in owners.items():  # once per owner (twice if the sweepers split it)
            assert per_owner[owner] <= len(ids), (owner, per_owner[owner])
        await check_books(runtime)


async def test_concurrent_adjustments_with_one_idempotency_key_apply_once(
    runtime: Runtime, stores: dict[str, Any]
) -> None:
    [variant] = await variants(runtime, 1)
    store = stores["SH-A"].id
    await receive(runtime, store, variant, 10)

    change = Adjustment(store, variant, 5, MovementKind.RECEIPT, "delivery", "DN-1")
    async with connections_in_use(runtime) as peak:
        results = await race(
            *(stock.adjust(runtime.inventory, ADMIN, change, "delivery-DN-1") for _ in range(20))
        )
    assert overlapped(runtime, peak), peak

    assert all(r == results[0] for r in results)  # every retry reports the first outcome
    level = await level_of(store, variant)
    assert level.on_hand == 15
    receipts = await MovementRow.filter(kind=MovementKind.RECEIPT, variant_id=variant)
    assert sorted(m.on_hand_delta for m in receipts) == [5, 10]
    await check_books(runtime)


async def test_concurrent_counts_from_one_reading_set_once(
    runtime: Runtime, stores: dict[str, Any]
) -> None:
    [variant] = await variants(runtime, 1)
    store = stores["SH-A"].id
    await receive(runtime, store, variant, 10)

    async with connections_in_use(runtime) as peak:  # twenty clerks counted 10 on the shelf
        results = await race(
            *(
                outcome(
                    stock.set_on_hand(runtime.inventory, ADMIN, store, variant, 11 + i, 10, None)
                )
                for i in range(20)
            )
        )
    assert overlapped(runtime, peak), peak

    won = [i for i, r in enumerate(results) if isinstance(r, dict)]
    stale = [r for r in results if isinstance(r, StaleQuantity)]
    assert len(won) == 1 and len(stale) == 19
    level = await level_of(store, variant)
    assert level.on_hand == 11 + won[0]
    assert all(r.current_on_hand == level.on_hand for r in stale)
    await check_books(runtime)


async def test_bulk_syncs_in_opposite_row_orders_do_not_deadlock_and_flag_shortfalls(
    runtime: Runtime, stores: dict[str, Any]
) -> None:
    codes = [f"SYNC-{i}" for i in range(6)]
    ids = await variants(runtime, len(codes), prefix="SYNC")
    store = stores["SH-A"]
    for variant in ids:
        await receive(runtime, store.id, variant, 10)
    [held] = await reservations.reserve(
        runtime.inventory, [StockLine(ids[0], 4)], store.id, "order-held", TTL
    )

    def sync(i: int) -> Awaitable[list[stock.BulkOutcome]]:
        # Every sync counts 2 of the first SKU (below the 4 reserved) and i of the rest.
        rows = [
            stock.BulkRow(store.code, code, 2 if n == 0 else 20 + i) for n, code in enumerate(codes)
        ]
        return stock.bulk_set(runtime.inventory, ADMIN, rows if i % 2 else rows[::-1])

    async with connections_in_use(runtime) as peak:
        results = await race(*(sync(i) for i in range(8)))  # a deadlock would raise
    assert overlapped(runtime, peak), peak

    for outcomes in results:
        assert [o.index for o in outcomes] == list(range(len(codes)))  # reported in input order
        assert all(o.status in ("SET", "UNCHANGED") for o in outcomes)
    first = await level_of(store.id, ids[0])
    assert (first.on_hand, first.reserved) == (2, 4)
    row = await ReservationRow.get(id=held.id)
    assert row.state is ReservationState.AT_RISK  # the sync undercut the order's reservation
    await check_books(runtime)
