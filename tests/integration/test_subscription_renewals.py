"""The renewal engine on the real database with the clock moved by the test, day by day: what
gets ordered when, at which price, how often, and what members are told.

The clock is put on a fixed store-local moment (10:00 in Shanghai) so dates never depend on
when the suite runs; `renew_due` is run twice after every step, as two workers would.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest

from domain.errors import SubscriptionError, SubscriptionErrorCode
from domain.identity.model import Principal, PrincipalKind, StaffRole
from domain.ids import new_id
from domain.members.merge import merge_members
from domain.members.model import Channel, ConsentPurpose
from domain.members.privacy import (
    ConsentChange,
    delete_account,
    export_member_data,
    update_consents,
)
from domain.ordering.lifecycle import (
    cancel_order,
    complete_pickup,
    mark_ready,
    start_preparing,
)
from domain.ordering.model import OrderStatus, PaymentKind, PaymentStatus
from domain.ordering.payments import handle_notification, pay_order
from domain.pagination import PageRequest
from domain.subscriptions import renewals, services
from domain.subscriptions.model import (
    CycleStatus,
    Subscription,
    SubscriptionStatus,
)
from infra.payments import SIGNATURE_HEADER, sign_body
from infra.runtime import Runtime
from tests.support import MovableClock, local_date
from tests.support.renewals import (
    ADDRESS,
    CS,
    LOCKED,
    MONTHLY,
    PRICE,
    QUANTITY,
    Shop,
    a_member,
    a_plan,
    agreement,
    agreement_payments,
    charges,
    current,
    cycles,
    day_by_day,
    history,
    level,
    messages,
    open_shop,
    order,
    orders_of,
    production_sweeps,
    receive,
    renew,
    subscribe,
)

E = SubscriptionErrorCode
A = SubscriptionStatus


# --------------------------------------------------------------------------- the schedule


async def test_a_year_of_weekly_renewals_orders_each_delivery_once(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any]
) -> None:
    first = date(2027, 1, 29)  # a Friday
    clock.put(first - timedelta(days=5))
    shop = await open_shop(runtime, clock, stores)
    member = await a_member(runtime, "year")
    sub = await subscribe(shop, member, await a_plan(shop), first)
    assert [x.unit_price for x in sub.lines] == [LOCKED]

    await day_by_day(shop, first + timedelta(days=358))  # past the 52nd order, not the 53rd

    expected = [first + timedelta(weeks=n) for n in range(52)]
    assert expected[:6] == [
        date(2027, 1, 29),
        date(2027, 2, 5),
        date(2027, 2, 12),
        date(2027, 2, 19),
        date(2027, 2, 26),
        date(2027, 3, 5),
    ]
    assert date(2027, 4, 30) in expected and date(2027, 12, 31) in expected
    assert expected[-1] == date(2028, 1, 21)
    found = await cycles(shop, sub.id)
    assert [c.number for c in found] == list(range(1, 53))
    assert [c.scheduled_date for c in found] == expected
    assert {c.status for c in found} == {CycleStatus.PAID}
    assert {c.attempts for c in found} == {1}

    orders = await orders_of(shop, member.id)
    assert len(orders) == 52
    assert [o.id for o in orders] == [c.order_id for c in found]
    for cycle, placed in zip(found, orders, strict=True):
        assert placed.status is OrderStatus.PAID
        assert placed.location_id == shop.store
        assert [(x.unit_price, x.quantity) for x in placed.lines] == [(LOCKED, QUANTITY)]
        assert placed.amount_due == LOCKED * QUANTITY
        assert cycle.scheduled_date.isoformat() in placed.note
        # ordered two days ahead of the delivery, in store-local days
        assert local_date(placed.created_at) == cycle.scheduled_date - timedelta(days=2)
    assert charges(shop, sub.id) == {f"subscription:{sub.id}:{n}" for n in range(1, 53)}
    paid = await agreement_payments(shop, [o.id for o in orders])
    assert len(paid) == 52
    assert {(p.kind, p.status, p.amount) for p in paid} == {
        (PaymentKind.PAYMENT, PaymentStatus.SUCCEEDED, LOCKED * QUANTITY)
    }
    assert len({p.provider_ref for p in paid}) == 52

    after = await current(shop, sub.id)
    assert after.status is A.ACTIVE
    assert after.next_date == first + timedelta(weeks=52)
    assert (after.cycles_done, after.sequence) == (52, 52)
    assert await history(shop, sub.id) == ["CREATED"] + ["ORDERED", "PAID"] * 52
    assert await level(shop) == (500, 52 * QUANTITY)  # reserved for pickup, not yet taken


@pytest.mark.parametrize(
    ("year", "february"), [(2027, date(2027, 2, 28)), (2028, date(2028, 2, 29))]
)
async def test_a_monthly_plan_anchored_on_the_31st_keeps_to_month_ends(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any], year: int, february: date
) -> None:
    first = date(year, 1, 31)
    clock.put(date(year, 1, 25))
    shop = await open_shop(runtime, clock, stores)
    member = await a_member(runtime, f"monthly-{year}")
    sub = await subscribe(shop, member, await a_plan(shop, MONTHLY), first)
    assert services.upcoming(sub) == [first, february, date(year, 3, 31), date(year, 4, 30)]

    await day_by_day(shop, date(year, 5, 20), runs=1)

    found = await cycles(shop, sub.id)
    assert [c.scheduled_date for c in found] == [
        first,
        february,
        date(year, 3, 31),
        date(year, 4, 30),
    ]
    assert {c.status for c in found} == {CycleStatus.PAID}
    orders = await orders_of(shop, member.id)
    assert [local_date(o.created_at) for o in orders] == [
        first - timedelta(days=2),
        february - timedelta(days=2),
        date(year, 3, 29),
        date(year, 4, 28),
    ]
    after = await current(shop, sub.id)
    assert after.next_date == date(year, 5, 31)
    assert after.anchor_date == first  # never re-anchored on a short month


# --------------------------------------------------------------------------- member changes


async def test_skipping_the_next_delivery_orders_nothing_for_it(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any]
) -> None:
    first = date(2027, 3, 26)
    clock.put(first - timedelta(days=5))
    shop = await open_shop(runtime, clock, stores)
    member = await a_member(runtime, "skipper")
    sub = await subscribe(shop, member, await a_plan(shop), first)

    skipped = await services.skip_next(shop.deps, member, sub.id)
    assert skipped.next_date == first + timedelta(weeks=1)
    assert services.upcoming(skipped)[:2] == [
        first + timedelta(weeks=1),
        first + timedelta(weeks=2),
    ]

    await day_by_day(shop, first + timedelta(days=6))

    found = await cycles(shop, sub.id)
    assert [(c.number, c.scheduled_date, c.status) for c in found] == [
        (1, first, CycleStatus.SKIPPED),  # the member's skip is a cycle of its own, no order
        (2, first + timedelta(weeks=1), CycleStatus.PAID),
    ]
    assert found[0].order_id is None and found[1].order_id is not None
    orders = await orders_of(shop, member.id)
    assert len(orders) == 1
    assert local_date(orders[0].created_at) == first + timedelta(days=5)
    assert charges(shop, sub.id) == {f"subscription:{sub.id}:2"}
    assert await history(shop, sub.id) == ["CREATED", "SKIPPED", "ORDERED", "PAID"]
    assert (await current(shop, sub.id)).next_date == first + timedelta(weeks=2)


async def test_nothing_is_ordered_or_charged_while_paused_and_resuming_rolls_forward(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any]
) -> None:
    first = date(2027, 6, 25)
    clock.put(first - timedelta(days=5))
    shop = await open_shop(runtime, clock, stores)
    member = await a_member(runtime, "pauser")
    sub = await subscribe(shop, member, await a_plan(shop), first)

    paused = await services.pause(shop.deps, member, sub.id, None)
    assert (paused.status, paused.paused_until) == (A.PAUSED, None)
    assert services.upcoming(paused) == []

    # two scheduled deliveries come and go while paused: each was due, none is ordered
    await day_by_day(shop, first + timedelta(days=9), reminders=True)
    assert await cycles(shop, sub.id) == []
    assert await orders_of(shop, member.id) == []
    assert charges(shop, sub.id) == set()
    assert await messages(shop, member.id, "SUBSCRIPTION_REMINDER") == []

    resumed = await services.resume(shop.deps, member, sub.id)
    assert resumed.status is A.ACTIVE
    assert resumed.next_date == first + timedelta(weeks=2)  # the first scheduled date after today
    assert resumed.next_date > clock.today()

    await day_by_day(shop, first + timedelta(days=13))
    found = await cycles(shop, sub.id)
    assert [(c.scheduled_date, c.status) for c in found] == [
        (first + timedelta(weeks=2), CycleStatus.PAID)
    ]
    [placed] = await orders_of(shop, member.id)
    assert local_date(placed.created_at) == first + timedelta(days=12)
    assert len(charges(shop, sub.id)) == 1
    assert await history(shop, sub.id) == ["CREATED", "PAUSED", "RESUMED", "ORDERED", "PAID"]


async def test_a_pause_inside_the_lead_time_stops_the_order_that_was_due(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any]
) -> None:
    first = date(2027, 6, 25)
    clock.put(first - timedelta(days=1))  # already inside the two-day lead time
    shop = await open_shop(runtime, clock, stores)
    member = await a_member(runtime, "late-pauser")
    sub = await subscribe(shop, member, await a_plan(shop), first)
    until = first + timedelta(days=10)
    paused = await services.pause(shop.deps, member, sub.id, until)
    assert (paused.status, paused.paused_until) == (A.PAUSED, until)

    await renew(shop)
    clock.advance(timedelta(hours=6))
    await renew(shop)
    assert await cycles(shop, sub.id) == []
    assert await orders_of(shop, member.id) == []
    assert charges(shop, sub.id) == set()


async def test_a_past_due_subscription_paused_and_resumed_renews_again(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any]
) -> None:
    """The member's card bounces, they pause, fix the card and resume before the delivery."""
    first = date(2027, 6, 25)
    clock.put(first - timedelta(days=3))
    shop = await open_shop(runtime, clock, stores)
    member = await a_member(runtime, "past-due-pauser")
    card = agreement()
    sub = await subscribe(shop, member, await a_plan(shop), first, agreement_ref=card)
    runtime.agreements.decline(card)

    await day_by_day(shop, first - timedelta(days=2))
    assert (await current(shop, sub.id)).status is A.PAST_DUE
    await services.pause(shop.deps, member, sub.id, None)
    clock.advance(timedelta(hours=2))  # the retry is due, but the member paused
    await renew(shop)
    assert charges(shop, sub.id) == set()
    assert (await current(shop, sub.id)).status is A.PAUSED

    runtime.agreements.recover(card)
    resumed = await services.resume(shop.deps, member, sub.id)
    assert (resumed.status, resumed.next_date) == (A.ACTIVE, first)
    await renew(shop)
    await day_by_day(shop, first + timedelta(days=6))

    found = await cycles(shop, sub.id)
    paid = [c for c in found if c.status is CycleStatus.PAID]
    assert [c.scheduled_date for c in paid] == [first, first + timedelta(weeks=1)]
    assert all(c.status is not CycleStatus.ORDERED for c in found), found
    orders = await orders_of(shop, member.id)
    assert [o.status for o in orders if o.status is not OrderStatus.CANCELLED] == [
        OrderStatus.PAID,
        OrderStatus.PAID,
    ]
    assert len(charges(shop, sub.id)) == 2
    assert (await current(shop, sub.id)).status is A.ACTIVE


@pytest.mark.parametrize("offset", [3, -2])
async def test_a_rescheduled_delivery_is_ordered_relative_to_the_new_date(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any], offset: int
) -> None:
    first = date(2027, 9, 24)
    clock.put(first - timedelta(days=6))
    shop = await open_shop(runtime, clock, stores)
    member = await a_member(runtime, f"mover{offset}")
    sub = await subscribe(shop, member, await a_plan(shop), first)
    moved_to = first + timedelta(days=offset)

    moved = await services.reschedule_next(shop.deps, member, sub.id, moved_to)
    assert moved.next_date == moved_to
    assert services.upcoming(moved)[:2] == [moved_to, first + timedelta(weeks=1)]

    await day_by_day(shop, moved_to - timedelta(days=3))
    assert await orders_of(shop, member.id) == []  # not yet: two days ahead of the new date
    await day_by_day(shop, moved_to - timedelta(days=2))
    [placed] = await orders_of(shop, member.id)
    assert moved_to.isoformat() in placed.note
    [cycle] = await cycles(shop, sub.id)
    assert (cycle.scheduled_date, cycle.status) == (moved_to, CycleStatus.PAID)
    # the schedule itself did not move
    assert (await current(shop, sub.id)).next_date == first + timedelta(weeks=1)
    await day_by_day(shop, first + timedelta(days=5))
    assert [c.scheduled_date for c in await cycles(shop, sub.id)] == [
        moved_to,
        first + timedelta(weeks=1),
    ]
    assert await history(shop, sub.id) == [
        "CREATED",
        "RESCHEDULED",
        "ORDERED",
        "PAID",
        "ORDERED",
        "PAID",
    ]


async def test_reschedules_outside_the_window_or_into_the_past_are_refused(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any]
) -> None:
    first = date(2027, 9, 24)
    clock.put(first - timedelta(days=2))
    shop = await open_shop(runtime, clock, stores, stock=0)
    member = await a_member(runtime, "bad-mover")
    sub = await subscribe(shop, member, await a_plan(shop), first)
    for bad, code in (
        (first + timedelta(days=4), E.OUTSIDE_WINDOW),
        (first - timedelta(days=4), E.INVALID_DATE),  # outside the window and in the past
        (first + timedelta(days=30), E.OUTSIDE_WINDOW),
        (first - timedelta(days=2), E.INVALID_DATE),  # today
        (first - timedelta(days=3), E.INVALID_DATE),  # yesterday
    ):
        with pytest.raises(SubscriptionError) as refused:
            await services.reschedule_next(shop.deps, member, sub.id, bad)
        assert (refused.value.code, refused.value.field) == (code, ["date"]), bad
    # the edges of the window are fine
    assert await services.reschedule_next(shop.deps, member, sub.id, first + timedelta(days=3))
    again = await services.reschedule_next(shop.deps, member, sub.id, first - timedelta(days=1))
    assert again.next_date == first - timedelta(days=1)
    # the window is around the scheduled date, not the moved one
    with pytest.raises(SubscriptionError) as refused:
        await services.reschedule_next(shop.deps, member, sub.id, first + timedelta(days=4))
    assert refused.value.code is E.OUTSIDE_WINDOW
    assert await history(shop, sub.id) == ["CREATED", "RESCHEDULED", "RESCHEDULED"]


async def test_a_cancelled_subscription_never_renews(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any]
) -> None:
    first = date(2027, 5, 7)
    clock.put(first - timedelta(days=5))
    shop = await open_shop(runtime, clock, stores)
    member = await a_member(runtime, "leaver")
    sub = await subscribe(shop, member, await a_plan(shop), first)
    cancelled = await services.cancel(shop.deps, member, sub.id, "moving abroad")
    assert (cancelled.status, cancelled.cancel_reason) == (A.CANCELLED, "moving abroad")

    await day_by_day(shop, first + timedelta(days=30), reminders=True)
    assert await cycles(shop, sub.id) == []
    assert await orders_of(shop, member.id) == []
    assert charges(shop, sub.id) == set()
    assert await messages(shop, member.id, "SUBSCRIPTION_REMINDER") == []
    for change in (
        services.resume(shop.deps, member, sub.id),
        services.skip_next(shop.deps, member, sub.id),
        services.pause(shop.deps, member, sub.id, None),
        services.cancel(shop.deps, member, sub.id, "again"),
    ):
        with pytest.raises(SubscriptionError) as refused:
            await change
        assert refused.value.code is E.ILLEGAL_STATE
    assert (await current(shop, sub.id)).status is A.CANCELLED
    assert await history(shop, sub.id) == ["CREATED", "CANCELLED"]


async def test_cancelling_after_the_order_is_paid_keeps_that_delivery_and_stops_the_rest(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any]
) -> None:
    first = date(2027, 5, 7)
    clock.put(first - timedelta(days=3))
    shop = await open_shop(runtime, clock, stores)
    member = await a_member(runtime, "late-leaver")
    sub = await subscribe(shop, member, await a_plan(shop), first)
    await day_by_day(shop, first - timedelta(days=2))
    assert len(charges(shop, sub.id)) == 1
    await services.cancel(shop.deps, member, sub.id, "too much fruit")
    await day_by_day(shop, first + timedelta(days=21))
    assert [c.status for c in await cycles(shop, sub.id)] == [CycleStatus.PAID]
    assert [o.status for o in await orders_of(shop, member.id)] == [OrderStatus.PAID]
    assert len(charges(shop, sub.id)) == 1


# --------------------------------------------------------------------------- payment failures


async def test_a_declined_card_is_retried_after_an_hour_and_recovers(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any]
) -> None:
    first = date(2027, 10, 29)
    clock.put(first - timedelta(days=3))
    shop = await open_shop(runtime, clock, stores)
    member = await a_member(runtime, "bouncer")
    card = agreement()
    sub = await subscribe(shop, member, await a_plan(shop), first, agreement_ref=card)
    runtime.agreements.decline(card, 1)

    await day_by_day(shop, first - timedelta(days=2))
    late = await current(shop, sub.id)
    assert late.status is A.PAST_DUE
    assert late.failed_attempts == 1
    assert late.next_retry_at is not None
    assert late.next_retry_at - clock.now() <= timedelta(hours=1)
    assert late.next_date == first  # not advanced: the delivery is still unpaid
    [cycle] = await cycles(shop, sub.id)
    assert (cycle.status, cycle.attempts) == (CycleStatus.ORDERED, 1)
    assert "declined" in cycle.note
    placed = await order(shop, cycle.order_id)
    assert placed.status is OrderStatus.PENDING_PAYMENT
    assert charges(shop, sub.id) == set()

    clock.advance(timedelta(minutes=55))
    await renew(shop)
    assert (await current(shop, sub.id)).status is A.PAST_DUE  # not yet
    [cycle] = await cycles(shop, sub.id)
    assert cycle.attempts == 1

    clock.advance(timedelta(minutes=6))
    await renew(shop)
    after = await current(shop, sub.id)
    assert (after.status, after.failed_attempts, after.next_retry_at) == (A.ACTIVE, 0, None)
    assert after.next_date == first + timedelta(weeks=1)
    [cycle] = await cycles(shop, sub.id)
    assert (cycle.status, cycle.attempts) == (CycleStatus.PAID, 2)
    assert (await order(shop, cycle.order_id)).status is OrderStatus.PAID
    assert charges(shop, sub.id) == {f"subscription:{sub.id}:1"}
    assert len(await orders_of(shop, member.id)) == 1
    assert await history(shop, sub.id) == ["CREATED", "ORDERED", "PAST_DUE", "PAID"]

    await day_by_day(shop, first + timedelta(days=5))  # the next week goes through at once
    assert [c.status for c in await cycles(shop, sub.id)] == [CycleStatus.PAID] * 2


async def test_a_card_that_keeps_failing_pauses_the_subscription_after_the_last_retry(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any]
) -> None:
    first = date(2027, 10, 29)
    clock.put(first - timedelta(days=3))
    shop = await open_shop(runtime, clock, stores, stock=10)
    member = await a_member(runtime, "always-declined")
    card = agreement()
    sub = await subscribe(shop, member, await a_plan(shop), first, agreement_ref=card)
    runtime.agreements.decline(card)

    async def step(delta: timedelta) -> None:
        clock.advance(delta)
        await production_sweeps(shop)  # as in production, beside the renewals
        await renew(shop)

    await day_by_day(shop, first - timedelta(days=2), sweeps=True)
    assert (await current(shop, sub.id)).failed_attempts == 1
    assert await level(shop) == (10, QUANTITY)  # the order holds the goods meanwhile
    for delay, attempts in (
        (timedelta(hours=1), 2),
        (timedelta(days=1), 3),
    ):
        await step(delay - timedelta(minutes=5))
        [cycle] = await cycles(shop, sub.id)
        assert cycle.attempts == attempts - 1, delay  # not retried early
        await step(timedelta(minutes=6))
        late = await current(shop, sub.id)
        [cycle] = await cycles(shop, sub.id)
        assert (late.status, late.failed_attempts, cycle.attempts) == (
            A.PAST_DUE,
            attempts,
            attempts,
        ), delay
    await step(timedelta(days=3) - timedelta(minutes=5))
    assert (await current(shop, sub.id)).status is A.PAST_DUE
    await step(timedelta(minutes=6))

    paused = await current(shop, sub.id)
    assert paused.status is A.PAUSED
    assert paused.next_retry_at is None
    [cycle] = await cycles(shop, sub.id)
    assert (cycle.status, cycle.attempts) == (CycleStatus.FAILED, 4)
    cancelled = await order(shop, cycle.order_id)
    assert cancelled.status is OrderStatus.CANCELLED
    assert await level(shop) == (10, 0)  # the goods went back on the shelf
    assert charges(shop, sub.id) == set()
    assert await agreement_payments(shop, [cancelled.id]) == []
    [told] = await messages(shop, member.id, "SUBSCRIPTION_PAUSED")
    assert told.data["subscription"] == str(sub.id)
    assert await history(shop, sub.id) == [
        "CREATED",
        "ORDERED",
        "PAST_DUE",
        "PAST_DUE",
        "PAST_DUE",
        "PAUSED",
    ]

    # paused for good: no more orders, charges or messages, whatever runs
    await day_by_day(shop, first + timedelta(days=30), sweeps=True)
    assert len(await cycles(shop, sub.id)) == 1
    assert len(await orders_of(shop, member.id)) == 1
    assert len(await messages(shop, member.id, "SUBSCRIPTION_PAUSED")) == 1


async def past_due(shop: Shop, name: str, first: date) -> tuple[Principal, Subscription, str]:
    """A subscription whose card declines: its first renewal order waits for payment."""
    shop.clock.put(first - timedelta(days=3))
    member = await a_member(shop.runtime, name)
    card = agreement()
    sub = await subscribe(shop, member, await a_plan(shop), first, agreement_ref=card)
    shop.runtime.agreements.decline(card)
    await day_by_day(shop, first - timedelta(days=2))
    assert (await current(shop, sub.id)).status is A.PAST_DUE
    return member, sub, card


async def test_a_past_due_order_the_member_pays_in_the_app_settles_the_cycle(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any]
) -> None:
    first = date(2027, 10, 29)
    shop = await open_shop(runtime, clock, stores)
    member, sub, card = await past_due(shop, "pays-in-app", first)
    [cycle] = await cycles(shop, sub.id)
    assert cycle.order_id is not None

    _, request = await pay_order(runtime.ordering, member, cycle.order_id, "devpay")
    body = json.dumps(
        {
            "paymentRef": request.provider_ref,
            "amount": LOCKED * QUANTITY,
            "currency": "CNY",
            "status": "SUCCEEDED",
        }
    ).encode()
    signature = sign_body(runtime.settings.payment_secret, body)
    paid = await handle_notification(
        runtime.ordering, "devpay", {SIGNATURE_HEADER: signature}, body
    )
    assert paid == "paid"

    clock.advance(timedelta(hours=1, minutes=1))  # the retry comes round
    await renew(shop)
    after = await current(shop, sub.id)
    assert (after.status, after.failed_attempts) == (A.ACTIVE, 0)
    assert after.next_date == first + timedelta(weeks=1)
    [cycle] = await cycles(shop, sub.id)
    assert cycle.status is CycleStatus.PAID
    assert charges(shop, sub.id) == set()  # nothing taken from the agreement on top
    assert (await order(shop, cycle.order_id)).status is OrderStatus.PAID
    assert await history(shop, sub.id) == ["CREATED", "ORDERED", "PAST_DUE", "PAID"]

    runtime.agreements.recover(card)
    await day_by_day(shop, first + timedelta(days=5))
    assert [c.status for c in await cycles(shop, sub.id)] == [CycleStatus.PAID] * 2
    assert charges(shop, sub.id) == {f"subscription:{sub.id}:2"}


async def test_a_past_due_order_the_member_cancels_skips_that_delivery(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any]
) -> None:
    first = date(2027, 10, 29)
    shop = await open_shop(runtime, clock, stores, stock=10)
    member, sub, card = await past_due(shop, "cancels-order", first)
    [cycle] = await cycles(shop, sub.id)
    assert cycle.order_id is not None
    await cancel_order(runtime.ordering, member, cycle.order_id, "not this week")
    assert await level(shop) == (10, 0)

    clock.advance(timedelta(hours=1, minutes=1))
    await renew(shop)
    after = await current(shop, sub.id)
    assert (after.status, after.next_date) == (A.ACTIVE, first + timedelta(weeks=1))
    [cycle] = await cycles(shop, sub.id)
    assert cycle.status is CycleStatus.SKIPPED
    assert charges(shop, sub.id) == set()
    assert await history(shop, sub.id) == ["CREATED", "ORDERED", "PAST_DUE", "CYCLE_SKIPPED"]

    runtime.agreements.recover(card)
    await day_by_day(shop, first + timedelta(days=5))
    assert [(c.number, c.status) for c in await cycles(shop, sub.id)] == [
        (1, CycleStatus.SKIPPED),
        (2, CycleStatus.PAID),
    ]
    assert charges(shop, sub.id) == {f"subscription:{sub.id}:2"}


# --------------------------------------------------------------------------- stock and reminders


async def test_a_stock_shortfall_skips_the_cycle_and_tells_the_member(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any]
) -> None:
    first = date(2027, 11, 26)
    clock.put(first - timedelta(days=3))
    shop = await open_shop(runtime, clock, stores, stock=0)
    await receive(shop, shop.stores["SH-A"].id, 1)  # one box; two are needed
    member = await a_member(runtime, "short")
    sub = await subscribe(shop, member, await a_plan(shop), first)

    await day_by_day(shop, first - timedelta(days=2))
    [cycle] = await cycles(shop, sub.id)
    assert (cycle.number, cycle.scheduled_date, cycle.status) == (1, first, CycleStatus.SHORT)
    assert cycle.order_id is None and cycle.note
    assert await orders_of(shop, member.id) == []
    assert charges(shop, sub.id) == set()
    assert await level(shop) == (1, 0)  # nothing left reserved
    [told] = await messages(shop, member.id, "SUBSCRIPTION_SHORT")
    assert told.data["date"] == first.isoformat()
    after = await current(shop, sub.id)
    assert (after.status, after.next_date) == (A.ACTIVE, first + timedelta(weeks=1))
    assert await history(shop, sub.id) == ["CREATED", "CYCLE_SKIPPED"]

    await receive(shop, shop.store, 10)
    await day_by_day(shop, first + timedelta(days=5))
    assert [(c.number, c.status) for c in await cycles(shop, sub.id)] == [
        (1, CycleStatus.SHORT),
        (2, CycleStatus.PAID),
    ]
    assert len(await messages(shop, member.id, "SUBSCRIPTION_SHORT")) == 1
    assert charges(shop, sub.id) == {f"subscription:{sub.id}:2"}


async def test_one_reminder_per_cycle_before_it_is_ordered(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any]
) -> None:
    first = date(2027, 12, 17)
    clock.put(first - timedelta(days=6))
    shop = await open_shop(runtime, clock, stores)
    member = await a_member(runtime, "reminded")
    sub = await subscribe(shop, member, await a_plan(shop), first)

    await day_by_day(shop, first + timedelta(days=18), reminders=True)  # orders for 3 weeks

    found = await cycles(shop, sub.id)
    assert [c.scheduled_date for c in found] == [first + timedelta(weeks=n) for n in range(3)]
    told = await messages(shop, member.id, "SUBSCRIPTION_REMINDER")
    assert [m.data["date"] for m in told] == [
        (first + timedelta(weeks=n)).isoformat() for n in range(4)
    ]  # the fourth delivery is reminded of, not yet ordered
    assert len({m.dedupe_key for m in told}) == 4
    assert {m.data["total"] for m in told} == {str(LOCKED * QUANTITY)}
    orders = await orders_of(shop, member.id)
    for reminder, placed in zip(told, orders, strict=False):
        assert reminder.created_at < placed.created_at
        assert local_date(reminder.created_at) == local_date(placed.created_at) - timedelta(days=1)

    # a second run on the same day adds nothing
    assert await renewals.send_reminders(shop.deps) >= 0
    assert len(await messages(shop, member.id, "SUBSCRIPTION_REMINDER")) == 4


async def test_reminders_reach_every_due_subscription_whatever_the_batch(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any]
) -> None:
    first = date(2027, 12, 17)
    clock.put(first - timedelta(days=6))
    shop = await open_shop(runtime, clock, stores)
    plan = await a_plan(shop)
    members = [await a_member(runtime, f"batch-{n}") for n in range(3)]
    for member in members:
        await subscribe(shop, member, plan, first)
    clock.put(first - timedelta(days=3))
    await renewals.send_reminders(shop.deps, batch=1)  # one run, three batches of one
    for member in members:
        assert len(await messages(shop, member.id, "SUBSCRIPTION_REMINDER")) == 1


# --------------------------------------------------------------------------- after the order


async def test_renewal_orders_go_through_pickup_and_earn_points(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any]
) -> None:
    first = date(2027, 8, 27)
    clock.put(first - timedelta(days=3))
    shop = await open_shop(runtime, clock, stores)
    member = await a_member(runtime, "collector")
    await update_consents(  # the review invitation is marketing: it needs the member's consent
        runtime.members,
        member,
        [ConsentChange(ConsentPurpose.MARKETING_WECHAT, True)],
        "2026-10",
        Channel.MINI_PROGRAM,
    )
    sub = await subscribe(shop, member, await a_plan(shop), first)
    await day_by_day(shop, first - timedelta(days=2))
    [cycle] = await cycles(shop, sub.id)
    assert cycle.status is CycleStatus.PAID
    clerk = Principal(
        kind=PrincipalKind.STAFF,
        id=new_id(),
        role=StaffRole.STORE_CLERK,
        store_ids=frozenset({shop.store}),
    )

    assert cycle.order_id is not None
    clock.advance(timedelta(days=2))  # the delivery day
    await start_preparing(runtime.ordering, clerk, cycle.order_id)
    await mark_ready(runtime.ordering, clerk, cycle.order_id)
    [code] = await runtime.repos.orders.pickups_of([cycle.order_id])
    handed = await complete_pickup(runtime.ordering, clerk, shop.store, code.code)
    assert handed.status is OrderStatus.PICKED_UP
    assert await level(shop) == (500 - QUANTITY, 0)
    points = await runtime.repos.loyalty.get_account(member.id)
    assert points is not None and points.balance == LOCKED * QUANTITY // 100
    assert await messages(shop, member.id, "REVIEW_INVITATION")


# --------------------------------------------------------------------------- merge and export


async def test_a_merge_moves_subscriptions_and_they_renew_for_the_survivor(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any]
) -> None:
    first = date(2027, 7, 30)
    clock.put(first - timedelta(days=5))
    shop = await open_shop(runtime, clock, stores)
    await receive(shop, stores["WH-1"].id, 100)  # delivery orders ship from the warehouse
    source = await a_member(runtime, "duplicate")
    target = await a_member(runtime, "survivor")
    plan = await a_plan(shop)
    pickup = await subscribe(shop, source, plan, first)
    delivery = await subscribe(shop, source, plan, first, delivery=True)
    kept = await subscribe(shop, target, plan, first + timedelta(days=1))

    await merge_members(runtime.members, CS, source.id, target.id, "same person, two phones")

    moved = await runtime.repos.subscriptions.for_member(target.id, PageRequest(first=10))
    assert {s.id for s in moved.items} == {pickup.id, delivery.id, kept.id}
    left = await runtime.repos.subscriptions.for_member(source.id, PageRequest(first=10))
    assert left.items == []
    assert await history(shop, pickup.id) == ["CREATED"]  # the subscription itself is unchanged

    # the moved subscriptions renew for the survivor, and the survivor may manage them
    await day_by_day(shop, first - timedelta(days=1))
    orders = await orders_of(shop, target.id)
    assert len(orders) == 3
    assert await orders_of(shop, source.id) == []
    for sub in (pickup, delivery, kept):
        [cycle] = await cycles(shop, sub.id)
        assert cycle.status is CycleStatus.PAID, sub.id
    # the delivery address, personal data under the member's key, survived the absorbed key
    [shipped] = [o for o in orders if o.delivery_address is not None]
    assert shipped.delivery_address is not None
    assert shipped.location_id == stores["WH-1"].id
    survivor_row = await runtime.repos.members.get(target.id)
    assert survivor_row is not None and survivor_row.data_key is not None
    assert runtime.vault.decrypt(survivor_row.data_key, shipped.delivery_address) == ADDRESS
    survivor = Principal(kind=PrincipalKind.MEMBER, id=target.id)
    assert (await services.pause(shop.deps, survivor, pickup.id, None)).status is A.PAUSED
    with pytest.raises(SubscriptionError) as refused:
        await services.pause(shop.deps, source, delivery.id, None)
    assert refused.value.code is E.NOT_FOUND


async def test_the_data_export_has_a_subscriptions_section(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any]
) -> None:
    first = date(2027, 7, 30)
    clock.put(first - timedelta(days=5))
    shop = await open_shop(runtime, clock, stores)
    member = await a_member(runtime, "exporter")
    other = await a_member(runtime, "not-exported")
    plan = await a_plan(shop)
    weekly = await subscribe(shop, member, plan, first)
    monthly = await subscribe(shop, member, await a_plan(shop, MONTHLY, 0), date(2027, 8, 31))
    await subscribe(shop, other, plan, first)
    await services.pause(shop.deps, member, monthly.id, None)

    document = await export_member_data(runtime.members, member)
    section = document["subscriptions"]
    assert len(section) == 2
    by_status = {s["status"]: s for s in section}
    assert set(by_status) == {"ACTIVE", "PAUSED"}
    active = by_status["ACTIVE"]
    assert active["every"] == "1 WEEK"
    assert active["nextDeliveries"] == [(first + timedelta(weeks=n)).isoformat() for n in range(4)]
    assert active["lines"] == [
        {"variantId": str(shop.variant_id), "quantity": QUANTITY, "unitPrice": LOCKED}
    ]
    assert by_status["PAUSED"]["every"] == "1 MONTH"
    assert by_status["PAUSED"]["lines"][0]["unitPrice"] == PRICE  # that plan has no discount
    assert by_status["PAUSED"]["nextDeliveries"] == []
    assert str(weekly.id) not in str(document["orders"])


async def test_an_erased_member_is_never_charged_again(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any]
) -> None:
    first = date(2027, 7, 30)
    clock.put(first - timedelta(days=5))
    shop = await open_shop(runtime, clock, stores)
    await receive(shop, stores["WH-1"].id, 100)
    leaving = await a_member(runtime, "forget-me")
    staying = await a_member(runtime, "stays")
    plan = await a_plan(shop)
    pickup = await subscribe(shop, leaving, plan, first)
    delivery = await subscribe(shop, leaving, plan, first, delivery=True)
    other = await subscribe(shop, staying, plan, first)

    await delete_account(runtime.members, leaving, confirm=True)

    for sub in (pickup, delivery):
        gone = await current(shop, sub.id)
        assert (gone.status, gone.cancel_reason) == (A.CANCELLED, "account deleted")
        assert await history(shop, sub.id) == ["CREATED", "CANCELLED"]
    await day_by_day(shop, first + timedelta(days=14), reminders=True)
    assert await orders_of(shop, leaving.id) == []
    for sub in (pickup, delivery):
        assert charges(shop, sub.id) == set()
        assert await cycles(shop, sub.id) == []
    assert await messages(shop, leaving.id, "SUBSCRIPTION_REMINDER") == []
    # everyone else's renewals carry on
    assert [c.status for c in await cycles(shop, other.id)] == [CycleStatus.PAID] * 3
