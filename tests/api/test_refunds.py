"""Refunds that complete (issue 15): a cancelled paid order's refund is submitted by the
refund job, completed by devpay (poll or signed notification), retried with backoff when the
provider fails, then REFUND_FAILED with its reason for CS; partial refunds; till refunds."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from domain.catalog.model import Variant
from domain.errors import OrderError, OrderErrorCode
from domain.identity.model import StaffRole
from domain.ordering.model import PaymentKind, PaymentStatus
from domain.ordering.ports import RefundState
from domain.ordering.refunds import (
    MAX_SUBMISSIONS,
    POLL_AFTER,
    RETRY_BACKOFF,
    process_refunds,
    refund_payment,
)
from infra.db.models.orders import OrderPaymentRow
from tests.support import MovableClock
from tests.support.api import Api, staff_api
from tests.support.orders import (
    CANCEL,
    in_store,
    lid,
    make_variants,
    order_input,
    order_key,
    outbox,
    pay_online,
    placed,
    receive,
    webhook,
)
from tests.support.shoppers import Shopper, shopper

PRICE = 1990
PAID = 2 * PRICE
MONEY = """query($id: ID!) { order(id: $id) { status
  payments { kind provider amount { amount } status reason attempts completedAt } } }"""
Runtime = Any  # infra.runtime.Runtime (its devpay is the provider under test)


@pytest.fixture(autouse=True)
def devpay(runtime: Runtime) -> Iterator[None]:
    """The session's devpay, answering as a working provider, with no submissions seen."""

    def reset() -> None:
        runtime.devpay.refund_submissions.clear()
        runtime.devpay.fail_refunds("", times=0)
        runtime.devpay.refunds_end(RefundState.SUCCESS)

    reset()
    yield
    reset()


@pytest.fixture
async def mango(runtime: Runtime, stores: dict[str, Any]) -> Variant:
    (variant,) = await make_variants(runtime, ("M-1", "1kg", PRICE))
    await receive(runtime, stores["SH-A"].id, variant, 50)
    return variant


@pytest.fixture
async def member(api: Api) -> Shopper:
    return await shopper(api, "refunded-shopper")


@pytest.fixture
async def cs(api: Api, runtime: Runtime) -> Api:
    return await staff_api(api, runtime, "cs-agent", StaffRole.CS_AGENT, [])


async def paid_order(
    client: httpx.AsyncClient,
    runtime: Runtime,
    member: Shopper,
    stores: dict[str, Any],
    mango: Variant,
) -> dict[str, Any]:
    order = await placed(member.api, order_input([(mango, 2)], pickup=lid(stores, "SH-A")))
    await pay_online(client, runtime, member, order)
    return order


async def cancel(member: Shopper, order: dict[str, Any]) -> None:
    done = (await member.api.data(CANCEL, {"o": order["id"], "r": "changed my mind"}))[
        "cancelOrder"
    ]
    assert done["errors"] == [] and done["order"]["status"] == "CANCELLED", done


async def refunds(cs: Api, order: dict[str, Any]) -> list[tuple[int, str, str | None, int]]:
    seen = (await cs.data(MONEY, {"id": order["id"]}))["order"]
    return [
        (p["amount"]["amount"], p["status"], p["reason"], p["attempts"])
        for p in seen["payments"]
        if p["kind"] == "REFUND"
    ]


async def stored(order: dict[str, Any]) -> list[tuple[int, str, str | None, int]]:
    """As `refunds` reads them, from the table (for tests that move the clock past a token)."""
    rows = await OrderPaymentRow.filter(order_id=order_key(order), kind=PaymentKind.REFUND)
    return [(r.amount, r.status.value, r.reason or None, r.attempts) for r in rows]


async def refund_nos(order: dict[str, Any]) -> list[str]:
    rows = await OrderPaymentRow.filter(order_id=order_key(order), kind=PaymentKind.REFUND)
    return [r.provider_ref for r in sorted(rows, key=lambda r: (r.created_at, r.id))]


async def test_a_cancelled_paid_order_is_refunded_by_the_job_and_devpay_completes_it(
    client: httpx.AsyncClient,
    runtime: Runtime,
    clock: MovableClock,
    member: Shopper,
    cs: Api,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    order = await paid_order(client, runtime, member, stores, mango)
    await cancel(member, order)
    assert await refunds(cs, order) == [(PAID, "REFUND_PENDING", None, 0)]

    assert await process_refunds(runtime.ordering) == 1
    (number,) = await refund_nos(order)
    assert runtime.devpay.refund_submissions == [number]
    assert await refunds(cs, order) == [(PAID, "REFUND_SUBMITTED", None, 1)]
    assert await process_refunds(runtime.ordering) == 0  # the poll waits POLL_AFTER

    clock.advance(POLL_AFTER + timedelta(seconds=1))
    assert await process_refunds(runtime.ordering) == 1
    seen = (await cs.data(MONEY, {"id": order["id"]}))["order"]
    refund = next(p for p in seen["payments"] if p["kind"] == "REFUND")
    assert (refund["status"], refund["attempts"]) == ("REFUNDED", 2)
    assert refund["completedAt"] is not None
    clock.advance(timedelta(hours=1))
    assert await process_refunds(runtime.ordering) == 0  # done: never submitted again
    assert runtime.devpay.refund_submissions == [number]
    key = order_key(order)
    assert ("ORDER_REFUNDED", f"order:{key}:refunded") in await outbox(runtime, order)


async def test_refund_notifications_complete_or_fail_a_submitted_refund_once(
    client: httpx.AsyncClient,
    runtime: Runtime,
    member: Shopper,
    cs: Api,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    first = await paid_order(client, runtime, member, stores, mango)
    second = await paid_order(client, runtime, member, stores, mango)
    await cancel(member, first)
    await cancel(member, second)
    assert await process_refunds(runtime.ordering) == 2
    (done,), (abnormal,) = await refund_nos(first), await refund_nos(second)

    def body(ref: str, status: str, reason: str = "") -> bytes:
        return json.dumps({"refundRef": ref, "status": status, "reason": reason}).encode()

    ok = await webhook(client, runtime, body(done, "SUCCESS"))
    assert (ok.status_code, ok.json()) == (200, {"result": "refund_completed"})
    again = await webhook(client, runtime, body(done, "SUCCESS"))
    assert (again.status_code, again.json()) == (200, {"result": "duplicate"})
    late = await webhook(client, runtime, body(done, "CLOSED"))
    assert late.json() == {"result": "duplicate"}  # a completed refund stays completed
    assert await refunds(cs, first) == [(PAID, "REFUNDED", None, 1)]

    failed = await webhook(client, runtime, body(abnormal, "ABNORMAL", "USER_ACCOUNT_ABNORMAL"))
    assert (failed.status_code, failed.json()) == (200, {"result": "refund_failed"})
    assert await refunds(cs, second) == [(PAID, "REFUND_FAILED", "USER_ACCOUNT_ABNORMAL", 1)]

    unknown = await webhook(client, runtime, body("rf_nothing", "SUCCESS"))
    assert (unknown.status_code, unknown.json()) == (404, {"result": "unknown"})
    bad = await webhook(client, runtime, body(done, "MAYBE"))
    assert (bad.status_code, bad.json()) == (400, {"result": "malformed"})
    forged = await webhook(client, runtime, body(abnormal, "SUCCESS"), signature="0" * 64)
    assert forged.status_code == 401
    assert await refunds(cs, second) == [(PAID, "REFUND_FAILED", "USER_ACCOUNT_ABNORMAL", 1)]


async def test_partial_refunds_add_up_to_at_most_what_was_paid(
    client: httpx.AsyncClient,
    runtime: Runtime,
    clock: MovableClock,
    member: Shopper,
    cs: Api,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    order = await paid_order(client, runtime, member, stores, mango)
    (payment,) = await OrderPaymentRow.filter(order_id=order_key(order))
    await refund_payment(runtime.ordering, order_key(order), payment.id, 500, "one was bruised")
    await refund_payment(runtime.ordering, order_key(order), payment.id, 700, "and another")
    with pytest.raises(OrderError) as too_much:
        await refund_payment(runtime.ordering, order_key(order), payment.id, PAID, "all of it")
    assert too_much.value.code is OrderErrorCode.AMOUNT_MISMATCH
    assert await refunds(cs, order) == [
        (500, "REFUND_PENDING", None, 0),
        (700, "REFUND_PENDING", None, 0),
    ]

    assert await process_refunds(runtime.ordering) == 2
    # Cancelling refunds what is left; the partial refunds are not given twice.
    await cancel(member, order)
    assert await process_refunds(runtime.ordering) == 1
    clock.advance(POLL_AFTER + timedelta(seconds=1))
    assert await process_refunds(runtime.ordering) == 3
    assert await refunds(cs, order) == [
        (500, "REFUNDED", None, 2),
        (700, "REFUNDED", None, 2),
        (PAID - 1200, "REFUNDED", None, 2),
    ]
    assert sorted(runtime.devpay.refund_submissions) == sorted(await refund_nos(order))
    with pytest.raises(OrderError) as nothing_left:
        await refund_payment(runtime.ordering, order_key(order), payment.id, 1, "more")
    assert nothing_left.value.code is OrderErrorCode.AMOUNT_MISMATCH


async def test_a_failing_refund_is_retried_with_backoff_then_failed_with_the_reason(
    api: Api,
    client: httpx.AsyncClient,
    runtime: Runtime,
    clock: MovableClock,
    member: Shopper,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    order = await paid_order(client, runtime, member, stores, mango)
    await cancel(member, order)
    runtime.devpay.fail_refunds("NOT_ENOUGH: the merchant's balance is short")

    for attempt, wait in enumerate(RETRY_BACKOFF, start=1):
        assert await process_refunds(runtime.ordering) == 1
        assert await stored(order) == [
            (PAID, "REFUND_PENDING", "NOT_ENOUGH: the merchant's balance is short", attempt)
        ]
        assert await process_refunds(runtime.ordering) == 0  # not before its backoff
        clock.advance(wait + timedelta(seconds=1))
    assert await process_refunds(runtime.ordering) == 1
    clock.advance(timedelta(days=1))
    assert await process_refunds(runtime.ordering) == 0  # failed stays failed, for CS
    cs = await staff_api(api, runtime, "cs-later", StaffRole.CS_AGENT, [])  # tokens expired
    assert await refunds(cs, order) == [
        (PAID, "REFUND_FAILED", "NOT_ENOUGH: the merchant's balance is short", MAX_SUBMISSIONS)
    ]
    (number,) = await refund_nos(order)
    assert runtime.devpay.refund_submissions == [number] * MAX_SUBMISSIONS


async def test_a_refund_that_fails_once_succeeds_on_its_retry(
    client: httpx.AsyncClient,
    runtime: Runtime,
    clock: MovableClock,
    member: Shopper,
    cs: Api,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    order = await paid_order(client, runtime, member, stores, mango)
    await cancel(member, order)
    runtime.devpay.fail_refunds("SYSTEM_ERROR", times=1)
    assert await process_refunds(runtime.ordering) == 1
    clock.advance(RETRY_BACKOFF[0] + timedelta(seconds=1))
    assert await process_refunds(runtime.ordering) == 1
    assert await refunds(cs, order) == [(PAID, "REFUND_SUBMITTED", None, 2)]
    runtime.devpay.refunds_end(RefundState.CLOSED, "the refund was closed")
    clock.advance(POLL_AFTER + timedelta(seconds=1))
    assert await process_refunds(runtime.ordering) == 1
    assert await refunds(cs, order) == [(PAID, "REFUND_FAILED", "the refund was closed", 3)]


async def test_a_refund_the_provider_refuses_for_good_fails_at_once(
    client: httpx.AsyncClient,
    runtime: Runtime,
    member: Shopper,
    cs: Api,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    order = await paid_order(client, runtime, member, stores, mango)
    await cancel(member, order)
    runtime.devpay.fail_refunds("TRADE_OVERDUE: paid over a year ago", retry=False)
    assert await process_refunds(runtime.ordering) == 1
    assert await refunds(cs, order) == [
        (PAID, "REFUND_FAILED", "TRADE_OVERDUE: paid over a year ago", 1)
    ]


async def test_money_taken_at_the_till_is_refunded_at_the_till(
    api: Api,
    runtime: Runtime,
    member: Shopper,
    cs: Api,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    order = await placed(member.api, order_input([(mango, 2)], pickup=lid(stores, "SH-A")))
    clerk = await staff_api(api, runtime, "clerk", StaffRole.STORE_CLERK, [stores["SH-A"]])
    paid = await in_store(clerk, order["id"], PAID)
    assert paid["errors"] == [], paid
    await cancel(member, order)
    assert await refunds(cs, order) == [(PAID, "REFUND_AT_TILL", None, 0)]
    assert await process_refunds(runtime.ordering) == 0
    assert runtime.devpay.refund_submissions == []


async def test_two_workers_at_once_submit_each_refund_once(
    client: httpx.AsyncClient,
    runtime: Runtime,
    member: Shopper,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    orders = [await paid_order(client, runtime, member, stores, mango) for _ in range(6)]
    for order in orders:
        await cancel(member, order)

    handled = await asyncio.gather(*(process_refunds(runtime.ordering) for _ in range(4)))

    assert sum(handled) == 6
    numbers = [n for order in orders for n in await refund_nos(order)]
    assert sorted(runtime.devpay.refund_submissions) == sorted(numbers)
    rows = await OrderPaymentRow.filter(kind=PaymentKind.REFUND)
    assert {(r.status, r.attempts) for r in rows} == {(PaymentStatus.REFUND_SUBMITTED, 1)}
