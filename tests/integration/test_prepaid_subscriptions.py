"""Prepaid plans (周期购) on a real database: the member pays N deliveries up front through the
normal payOrder (the first order carries N x the locked price), each delivery uses one without
a charge, a skip uses none, and cancelling refunds the unused ones from the prepayment.

A renewal and a cancel racing each other: the subscription row's lock makes each delivery
either used or refunded, never both."""

from __future__ import annotations

import asyncio
import json
from datetime import date, timedelta
from typing import Any
from uuid import UUID

import pytest
from tortoise.exceptions import IntegrityError

from domain.errors import SubscriptionError, SubscriptionErrorCode
from domain.identity.model import Principal
from domain.inventory.model import StockLine
from domain.ordering.lifecycle import cancel_order
from domain.ordering.model import OrderStatus, Payment, PaymentKind, PaymentStatus
from domain.ordering.payments import handle_notification, pay_order
from domain.pagination import PageRequest
from domain.subscriptions import plans, renewals, services
from domain.subscriptions.model import CycleStatus, Plan, Subscription, SubscriptionStatus
from infra.db.models.subscriptions import SubscriptionRow
from infra.doctor import run_checks
from infra.payments import SIGNATURE_HEADER, sign_body
from infra.runtime import Runtime
from tests.support import MovableClock, is_postgres
from tests.support.renewals import (
    CS,
    LOCKED,
    QUANTITY,
    WEEKLY,
    Shop,
    a_member,
    charges,
    current,
    cycles,
    day_by_day,
    history,
    open_shop,
    order,
    orders_of,
)

FIRST = date(2027, 5, 14)
N = 4
PER_DELIVERY = LOCKED * QUANTITY  # 9,000 fen at the plan's 10 % off
S = SubscriptionStatus
RACERS = 8
STAGGER = 0.01  # seconds between the racers' cancels


async def prepaid_plan(shop: Shop, deliveries: int = N) -> Plan:
    return await plans.create_plan(
        shop.deps, "Fruit, 4 weeks prepaid", [shop.variant_id], WEEKLY, 10, 0, deliveries
    )


async def sign_up(shop: Shop, member: Principal, plan: Plan) -> Subscription:
    signup = services.SignUp(
        plan.id, [StockLine(shop.variant_id, QUANTITY)], FIRST, pickup_location_id=shop.store
    )
    return await services.create_subscription(shop.deps, member, signup, None)


async def pay(shop: Shop, member: Principal, order_id: UUID) -> None:
    """payOrder with devpay, then its signed notification: the normal way to pay."""
    runtime = shop.runtime
    placed, request = await pay_order(runtime.ordering, member, order_id, "devpay")
    body = json.dumps(
        {
            "paymentRef": request.provider_ref,
            "amount": placed.amount_due,
            "currency": "CNY",
            "status": "SUCCEEDED",
        }
    ).encode()
    headers = {SIGNATURE_HEADER: sign_body(runtime.settings.payment_secret, body)}
    assert await handle_notification(runtime.ordering, "devpay", headers, body) == "paid"


async def payments(shop: Shop, order_id: UUID | None) -> list[Payment]:
    assert order_id is not None
    return await shop.runtime.repos.orders.payments_of([order_id])


def refunds(found: list[Payment]) -> list[tuple[int, PaymentStatus]]:
    return [(p.amount, p.status) for p in found if p.kind is PaymentKind.REFUND]


async def prepaid_and_paid(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any], name: str
) -> tuple[Shop, Principal, Subscription]:
    clock.put(FIRST - timedelta(days=10))
    shop = await open_shop(runtime, clock, stores)
    member = await a_member(runtime, name)
    sub = await sign_up(shop, member, await prepaid_plan(shop))
    assert sub.prepayment_order_id is not None
    await pay(shop, member, sub.prepayment_order_id)
    return shop, member, sub


async def test_four_prepaid_deliveries_are_used_one_per_cycle_and_a_skip_extends_the_run(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any]
) -> None:
    clock.put(FIRST - timedelta(days=10))
    shop = await open_shop(runtime, clock, stores)
    member = await a_member(runtime, "prepays")
    sub = await sign_up(shop, member, await prepaid_plan(shop))  # no payment agreement
    assert (sub.prepaid_deliveries, sub.prepaid_left, sub.payment_agreement) == (N, N, "")

    # the first order carries the prepayment: one delivery's goods, four deliveries' money
    first = await order(shop, sub.prepayment_order_id)
    assert first.status is OrderStatus.PENDING_PAYMENT
    assert first.total == N * PER_DELIVERY
    assert [(x.quantity, x.unit_price) for x in first.lines] == [(QUANTITY, N * LOCKED)]
    [cycle] = await cycles(shop, sub.id)
    assert (cycle.number, cycle.status, cycle.order_id) == (1, CycleStatus.ORDERED, first.id)
    await pay(shop, member, first.id)

    await day_by_day(shop, FIRST)
    after = await current(shop, sub.id)
    assert (after.status, after.prepaid_used, after.next_date) == (
        S.ACTIVE,
        1,
        FIRST + timedelta(weeks=1),
    )
    skipped = await services.skip_next(shop.deps, member, sub.id)  # uses no delivery
    assert (skipped.prepaid_left, skipped.next_date) == (3, FIRST + timedelta(weeks=2))

    await day_by_day(shop, FIRST + timedelta(weeks=6))
    done = await cycles(shop, sub.id)
    assert [(c.scheduled_date, c.status) for c in done] == [
        (FIRST, CycleStatus.PAID),
        (FIRST + timedelta(weeks=1), CycleStatus.SKIPPED),
        (FIRST + timedelta(weeks=2), CycleStatus.PAID),
        (FIRST + timedelta(weeks=3), CycleStatus.PAID),
        (FIRST + timedelta(weeks=4), CycleStatus.PAID),  # the skip moved the 4th a week on
    ]
    ended = await current(shop, sub.id)
    assert (ended.status, ended.prepaid_used, ended.prepaid_left) == (S.CANCELLED, N, 0)
    assert ended.cancel_reason == "all 4 prepaid deliveries ordered"

    placed = await orders_of(shop, member.id)
    assert [o.id for o in placed] == [first.id] + [c.order_id for c in done if c.number > 2]
    for renewal in placed[1:]:
        # at the locked price, paid from the prepayment: no charge, no money taken
        assert (renewal.status, renewal.total) == (OrderStatus.PAID, PER_DELIVERY)
        [paid] = await payments(shop, renewal.id)
        assert (paid.provider, paid.method, paid.amount, paid.status) == (
            "prepaid",
            "PREPAID",
            PER_DELIVERY,
            PaymentStatus.SUCCEEDED,
        )
    assert charges(shop, sub.id) == set()
    assert refunds(await payments(shop, first.id)) == []
    assert (await history(shop, sub.id))[-2:] == ["PAID", "ENDED"]


async def test_cancelling_after_two_deliveries_refunds_the_other_two(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any]
) -> None:
    shop, member, sub = await prepaid_and_paid(runtime, clock, stores, "cancels")
    await day_by_day(shop, FIRST + timedelta(days=1))  # the second is ordered at FIRST + 5
    await day_by_day(shop, FIRST + timedelta(days=6))
    assert (await current(shop, sub.id)).prepaid_used == 2

    cancelled = await services.cancel(shop.deps, member, sub.id, "moving away")
    assert (cancelled.status, cancelled.prepaid_used) == (S.CANCELLED, 2)
    first = await payments(shop, sub.prepayment_order_id)
    assert refunds(first) == [(2 * PER_DELIVERY, PaymentStatus.REFUND_PENDING)]
    [refund] = [p for p in first if p.kind is PaymentKind.REFUND]
    assert refund.provider == "devpay"
    assert (await history(shop, sub.id))[-2:] == ["CANCELLED", "REFUNDED"]
    # both delivered orders stand: the member gets them
    placed = await orders_of(shop, member.id)
    assert [o.status for o in placed] == [OrderStatus.PAID, OrderStatus.PAID]

    with pytest.raises(SubscriptionError) as again:
        await services.cancel(shop.deps, member, sub.id, "twice")
    assert again.value.code is SubscriptionErrorCode.ILLEGAL_STATE
    await day_by_day(shop, FIRST + timedelta(weeks=4))
    assert len(await orders_of(shop, member.id)) == 2
    assert refunds(await payments(shop, sub.prepayment_order_id)) == [
        (2 * PER_DELIVERY, PaymentStatus.REFUND_PENDING)
    ]


async def test_cancelling_before_the_first_delivery_calls_the_first_order_off(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any]
) -> None:
    shop, member, sub = await prepaid_and_paid(runtime, clock, stores, "changes-mind")
    await services.cancel(shop.deps, member, sub.id, "changed my mind")
    first = await order(shop, sub.prepayment_order_id)
    assert first.status is OrderStatus.CANCELLED
    # ordering refunds a cancelled paid order whole: the four deliveries, once
    assert refunds(await payments(shop, first.id)) == [
        (N * PER_DELIVERY, PaymentStatus.REFUND_PENDING)
    ]
    [cycle] = await cycles(shop, sub.id)
    assert cycle.status is CycleStatus.SKIPPED
    await day_by_day(shop, FIRST + timedelta(weeks=2))
    assert len(await orders_of(shop, member.id)) == 1


async def test_an_unpaid_prepayment_ends_the_subscription(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any]
) -> None:
    clock.put(FIRST - timedelta(days=10))
    shop = await open_shop(runtime, clock, stores)
    member = await a_member(runtime, "never-pays")
    sub = await sign_up(shop, member, await prepaid_plan(shop))
    await day_by_day(shop, FIRST + timedelta(weeks=2), sweeps=True)  # payment timeout
    assert (await order(shop, sub.prepayment_order_id)).status is OrderStatus.CANCELLED
    ended = await current(shop, sub.id)
    assert (ended.status, ended.cancel_reason, ended.prepaid_used) == (
        S.CANCELLED,
        "prepayment not paid",
        0,
    )
    assert [c.status for c in await cycles(shop, sub.id)] == [CycleStatus.SKIPPED]
    assert len(await orders_of(shop, member.id)) == 1
    assert charges(shop, sub.id) == set()


async def test_a_prepayment_order_cs_cancelled_ends_the_run_without_free_deliveries(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any]
) -> None:
    shop, member, sub = await prepaid_and_paid(runtime, clock, stores, "cs-refunded")
    await day_by_day(shop, FIRST)
    assert (await current(shop, sub.id)).prepaid_used == 1
    assert sub.prepayment_order_id is not None
    await cancel_order(runtime.ordering, CS, sub.prepayment_order_id, "customer called us")
    # ordering refunded the prepayment whole: nothing is left to deliver from
    assert refunds(await payments(shop, sub.prepayment_order_id)) == [
        (N * PER_DELIVERY, PaymentStatus.REFUND_PENDING)
    ]
    await day_by_day(shop, FIRST + timedelta(weeks=3))
    ended = await current(shop, sub.id)
    assert (ended.status, ended.cancel_reason, ended.prepaid_used) == (
        S.CANCELLED,
        "prepayment refunded",
        1,
    )
    placed = await orders_of(shop, member.id)
    assert [o.status for o in placed] == [OrderStatus.CANCELLED, OrderStatus.CANCELLED]
    assert [p.provider for p in await payments(shop, placed[1].id)] == []
    assert [c.status for c in await cycles(shop, sub.id)] == [
        CycleStatus.PAID,
        CycleStatus.SKIPPED,
    ]


@pytest.mark.parametrize("deliveries", [1, 53])
async def test_a_prepaid_plan_sells_2_to_52_deliveries(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any], deliveries: int
) -> None:
    shop = await open_shop(runtime, clock, stores)
    with pytest.raises(SubscriptionError) as refused:
        await prepaid_plan(shop, deliveries)
    assert (refused.value.code, refused.value.field) == (
        SubscriptionErrorCode.INVALID_INPUT,
        ["prepaidDeliveries"],
    )
    assert await shop.runtime.repos.subscriptions.list_plans(active_only=False) == []


async def test_a_first_order_the_store_cannot_fill_refuses_the_sign_up(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any]
) -> None:
    clock.put(FIRST - timedelta(days=10))
    shop = await open_shop(runtime, clock, stores, stock=1)
    member = await a_member(runtime, "too-early")
    with pytest.raises(SubscriptionError) as refused:
        await sign_up(shop, member, await prepaid_plan(shop))
    assert refused.value.code is SubscriptionErrorCode.FIRST_ORDER_REFUSED
    page = await shop.runtime.repos.subscriptions.for_member(member.id, PageRequest(first=10))
    assert page.items == [] and await orders_of(shop, member.id) == []


async def test_a_renewal_and_a_cancel_at_once_never_use_and_refund_one_delivery(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any]
) -> None:
    clock.put(FIRST - timedelta(days=10))
    shop = await open_shop(runtime, clock, stores)
    plan = await prepaid_plan(shop)
    subs = []
    for n in range(RACERS):
        member = await a_member(runtime, f"racer-{n}")
        sub = await sign_up(shop, member, plan)
        assert sub.prepayment_order_id is not None
        await pay(shop, member, sub.prepayment_order_id)
        subs.append((member, sub))
    await day_by_day(shop, FIRST)  # the first delivery of each is used
    clock.advance(timedelta(days=5))  # the second is due: renewals race the cancels

    async def cancel_later(n: int, member: Principal, sub: Subscription) -> None:
        await asyncio.sleep(n * STAGGER)  # the first cancels beat the renewals, later ones not
        await services.cancel(shop.deps, member, sub.id, "racing")

    await asyncio.gather(
        renewals.renew_due(shop.deps),
        *(cancel_later(n, m, s) for n, (m, s) in enumerate(subs)),
        renewals.renew_due(shop.deps),
    )
    await renewals.renew_due(shop.deps)  # whatever a cancelled one left behind is closed

    for member, sub in subs:
        after = await current(shop, sub.id)
        assert after.status is S.CANCELLED
        refunded = sum(a for a, _ in refunds(await payments(shop, sub.prepayment_order_id)))
        assert refunded % PER_DELIVERY == 0
        # every prepaid delivery is used or refunded, exactly once
        assert after.prepaid_used + refunded // PER_DELIVERY == N, (after, refunded)
        renewal_orders = (await orders_of(shop, member.id))[1:]
        paid = [o for o in renewal_orders if o.status is OrderStatus.PAID]
        assert len(paid) == after.prepaid_used - 1
        assert all(o.status is OrderStatus.CANCELLED for o in renewal_orders if o not in paid)


async def cancelled_after_two(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any]
) -> None:
    shop, member, sub = await prepaid_and_paid(runtime, clock, stores, "audited")
    await day_by_day(shop, FIRST + timedelta(days=6))
    await services.cancel(shop.deps, member, sub.id, "moving away")


async def test_the_cycles_of_a_prepaid_run_pass_the_doctor(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any]
) -> None:
    await cancelled_after_two(runtime, clock, stores)
    report = await run_checks(["subscription_cycles", "order_totals"], now=clock.now())
    assert report.exit_code == 0, report.text()


async def test_a_partial_refund_of_a_prepayment_passes_the_order_payments_check(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any]
) -> None:
    await cancelled_after_two(runtime, clock, stores)
    report = await run_checks(["order_payments"], now=clock.now())
    assert report.exit_code == 0, report.text()


async def test_postgresql_refuses_more_deliveries_used_than_prepaid(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any]
) -> None:
    if not is_postgres(runtime.settings.database_url):
        return  # the CHECK constraint is PostgreSQL's (SQLite: the domain's own check)
    _, _, sub = await prepaid_and_paid(runtime, clock, stores, "over-used")
    with pytest.raises(IntegrityError):
        await SubscriptionRow.filter(id=sub.id).update(prepaid_used=N + 1)
    with pytest.raises(IntegrityError):
        await SubscriptionRow.filter(id=sub.id).update(prepaid_used=-1)


async def test_paused_before_paying_and_resumed_later_delivers_nothing_for_free(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any]
) -> None:
    clock.put(FIRST - timedelta(days=10))
    shop = await open_shop(runtime, clock, stores)
    member = await a_member(runtime, "pauses-unpaid")
    sub = await sign_up(shop, member, await prepaid_plan(shop))
    await services.pause(shop.deps, member, sub.id, None)
    await day_by_day(shop, FIRST + timedelta(days=3), sweeps=True)  # payment timeout
    await services.resume(shop.deps, member, sub.id)
    await day_by_day(shop, FIRST + timedelta(weeks=3), sweeps=True)
    ended = await current(shop, sub.id)
    assert (ended.status, ended.cancel_reason, ended.prepaid_used) == (
        S.CANCELLED,
        "prepayment not paid",
        0,
    )
    placed = await orders_of(shop, member.id)
    assert {o.status for o in placed} == {OrderStatus.CANCELLED}
    for placed_order in placed:
        assert await payments(shop, placed_order.id) == []  # nothing paid, nothing taken


async def test_a_renewal_order_called_off_gives_its_delivery_back_to_the_run(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any]
) -> None:
    """The store cannot fill a delivery paid from the prepayment: no money moves (none was
    taken for it), the delivery goes back and the run ends a week later."""
    shop, member, sub = await prepaid_and_paid(runtime, clock, stores, "called-off")
    await day_by_day(shop, FIRST + timedelta(days=6))
    [_, second] = await orders_of(shop, member.id)
    assert (await current(shop, sub.id)).prepaid_used == 2
    await cancel_order(runtime.ordering, CS, second.id, "out of mangoes")

    after = await current(shop, sub.id)
    assert (after.status, after.prepaid_used) == (S.ACTIVE, 1)
    assert refunds(await payments(shop, second.id)) == [(PER_DELIVERY, PaymentStatus.REFUNDED)]
    assert refunds(await payments(shop, sub.prepayment_order_id)) == []  # no money back
    assert (await history(shop, sub.id))[-1] == "DELIVERY_RETURNED"

    await day_by_day(shop, FIRST + timedelta(weeks=6))
    done = await cycles(shop, sub.id)
    assert [(c.scheduled_date, c.status) for c in done] == [
        (FIRST, CycleStatus.PAID),
        (FIRST + timedelta(weeks=1), CycleStatus.SKIPPED),  # the order called off
        (FIRST + timedelta(weeks=2), CycleStatus.PAID),
        (FIRST + timedelta(weeks=3), CycleStatus.PAID),
        (FIRST + timedelta(weeks=4), CycleStatus.PAID),  # the delivery given back
    ]
    assert (await current(shop, sub.id)).status is S.CANCELLED
    report = await run_checks(
        ["subscription_cycles", "refunds_within_paid", "refund_submissions"], now=clock.now()
    )
    assert report.exit_code == 0, report.text()


async def test_the_last_delivery_called_off_after_the_run_refunds_its_money(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any]
) -> None:
    shop, member, sub = await prepaid_and_paid(runtime, clock, stores, "last-one")
    await day_by_day(shop, FIRST + timedelta(weeks=4))
    assert (await current(shop, sub.id)).status is S.CANCELLED  # all four ordered
    last = (await orders_of(shop, member.id))[-1]
    await cancel_order(runtime.ordering, CS, last.id, "store closed for works")

    assert refunds(await payments(shop, last.id)) == [(PER_DELIVERY, PaymentStatus.REFUNDED)]
    assert refunds(await payments(shop, sub.prepayment_order_id)) == [
        (PER_DELIVERY, PaymentStatus.REFUND_PENDING)  # money back through the provider
    ]
