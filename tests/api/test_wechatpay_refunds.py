"""WeChat Pay refunds end to end (issue 15): a paid wechatpay order cancelled is refunded by the
refund job through the fake WeChat Pay server (`POST /v3/refund/domestic/refunds`), completed
by WeChat's signed, encrypted REFUND.* notification or by the job's query when none comes;
WeChat's refusal reaches CS as REFUND_FAILED with its code; a repeated notification does
nothing more."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from domain.catalog.model import Variant
from domain.identity.model import StaffRole
from domain.ordering.model import PaymentKind
from domain.ordering.refunds import POLL_AFTER, RETRY_BACKOFF, process_refunds
from infra.db.models.orders import OrderPaymentRow
from infra.runtime import Runtime
from tests.fakes.wechatpay_server import FakeWeChatPay
from tests.support import MovableClock
from tests.support.api import Api, staff_api
from tests.support.orders import (
    CANCEL,
    lid,
    make_variants,
    order_input,
    order_key,
    outbox,
    placed,
    read,
    receive,
    start_payment,
)
from tests.support.shoppers import Shopper, shopper
from tests.support.wechatpay import wechatpay_on

PRICE = 1990
PAID = 2 * PRICE
HOOK = "/webhooks/payments/wechatpay"
MONEY = """query($id: ID!) { order(id: $id) { status
  payments { kind provider amount { amount } status reason attempts completedAt } } }"""
Refunds = list[tuple[int, str, str | None, int]]


@pytest.fixture
async def wechat(runtime: Runtime, clock: MovableClock) -> AsyncIterator[FakeWeChatPay]:
    async with wechatpay_on(runtime, clock) as fake:
        yield fake


@pytest.fixture
async def mango(runtime: Runtime, stores: dict[str, Any]) -> Variant:
    (variant,) = await make_variants(runtime, ("M-1", "1kg", PRICE))
    await receive(runtime, stores["SH-A"].id, variant, 50)
    return variant


@pytest.fixture
async def member(api: Api) -> Shopper:
    return await shopper(api, "open-wechat-refunded")


@pytest.fixture
async def cs(api: Api, runtime: Runtime) -> Api:
    return await staff_api(api, runtime, "cs-agent", StaffRole.CS_AGENT, [])


async def notify(client: httpx.AsyncClient, wechat: FakeWeChatPay, body: bytes) -> int:
    hook = await client.post(HOOK, content=body, headers=wechat.signed_headers(body))
    return hook.status_code


async def cancelled_paid_order(
    client: httpx.AsyncClient,
    wechat: FakeWeChatPay,
    member: Shopper,
    stores: dict[str, Any],
    mango: Variant,
) -> tuple[dict[str, Any], str]:
    """An order paid with WeChat Pay (notified), then cancelled: its refund is pending."""
    order = await placed(member.api, order_input([(mango, 2)], pickup=lid(stores, "SH-A")))
    ref = (await start_payment(member.api, order["id"], "wechatpay"))["payment"]["paymentRef"]
    wechat.pay(ref)
    assert await notify(client, wechat, wechat.notification(ref)) == 204
    assert (await read(member.api, order["id"]))["status"] == "PAID"
    done = await member.api.data(CANCEL, {"o": order["id"], "r": "changed my mind"})
    assert done["cancelOrder"]["errors"] == [], done
    return order, ref


async def refunds(cs: Api, order: dict[str, Any]) -> Refunds:
    seen = (await cs.data(MONEY, {"id": order["id"]}))["order"]
    return [
        (p["amount"]["amount"], p["status"], p["reason"], p["attempts"])
        for p in seen["payments"]
        if p["kind"] == "REFUND"
    ]


async def stored(order: dict[str, Any]) -> Refunds:
    """As `refunds` reads them, from the table (for tests that move the clock)."""
    rows = await OrderPaymentRow.filter(order_id=order_key(order), kind=PaymentKind.REFUND)
    return [(r.amount, r.status.value, r.reason or None, r.attempts) for r in rows]


async def refund_no(order: dict[str, Any]) -> str:
    (row,) = await OrderPaymentRow.filter(order_id=order_key(order), kind=PaymentKind.REFUND)
    return row.provider_ref


async def test_a_cancelled_paid_order_is_refunded_through_wechat_and_notified_once(
    client: httpx.AsyncClient,
    runtime: Runtime,
    clock: MovableClock,
    wechat: FakeWeChatPay,
    member: Shopper,
    cs: Api,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    order, ref = await cancelled_paid_order(client, wechat, member, stores, mango)
    assert await refunds(cs, order) == [(PAID, "REFUND_PENDING", None, 0)]

    assert await process_refunds(runtime.ordering) == 1
    number = await refund_no(order)
    assert wechat.refund_requests == [
        {
            "out_trade_no": ref,
            "out_refund_no": number,
            "reason": "order refund",
            "notify_url": "https://shop.example.com/webhooks/payments/wechatpay",
            "amount": {"refund": PAID, "total": PAID, "currency": "CNY"},
        }
    ]
    assert wechat.refunds[number].status == "PROCESSING"
    assert await refunds(cs, order) == [(PAID, "REFUND_SUBMITTED", None, 1)]

    wechat.end_refund(number)  # the money is back in the payer's WeChat balance
    body = wechat.refund_notification(number)
    assert await notify(client, wechat, body) == 204
    seen = (await cs.data(MONEY, {"id": order["id"]}))["order"]
    (refund,) = [p for p in seen["payments"] if p["kind"] == "REFUND"]
    assert (refund["provider"], refund["status"], refund["attempts"]) == (
        "wechatpay",
        "REFUNDED",
        1,
    )
    assert refund["completedAt"] is not None

    # WeChat repeats a notification until it hears 2xx; a late CLOSED changes nothing either.
    before = await outbox(runtime, order)
    assert await notify(client, wechat, body) == 204
    closed = wechat.refund_notification(number, refund_status="CLOSED")
    assert await notify(client, wechat, closed) == 204
    seen_again = (await cs.data(MONEY, {"id": order["id"]}))["order"]
    assert seen_again == seen and await outbox(runtime, order) == before
    assert [k for k, _ in before].count("ORDER_REFUNDED") == 1

    # Done: the job neither asks WeChat about it nor submits it again.
    clock.advance(POLL_AFTER + timedelta(seconds=1))
    assert await process_refunds(runtime.ordering) == 0
    assert wechat.refund_queries == [] and len(wechat.refund_requests) == 1


async def test_without_a_notification_the_job_asks_wechat_until_the_refund_ends(
    client: httpx.AsyncClient,
    runtime: Runtime,
    clock: MovableClock,
    wechat: FakeWeChatPay,
    member: Shopper,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    order, _ = await cancelled_paid_order(client, wechat, member, stores, mango)
    assert await process_refunds(runtime.ordering) == 1
    number = await refund_no(order)

    clock.advance(POLL_AFTER + timedelta(seconds=1))
    assert await process_refunds(runtime.ordering) == 1  # still PROCESSING at WeChat
    assert wechat.refund_queries == [number]
    assert await stored(order) == [(PAID, "REFUND_SUBMITTED", None, 2)]

    wechat.end_refund(number)  # the notification is lost
    clock.advance(POLL_AFTER + timedelta(seconds=1))
    assert await process_refunds(runtime.ordering) == 1
    assert wechat.refund_queries == [number, number]
    assert await stored(order) == [(PAID, "REFUNDED", None, 3)]
    assert len(wechat.refund_requests) == 1  # asked about, never submitted again

    # The notification arriving late after all: no second effect.
    assert await notify(client, wechat, wechat.refund_notification(number)) == 204
    assert await stored(order) == [(PAID, "REFUNDED", None, 3)]


async def test_a_refund_wechat_refuses_fails_with_its_reason_for_cs(
    client: httpx.AsyncClient,
    runtime: Runtime,
    wechat: FakeWeChatPay,
    member: Shopper,
    cs: Api,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    order, _ = await cancelled_paid_order(client, wechat, member, stores, mango)
    wechat.refund_errors.append((400, "INVALID_REQUEST", "订单已超过可退款的最大期限"))
    assert await process_refunds(runtime.ordering) == 1
    assert await refunds(cs, order) == [
        (PAID, "REFUND_FAILED", "INVALID_REQUEST: 订单已超过可退款的最大期限", 1)
    ]
    assert wechat.refunds == {} and wechat.refused == ["INVALID_REQUEST"]
    assert await process_refunds(runtime.ordering) == 0  # refused for good: not retried


async def test_a_short_balance_is_retried_with_the_same_number_and_then_refunds_once(
    client: httpx.AsyncClient,
    runtime: Runtime,
    clock: MovableClock,
    wechat: FakeWeChatPay,
    member: Shopper,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    """NOT_ENOUGH (the merchant's balance is short) and a 500: WeChat's advice is to retry the
    same out_refund_no; the job's backoff does, and WeChat refunds once."""
    order, _ = await cancelled_paid_order(client, wechat, member, stores, mango)
    wechat.refund_errors.extend(
        [(403, "NOT_ENOUGH", "基本账户余额不足"), (500, "SYSTEM_ERROR", "系统错误")]
    )
    assert await process_refunds(runtime.ordering) == 1
    assert await stored(order) == [(PAID, "REFUND_PENDING", "NOT_ENOUGH: 基本账户余额不足", 1)]
    for wait in RETRY_BACKOFF[:2]:
        clock.advance(wait + timedelta(seconds=1))
        assert await process_refunds(runtime.ordering) == 1
    number = await refund_no(order)
    assert [r["out_refund_no"] for r in wechat.refund_requests] == [number] * 3
    assert list(wechat.refunds) == [number]
    assert await stored(order) == [(PAID, "REFUND_SUBMITTED", None, 3)]


async def test_an_abnormal_refund_notification_fails_the_refund_with_wechats_status(
    client: httpx.AsyncClient,
    runtime: Runtime,
    wechat: FakeWeChatPay,
    member: Shopper,
    cs: Api,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    order, _ = await cancelled_paid_order(client, wechat, member, stores, mango)
    assert await process_refunds(runtime.ordering) == 1
    number = await refund_no(order)
    wechat.end_refund(number, "ABNORMAL")  # the payer's bank card was cancelled
    forged = wechat.refund_notification(number, mchid="1900000999")
    assert await notify(client, wechat, forged) == 401
    assert await refunds(cs, order) == [(PAID, "REFUND_SUBMITTED", None, 1)]
    assert await notify(client, wechat, wechat.refund_notification(number)) == 204
    assert await refunds(cs, order) == [(PAID, "REFUND_FAILED", "ABNORMAL", 1)]
    unknown = wechat.refund_notification(number, out_refund_no="rf_" + "0" * 32)
    assert await notify(client, wechat, unknown) == 404


async def test_a_refund_notification_that_overtakes_our_record_of_the_submission_completes_it(
    client: httpx.AsyncClient,
    runtime: Runtime,
    clock: MovableClock,
    wechat: FakeWeChatPay,
    member: Shopper,
    cs: Api,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    """The job claimed the refund and WeChat took it; WeChat's REFUND.SUCCESS arrives before
    the job records the submission. The refund completes once; the job's late record and
    its next runs change nothing."""
    order, _ = await cancelled_paid_order(client, wechat, member, stores, mango)
    (pending,) = [
        p
        for p in await runtime.repos.orders.payments_of([order_key(order)])
        if p.kind is PaymentKind.REFUND
    ]
    claimed_until = clock.now() + timedelta(minutes=5)
    assert await runtime.repos.orders.claim_refund(pending, claimed_until)
    (paid,) = [
        p
        for p in await runtime.repos.orders.payments_of([order_key(order)])
        if p.kind is PaymentKind.PAYMENT
    ]
    gateway = runtime.ordering.refunds["wechatpay"]
    await gateway.submit_refund(paid, pending.provider_ref, pending.amount, "order refund")
    wechat.end_refund(pending.provider_ref)
    body = wechat.refund_notification(pending.provider_ref)
    assert await notify(client, wechat, body) == 204
    assert await stored(order) == [(PAID, "REFUNDED", None, 1)]

    clock.advance(timedelta(minutes=6))  # past the claim's lease
    assert await process_refunds(runtime.ordering) == 0
    assert len(wechat.refund_requests) == 1 and wechat.refund_queries == []
    assert await refunds(cs, order) == [(PAID, "REFUNDED", None, 1)]
    assert [k for k, _ in await outbox(runtime, order)].count("ORDER_REFUNDED") == 1
