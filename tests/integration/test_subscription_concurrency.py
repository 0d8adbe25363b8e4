"""Renewal workers racing each other and members on a real database.

On PostgreSQL every worker runs its transactions on its own pooled connection, so they really
overlap: the subscription row lock (FOR UPDATE), the unique (subscription, number) of cycles,
the order row lock and the idempotency key of the charge decide who does what. SQLite
serialises writers; the same invariants must hold there.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date, timedelta
from typing import Any

from domain.errors import SubscriptionError
from domain.identity.model import Principal
from domain.ordering.model import OrderStatus
from domain.subscriptions import renewals, services
from domain.subscriptions.model import CycleStatus, SubscriptionStatus
from infra.db.models.orders import OrderPaymentRow, OrderRow
from infra.db.models.subscriptions import CycleRow
from infra.runtime import Runtime
from tests.support import MovableClock
from tests.support.renewals import (
    QUANTITY,
    Shop,
    a_member,
    a_plan,
    agreement,
    charges,
    current,
    cycles,
    history,
    level,
    open_shop,
    orders_of,
    renew,
    subscribe,
)

WORKERS = 5
SUBSCRIPTIONS = 20
FIRST = date(2027, 4, 16)
STAGGER = 0.01  # seconds between the members' pauses


async def subscribers(shop: Shop, count: int, prefix: str) -> list[tuple[Principal, Any]]:
    plan = await a_plan(shop)
    made = []
    for n in range(count):
        member = await a_member(shop.runtime, f"{prefix}-{n}")
        made.append((member, await subscribe(shop, member, plan, FIRST)))
    return made


async def workers(shop: Shop, count: int = WORKERS) -> list[dict[str, int]]:
    return list(await asyncio.gather(*(renewals.renew_due(shop.deps) for _ in range(count))))


async def assert_one_cycle_row_per_number() -> None:
    rows = await CycleRow.all().values_list("subscription_id", "number")
    assert len(set(rows)) == len(rows)


async def test_concurrent_workers_order_each_cycle_exactly_once(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any]
) -> None:
    clock.put(FIRST - timedelta(days=3))
    shop = await open_shop(runtime, clock, stores, stock=SUBSCRIPTIONS * QUANTITY * 3)
    subs = await subscribers(shop, SUBSCRIPTIONS, "racer")

    clock.advance(timedelta(days=1))  # every subscription is now due
    await workers(shop)
    await workers(shop)  # a second wave finds nothing more to do

    assert await OrderRow.all().count() == SUBSCRIPTIONS
    assert await CycleRow.all().count() == SUBSCRIPTIONS
    await assert_one_cycle_row_per_number()
    assert await CycleRow.all().count() == SUBSCRIPTIONS
    payments = await OrderPaymentRow.filter(method="AGREEMENT").values_list("order_id", flat=True)
    assert len(payments) == SUBSCRIPTIONS
    assert len(set(payments)) == SUBSCRIPTIONS  # one payment per order
    for member, sub in subs:
        [cycle] = await cycles(shop, sub.id)
        assert (cycle.number, cycle.scheduled_date, cycle.status) == (
            1,
            FIRST,
            CycleStatus.PAID,
        )
        [placed] = await orders_of(shop, member.id)
        assert placed.id == cycle.order_id and placed.status is OrderStatus.PAID
        assert charges(shop, sub.id) == {f"subscription:{sub.id}:1"}
        after = await current(shop, sub.id)
        assert (after.status, after.next_date, after.sequence) == (
            SubscriptionStatus.ACTIVE,
            FIRST + timedelta(weeks=1),
            1,
        )
        assert await history(shop, sub.id) == ["CREATED", "ORDERED", "PAID"]
    assert await level(shop) == (SUBSCRIPTIONS * QUANTITY * 3, SUBSCRIPTIONS * QUANTITY)

    # a week later the racers meet again: one more order each, for the next date
    clock.advance(timedelta(weeks=1))
    await workers(shop)
    assert await OrderRow.all().count() == 2 * SUBSCRIPTIONS
    await assert_one_cycle_row_per_number()
    for _, sub in subs:
        assert [(c.number, c.scheduled_date) for c in await cycles(shop, sub.id)] == [
            (1, FIRST),
            (2, FIRST + timedelta(weeks=1)),
        ]


async def test_concurrent_retries_charge_a_past_due_cycle_once(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any]
) -> None:
    clock.put(FIRST - timedelta(days=2))
    shop = await open_shop(runtime, clock, stores)
    cards = [agreement() for _ in range(10)]
    plan = await a_plan(shop)
    subs = []
    for n, card in enumerate(cards):
        member = await a_member(runtime, f"retry-{n}")
        subs.append(await subscribe(shop, member, plan, FIRST, agreement_ref=card))
        runtime.agreements.decline(card, 1)
    await workers(shop)
    assert {(await current(shop, s.id)).status for s in subs} == {SubscriptionStatus.PAST_DUE}
    assert all(charges(shop, s.id) == set() for s in subs)

    clock.advance(timedelta(hours=1, minutes=1))
    await workers(shop)
    await workers(shop)

    assert await OrderRow.all().count() == len(subs)
    for sub in subs:
        [cycle] = await cycles(shop, sub.id)
        assert (cycle.status, cycle.attempts) == (CycleStatus.PAID, 2)
        assert charges(shop, sub.id) == {f"subscription:{sub.id}:1"}
        assert (await current(shop, sub.id)).status is SubscriptionStatus.ACTIVE
    payments = await OrderPaymentRow.filter(method="AGREEMENT").count()
    assert payments == len(subs)


async def test_nothing_is_charged_once_a_pause_is_recorded(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any]
) -> None:
    clock.put(FIRST - timedelta(days=3))
    shop = await open_shop(runtime, clock, stores, stock=SUBSCRIPTIONS * QUANTITY)
    subs = await subscribers(shop, SUBSCRIPTIONS, "pause-racer")
    clock.advance(timedelta(days=1))

    async def pause(member: Principal, sub_id: Any, n: int) -> None:
        # Workers take subscriptions oldest first; pauses come newest first, spread over the
        # workers' run: some land before the renewal, some between order and charge, some after.
        await asyncio.sleep((SUBSCRIPTIONS - n) * STAGGER)
        await services.pause(shop.deps, member, sub_id, None)

    await asyncio.gather(
        *(renewals.renew_due(shop.deps) for _ in range(3)),
        *(pause(member, sub.id, n) for n, (member, sub) in enumerate(subs)),
    )
    clock.advance(timedelta(days=1))
    await workers(shop)  # later runs do nothing for paused subscriptions

    outcomes: Counter[str] = Counter()
    held = 0
    for member, sub in subs:
        assert (await current(shop, sub.id)).status is SubscriptionStatus.PAUSED
        changes = await history(shop, sub.id)
        charged = charges(shop, sub.id)
        found = await cycles(shop, sub.id)
        placed = await orders_of(shop, member.id)
        if "PAID" in changes:
            # charged before the pause took the row: the delivery stands
            assert changes.index("PAID") < changes.index("PAUSED")
            assert charged == {f"subscription:{sub.id}:1"}
            assert [c.status for c in found] == [CycleStatus.PAID]
            assert [o.status for o in placed] == [OrderStatus.PAID]
            held += QUANTITY
            outcomes["charged first"] += 1
        else:
            # paused first: never charged, and an order made meanwhile is undone
            assert charged == set()
            assert [c.status for c in found] in ([], [CycleStatus.SKIPPED])
            assert all(o.status is OrderStatus.CANCELLED for o in placed)
            outcomes["ordered, then paused" if placed else "paused first"] += 1
        assert changes.count("PAUSED") == 1
    assert sum(outcomes.values()) == SUBSCRIPTIONS
    assert await level(shop) == (SUBSCRIPTIONS * QUANTITY, held)
    await assert_one_cycle_row_per_number()
    paid_orders = await OrderRow.filter(status=OrderStatus.PAID).values_list("id", flat=True)
    agreement_payments = await OrderPaymentRow.filter(method="AGREEMENT").values_list(
        "order_id", flat=True
    )
    assert sorted(map(str, agreement_payments)) == sorted(map(str, paid_orders))


async def test_a_pause_between_ordering_and_charging_cancels_that_order(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any]
) -> None:
    """The interleaving the race above may or may not hit, forced: the worker has placed the
    cycle's order (its first transaction) when the member's pause commits."""
    clock.put(FIRST - timedelta(days=2))
    shop = await open_shop(runtime, clock, stores, stock=10)
    [(member, sub)] = await subscribers(shop, 1, "between")

    cycle = await renewals._order_cycle(shop.deps, await current(shop, sub.id))
    assert cycle is not None and cycle.status is CycleStatus.ORDERED
    assert await level(shop) == (10, QUANTITY)
    await services.pause(shop.deps, member, sub.id, None)
    assert await renewals._charge(shop.deps, sub.id, cycle) == "skipped"

    assert charges(shop, sub.id) == set()
    [dropped] = await cycles(shop, sub.id)
    assert dropped.status is CycleStatus.SKIPPED
    [cancelled] = await orders_of(shop, member.id)
    assert cancelled.status is OrderStatus.CANCELLED
    assert await level(shop) == (10, 0)
    assert await OrderPaymentRow.all().count() == 0

    # resumed before the delivery date: that delivery is ordered and paid after all
    resumed = await services.resume(shop.deps, member, sub.id)
    assert resumed.next_date == FIRST and clock.today() < FIRST
    await renew(shop)
    found = await cycles(shop, sub.id)
    assert [(c.scheduled_date, c.status) for c in found] == [
        (FIRST, CycleStatus.SKIPPED),
        (FIRST, CycleStatus.PAID),
    ]
    assert len(charges(shop, sub.id)) == 1
    assert await level(shop) == (10, QUANTITY)


async def test_member_changes_racing_a_renewal_leave_one_consistent_schedule(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any]
) -> None:
    """Skips racing the renewal workers: a delivery is either skipped (no order) or ordered
    and paid, never both, and the schedule advances once per delivery."""
    clock.put(FIRST - timedelta(days=3))
    shop = await open_shop(runtime, clock, stores, stock=SUBSCRIPTIONS * QUANTITY)
    subs = await subscribers(shop, SUBSCRIPTIONS, "skip-racer")
    clock.advance(timedelta(days=1))

    async def skip(member: Principal, sub_id: Any) -> str:
        await asyncio.sleep(0)
        try:
            await services.skip_next(shop.deps, member, sub_id)
        except SubscriptionError as refused:
            return refused.code.value
        return "skipped"

    results = await asyncio.gather(
        *(renewals.renew_due(shop.deps) for _ in range(3)),
        *(skip(member, sub.id) for member, sub in subs),
    )
    skips = results[3:]
    assert set(skips) <= {"skipped", "ILLEGAL_STATE"}
    await workers(shop)
    await assert_one_cycle_row_per_number()
    for (member, sub), outcome in zip(subs, skips, strict=True):
        found = await cycles(shop, sub.id)
        first = found[0]
        assert first.scheduled_date == FIRST
        placed = await orders_of(shop, member.id)
        after = await current(shop, sub.id)
        # nothing is ordered ahead of the lead time, whoever came first
        horizon = clock.today() + timedelta(days=2)
        assert all(c.scheduled_date <= horizon for c in found if c.order_id), found
        if first.status is CycleStatus.SKIPPED:
            assert first.order_id is None
            assert outcome == "skipped"
            assert charges(shop, sub.id) == set() and placed == []
        else:
            assert first.status is CycleStatus.PAID
            assert placed[0].id == first.order_id
            assert f"subscription:{sub.id}:1" in charges(shop, sub.id)
        # either way the schedule moved exactly one delivery per processed cycle
        assert after.next_date == FIRST + timedelta(weeks=after.cycles_done)
        assert after.sequence == len(found)
        assert all(o.status is OrderStatus.PAID for o in placed)
