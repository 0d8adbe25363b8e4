"""WeChat Pay refunds at the protocol level (issue 15): the exact request of
`POST /v3/refund/domestic/refunds`, WeChat's refund statuses and error codes read as the
RefundGateway port's results, the query by out_refund_no, and REFUND.* notifications; over
httpx.MockTransport, and against the fake server for idempotency and the refundable amount."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
import pytest

from domain.ordering.model import Payment, PaymentKind, PaymentStatus
from domain.ordering.ports import (
    MalformedNotification,
    RefundFailed,
    RefundNotice,
    RefundState,
    RefundSubmitted,
    WebhookRejected,
)
from infra.wechatpay import WeChatPayClient, WeChatPayProvider
from tests.fakes.wechatpay_server import FakeWeChatPay, Refund, Transaction, new_key
from tests.support import MovableClock

OUT_TRADE_NO = "0f3c5a4be1d84c2f9a7d2e6b8c1f0a93"
OUT_REFUND_NO = "rf_6b1e0c2d9f8a4e7b8c3d5f1a2b4c6d8e"
Answer = Callable[[httpx.Request], httpx.Response]


@pytest.fixture(scope="module")
def wechat_keys() -> tuple[Any, Any]:
    return new_key(), new_key()


@pytest.fixture
def fake(clock: MovableClock, wechat_keys: tuple[Any, Any]) -> FakeWeChatPay:
    merchant, platform = wechat_keys
    return FakeWeChatPay(clock.now, merchant_key=merchant, platform_key=platform)


def paid(amount: int = 3980, ref: str = OUT_TRADE_NO) -> Payment:
    return Payment(
        UUID(int=1),
        UUID(int=2),
        PaymentKind.PAYMENT,
        "wechatpay",
        ref,
        "ONLINE",
        amount,
        "CNY",
        PaymentStatus.SUCCEEDED,
        datetime(2026, 5, 1, tzinfo=UTC),
    )


def provider(fake: FakeWeChatPay, clock: MovableClock, answer: Answer) -> WeChatPayProvider:
    client = WeChatPayClient(fake.config(), clock, httpx.MockTransport(answer))
    return WeChatPayProvider(client, clock, payer=_no_payer)


async def _no_payer(member_id: UUID, app_id: str) -> str | None:
    return None


def signed(fake: FakeWeChatPay, status: int, data: dict[str, Any]) -> httpx.Response:
    body = json.dumps(data).encode()
    return httpx.Response(status, content=body, headers=fake.signed_headers(body))


def refund_answer(status: str, out_refund_no: str = OUT_REFUND_NO) -> dict[str, Any]:
    return {
        "refund_id": "50000000382019052709732678859",
        "out_refund_no": out_refund_no,
        "out_trade_no": OUT_TRADE_NO,
        "status": status,
        "amount": {"total": 3980, "refund": 1990, "currency": "CNY"},
    }


async def test_a_refund_request_is_exactly_what_wechat_documents(
    fake: FakeWeChatPay, clock: MovableClock
) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return signed(fake, 200, refund_answer("PROCESSING"))

    gateway = provider(fake, clock, answer)
    result = await gateway.submit_refund(paid(), OUT_REFUND_NO, 1990, "order refund")
    assert result == RefundSubmitted(done=False)
    (request,) = seen
    assert (request.method, request.url.path) == ("POST", "/v3/refund/domestic/refunds")
    assert request.headers["authorization"].startswith("WECHATPAY2-SHA256-RSA2048 ")
    assert json.loads(request.content) == {
        "out_trade_no": OUT_TRADE_NO,
        "out_refund_no": OUT_REFUND_NO,
        "reason": "order refund",
        "notify_url": "https://shop.example.com/webhooks/payments/wechatpay",
        "amount": {"refund": 1990, "total": 3980, "currency": "CNY"},
    }
    # WeChat takes at most 80 characters of reason
    await gateway.submit_refund(paid(), OUT_REFUND_NO, 1990, "x" * 100)
    assert json.loads(seen[-1].content)["reason"] == "x" * 80


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("SUCCESS", RefundSubmitted(done=True)),
        ("PROCESSING", RefundSubmitted(done=False)),
        ("ABNORMAL", RefundFailed("ABNORMAL", retry=False)),
        ("CLOSED", RefundFailed("CLOSED", retry=False)),
    ],
)
async def test_the_refund_status_answered_is_the_ports_result(
    fake: FakeWeChatPay, clock: MovableClock, status: str, expected: object
) -> None:
    gateway = provider(fake, clock, lambda _: signed(fake, 200, refund_answer(status)))
    assert await gateway.submit_refund(paid(), OUT_REFUND_NO, 1990, "r") == expected


def _error(status: int, code: str, message: str) -> Callable[[FakeWeChatPay], Answer]:
    return lambda fake: lambda _: signed(fake, status, {"code": code, "message": message})


def _down(fake: FakeWeChatPay) -> Answer:
    def answer(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    return answer


def _unsigned(fake: FakeWeChatPay) -> Answer:
    return lambda _: httpx.Response(200, json=refund_answer("SUCCESS"))


def _other_refund(fake: FakeWeChatPay) -> Answer:
    return lambda _: signed(fake, 200, refund_answer("SUCCESS", out_refund_no="rf_other"))


def _unknown_status(fake: FakeWeChatPay) -> Answer:
    return lambda _: signed(fake, 200, refund_answer("MAYBE"))


@pytest.mark.parametrize(
    ("make", "reason", "retry"),
    [
        pytest.param(
            _error(400, "INVALID_REQUEST", "申请退款金额超过订单可退金额"),
            "INVALID_REQUEST: 申请退款金额超过订单可退金额",
            False,
            id="invalid-request",
        ),
        pytest.param(
            _error(400, "PARAM_ERROR", "amount"), "PARAM_ERROR: amount", False, id="param"
        ),
        pytest.param(
            _error(404, "RESOURCE_NOT_EXISTS", "订单不存在"),
            "RESOURCE_NOT_EXISTS: 订单不存在",
            False,
            id="no-such-order",
        ),
        pytest.param(
            _error(403, "NOT_ENOUGH", "基本账户余额不足"),
            "NOT_ENOUGH: 基本账户余额不足",
            True,
            id="balance-short-retry-after-top-up",
        ),
        pytest.param(
            _error(429, "FREQUENCY_LIMITED", "频率限制"),
            "FREQUENCY_LIMITED: 频率限制",
            True,
            id="slow-down",
        ),
        pytest.param(
            _error(500, "SYSTEM_ERROR", "系统错误"), "SYSTEM_ERROR: 系统错误", True, id="5xx"
        ),
        pytest.param(_down, "UNREACHABLE: ConnectTimeout", True, id="network"),
        pytest.param(
            _unsigned, "answer not verified: unknown Wechatpay-Serial ''", True, id="unsigned"
        ),
        pytest.param(
            _other_refund,
            "MISMATCH: the answer is about another out_refund_no",
            False,
            id="another-refund",
        ),
        pytest.param(
            _unknown_status, "BAD_STATUS: unknown refund status 'MAYBE'", False, id="bad-status"
        ),
    ],
)
async def test_an_error_answer_is_a_refund_failure_retryable_only_when_it_may_pass(
    fake: FakeWeChatPay,
    clock: MovableClock,
    make: Callable[[FakeWeChatPay], Answer],
    reason: str,
    retry: bool,
) -> None:
    gateway = provider(fake, clock, make(fake))
    assert await gateway.submit_refund(paid(), OUT_REFUND_NO, 1990, "r") == RefundFailed(
        reason, retry=retry
    )


async def test_the_refund_query_asks_by_out_refund_no(
    fake: FakeWeChatPay, clock: MovableClock
) -> None:
    seen: list[httpx.Request] = []
    answers = [
        signed(fake, 200, refund_answer("SUCCESS")),
        signed(fake, 200, refund_answer("ABNORMAL")),
        signed(fake, 200, refund_answer("CLOSED")),
        signed(fake, 200, refund_answer("PROCESSING")),
        signed(fake, 500, {"code": "SYSTEM_ERROR", "message": "系统错误"}),
        signed(fake, 200, refund_answer("SUCCESS", out_refund_no="rf_other")),
        httpx.Response(200, json=refund_answer("SUCCESS")),  # not signed
    ]

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers[len(seen) - 1]

    gateway = provider(fake, clock, answer)
    got = [await gateway.refund_status(OUT_REFUND_NO) for _ in answers]
    assert got == [
        (RefundState.SUCCESS, ""),
        (RefundState.ABNORMAL, "ABNORMAL"),
        (RefundState.CLOSED, "CLOSED"),
        # nothing believable: still on its way as far as we know; the job asks again
        (RefundState.PROCESSING, ""),
        (RefundState.PROCESSING, ""),
        (RefundState.PROCESSING, ""),
        (RefundState.PROCESSING, ""),
    ]
    assert {(r.method, r.url.path, r.content) for r in seen} == {
        ("GET", f"/v3/refund/domestic/refunds/{OUT_REFUND_NO}", b"")
    }


def _refund_on(fake: FakeWeChatPay, status: str) -> None:
    fake.transactions[OUT_TRADE_NO] = _paid_transaction(fake)
    request = {"out_trade_no": OUT_TRADE_NO, "amount": {"refund": 1990, "total": 3980}}
    fake.refunds[OUT_REFUND_NO] = Refund(request, "5000001", status)


def _paid_transaction(fake: FakeWeChatPay) -> Transaction:
    tx = Transaction("JSAPI", {"amount": {"total": 3980}}, "wx1", state="SUCCESS")
    tx.transaction_id = "4200001"
    return tx


@pytest.mark.parametrize("status", ["SUCCESS", "ABNORMAL", "CLOSED"])
def test_a_refund_notification_is_read_into_a_refund_notice(
    fake: FakeWeChatPay, clock: MovableClock, status: str
) -> None:
    _refund_on(fake, status)
    body = fake.refund_notification(OUT_REFUND_NO)
    assert json.loads(body)["event_type"] == f"REFUND.{status}"
    gateway = provider(fake, clock, _down(fake))
    notice = gateway.parse_notification(_lower(fake.signed_headers(body)), body)
    reason = "" if status == "SUCCESS" else status
    assert notice == RefundNotice(OUT_REFUND_NO, RefundState(status), reason)


@pytest.mark.parametrize(
    ("changes", "error", "why"),
    [
        ({"mchid": "1900000999"}, WebhookRejected, "mchid is not ours"),
        ({"refund_status": "PROCESSING"}, MalformedNotification, "refund_status"),
        ({"out_refund_no": ""}, MalformedNotification, "no out_refund_no"),
        ({"amount": {"refund": 19.9}}, MalformedNotification, "amount.refund"),
    ],
)
def test_a_refund_notification_not_ours_or_unreadable_is_refused(
    fake: FakeWeChatPay,
    clock: MovableClock,
    changes: dict[str, Any],
    error: type[Exception],
    why: str,
) -> None:
    _refund_on(fake, "SUCCESS")
    body = fake.refund_notification(OUT_REFUND_NO, **changes)
    gateway = provider(fake, clock, _down(fake))
    with pytest.raises(error, match=why):
        gateway.parse_notification(_lower(fake.signed_headers(body)), body)
    forged = fake.refund_notification(OUT_REFUND_NO, apiv3_key=b"k" * 32)
    with pytest.raises(WebhookRejected, match="does not decrypt"):
        gateway.parse_notification(_lower(fake.signed_headers(forged)), forged)


def _lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


async def test_the_fake_server_refunds_once_per_number_and_never_more_than_was_paid(
    fake: FakeWeChatPay, clock: MovableClock
) -> None:
    """The fake holds WeChat's rules, so API tests that rely on them test something real."""
    fake.transactions[OUT_TRADE_NO] = _paid_transaction(fake)
    fake.transactions[OUT_TRADE_NO].request["amount"]["currency"] = "CNY"
    client = WeChatPayClient(fake.config(), clock, httpx.ASGITransport(app=fake.app))
    gateway = WeChatPayProvider(client, clock, payer=_no_payer)
    first = await gateway.submit_refund(paid(), "rf_first", 3000, "r")
    again = await gateway.submit_refund(paid(), "rf_first", 3000, "r")
    assert first == again == RefundSubmitted()
    assert list(fake.refunds) == ["rf_first"] and len(fake.refund_requests) == 2
    too_much = await gateway.submit_refund(paid(), "rf_second", 981, "r")
    assert too_much == RefundFailed("INVALID_REQUEST: 申请退款金额超过订单可退金额", retry=False)
    assert await gateway.submit_refund(paid(), "rf_second", 980, "r") == RefundSubmitted()
    unknown = await gateway.submit_refund(paid(ref="f" * 32), "rf_third", 1, "r")
    assert unknown == RefundFailed("RESOURCE_NOT_EXISTS: 订单不存在", retry=False)
    fake.end_refund("rf_first")
    assert await gateway.refund_status("rf_first") == (RefundState.SUCCESS, "")
    assert await gateway.refund_status("rf_second") == (RefundState.PROCESSING, "")
    assert fake.refund_queries == ["rf_first", "rf_second"]
    await client.aclose()
