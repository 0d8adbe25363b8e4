"""WeChat Pay API v3 end to end (issue 15): payOrder creates a JSAPI transaction on the fake
WeChat Pay server and answers what wx.requestPayment takes; the signed, encrypted notification
pays the order once; every forged, stale or mismatched notification is refused and changes
nothing."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from api.relay import decode_id
from domain.catalog.model import Variant
from domain.identity.model import DeviceKind
from domain.ordering.payments import CLOSE_GRACE, recover_lost_notices
from infra.db.models.orders import OrderPaymentRow
from infra.jobs import find_job, run_job
from infra.runtime import Runtime
from infra.wechatpay import rfc3339_beijing
from tests.fakes.wechatpay_server import MCHID, FakeWeChatPay, new_key
from tests.support import MovableClock
from tests.support.api import Api
from tests.support.orders import (
    CANCEL,
    level,
    lid,
    make_variants,
    order_input,
    outbox,
    placed,
    read,
    receive,
    start_payment,
)
from tests.support.payloads import refusal
from tests.support.shoppers import Shopper, shopper
from tests.support.wechatpay import wechatpay_on
from tests.support.world import device_token

PRICE = 1990
HOOK = "/webhooks/payments/wechatpay"


@pytest.fixture
async def wechat(runtime: Runtime, clock: MovableClock) -> AsyncIterator[FakeWeChatPay]:
    async with wechatpay_on(runtime, clock) as fake:
        yield fake


@pytest.fixture
async def mango(runtime: Runtime, stores: dict[str, Any]) -> Variant:
    (variant,) = await make_variants(runtime, ("M-1", "1kg", PRICE))
    await receive(runtime, stores["SH-A"].id, variant, 10)
    return variant


@pytest.fixture
async def member(api: Api) -> Shopper:
    return await shopper(api, "open-wechat-payer")


@pytest.fixture
async def order(member: Shopper, stores: dict[str, Any], mango: Variant) -> dict[str, Any]:
    return await placed(member.api, order_input([(mango, 2)], pickup=lid(stores, "SH-A")))


def verifies(key: Any, message: str, signature: str) -> bool:
    try:
        key.verify(
            base64.b64decode(signature), message.encode(), padding.PKCS1v15(), hashes.SHA256()
        )
    except Exception:
        return False
    return True


async def payments() -> list[tuple[str, str, str]]:
    rows = await OrderPaymentRow.all().order_by("created_at")
    return [(r.provider, r.provider_ref, str(r.status)) for r in rows]


async def notify(client: httpx.AsyncClient, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return await client.post(HOOK, content=body, headers=headers)


async def test_pay_then_notify_pays_the_order_once(
    client: httpx.AsyncClient,
    runtime: Runtime,
    wechat: FakeWeChatPay,
    member: Shopper,
    order: dict[str, Any],
) -> None:
    started = await start_payment(member.api, order["id"], "wechatpay")
    assert started["errors"] == [], started
    payment = started["payment"]
    ref, payload = payment["paymentRef"], payment["payload"]
    assert payment["provider"] == "wechatpay"
    assert sorted(payload) == ["appId", "nonceStr", "package", "paySign", "signType", "timeStamp"]
    tx = wechat.transactions[ref]
    assert payload["appId"] == "wx-demo" and payload["signType"] == "RSA"
    assert payload["package"] == f"prepay_id={tx.prepay}"
    message = f"wx-demo\n{payload['timeStamp']}\n{payload['nonceStr']}\n{payload['package']}\n"
    assert verifies(wechat.merchant_key.public_key(), message, payload["paySign"])

    seen = await read(member.api, order["id"])
    deadline = await OrderPaymentRow.get(provider_ref=ref)
    assert deadline.amount == 2 * PRICE
    expected_expiry = rfc3339_beijing(runtime.clock.now() + runtime.ordering.policy.payment_timeout)
    assert tx.kind == "JSAPI" and tx.request == {
        "appid": "wx-demo",
        "mchid": MCHID,
        "description": tx.request["description"],
        "out_trade_no": ref,
        "notify_url": "https://shop.example.com/webhooks/payments/wechatpay",
        "amount": {"total": 2 * PRICE, "currency": "CNY"},
        "payer": {"openid": member.openid},
        "time_expire": tx.request["time_expire"],
    }
    assert datetime.fromisoformat(tx.request["time_expire"]).utcoffset() == timedelta(hours=8)
    assert abs(
        datetime.fromisoformat(tx.request["time_expire"]) - datetime.fromisoformat(expected_expiry)
    ) <= timedelta(seconds=1)
    assert seen["status"] == "PENDING_PAYMENT"

    # A second payOrder while the prepay is valid gives the same transaction back.
    again = await start_payment(member.api, order["id"], "wechatpay")
    assert again["errors"] == [] and again["payment"]["paymentRef"] == ref
    assert again["payment"]["payload"]["package"] == payload["package"]
    assert await OrderPaymentRow.filter(order_id=deadline.order_id).count() == 1
    assert len(wechat.transactions) == 1

    wechat.pay(ref)
    body = wechat.notification(ref)
    hook = await notify(client, body, wechat.signed_headers(body))
    assert (hook.status_code, hook.content) == (204, b"")
    seen = await read(member.api, order["id"])
    assert seen["status"] == "PAID"
    assert await payments() == [("wechatpay", ref, "SUCCEEDED")]

    # WeChat repeats a notification until it hears 2xx: the repeat has no second effect.
    repeat = await notify(client, body, wechat.signed_headers(body))
    assert (repeat.status_code, repeat.content) == (204, b"")
    assert [k for k, _ in await outbox(runtime, order)].count("ORDER_PAID") == 1
    assert (await read(member.api, order["id"]))["timeline"] == seen["timeline"]
    assert refusal(await start_payment(member.api, order["id"], "wechatpay")) == (
        "PAYMENT_NOT_ALLOWED",
        ["orderId"],
    )


def _tampered(fake: FakeWeChatPay, ref: str) -> tuple[bytes, dict[str, str]]:
    body = fake.notification(ref)
    headers = fake.signed_headers(body)
    return body.replace(b'"id": "', b'"id": "x'), headers


def _unknown_serial(fake: FakeWeChatPay, ref: str) -> tuple[bytes, dict[str, str]]:
    body = fake.notification(ref)
    return body, fake.signed_headers(body, serial="PUB_KEY_ID_0000000000000000000000000000")


def _other_key(fake: FakeWeChatPay, ref: str) -> tuple[bytes, dict[str, str]]:
    body = fake.notification(ref)
    return body, fake.signed_headers(body, key=new_key())


def _stale(fake: FakeWeChatPay, ref: str) -> tuple[bytes, dict[str, str]]:
    body = fake.notification(ref)
    return body, fake.signed_headers(body, timestamp=fake.now() - timedelta(minutes=6))


def _bad_ciphertext(fake: FakeWeChatPay, ref: str) -> tuple[bytes, dict[str, str]]:
    body = fake.notification(ref, apiv3_key=b"k" * 32)
    return body, fake.signed_headers(body)


def _signed(**changes: Any) -> Any:
    def build(fake: FakeWeChatPay, ref: str) -> tuple[bytes, dict[str, str]]:
        body = fake.notification(ref, **changes)
        return body, fake.signed_headers(body)

    return build


REFUSED = [
    pytest.param(_tampered, 401, id="tampered-body"),
    pytest.param(_unknown_serial, 401, id="unknown-serial"),
    pytest.param(_other_key, 401, id="signed-by-another-key"),
    pytest.param(_stale, 401, id="stale-timestamp"),
    pytest.param(_bad_ciphertext, 401, id="bad-ciphertext"),
    pytest.param(_signed(mchid="1900000999"), 401, id="wrong-mchid"),
    pytest.param(_signed(appid="wx-other"), 401, id="wrong-appid"),
    pytest.param(_signed(amount={"total": 1, "currency": "CNY"}), 422, id="amount-mismatch"),
    pytest.param(
        _signed(amount={"total": 2 * PRICE, "currency": "USD"}), 422, id="currency-mismatch"
    ),
    pytest.param(
        _signed(amount={"total": 39.8, "currency": "CNY"}), 400, id="amount-not-whole-fen"
    ),
    pytest.param(_signed(out_trade_no="0" * 32), 404, id="unknown-out-trade-no"),
]


@pytest.mark.parametrize(("forge", "status"), REFUSED)
async def test_a_refused_notification_changes_nothing(
    client: httpx.AsyncClient,
    runtime: Runtime,
    wechat: FakeWeChatPay,
    member: Shopper,
    order: dict[str, Any],
    forge: Any,
    status: int,
) -> None:
    ref = (await start_payment(member.api, order["id"], "wechatpay"))["payment"]["paymentRef"]
    wechat.pay(ref)
    body, headers = forge(wechat, ref)
    hook = await notify(client, body, headers)
    assert hook.status_code == status, hook.text
    answer = hook.json()
    assert answer["code"] == "FAIL" and answer["message"], answer
    seen = await read(member.api, order["id"])
    assert seen["status"] == "PENDING_PAYMENT"
    assert await payments() == [("wechatpay", ref, "PENDING")]
    assert "ORDER_PAID" not in [k for k, _ in await outbox(runtime, order)]

    # The genuine notification still pays it afterwards.
    body = wechat.notification(ref)
    assert (await notify(client, body, wechat.signed_headers(body))).status_code == 204
    assert (await read(member.api, order["id"]))["status"] == "PAID"


async def test_a_notification_that_is_not_success_pays_nothing(
    client: httpx.AsyncClient, wechat: FakeWeChatPay, member: Shopper, order: dict[str, Any]
) -> None:
    ref = (await start_payment(member.api, order["id"], "wechatpay"))["payment"]["paymentRef"]
    body = wechat.notification(ref, trade_state="PAYERROR")
    hook = await notify(client, body, wechat.signed_headers(body))
    assert hook.status_code == 204
    assert (await read(member.api, order["id"]))["status"] == "PENDING_PAYMENT"


async def test_wechat_pay_refusing_the_request_is_a_user_error_and_records_nothing(
    runtime: Runtime, wechat: FakeWeChatPay, member: Shopper, order: dict[str, Any]
) -> None:
    """Our request signed with a key WeChat does not know: the fake refuses it (SIGN_ERROR),
    payOrder answers a typed error, and no payment is recorded."""
    assert runtime.wechatpay is not None
    runtime.wechatpay.config = wechat.config(private_key=new_key())
    refused = await start_payment(member.api, order["id"], "wechatpay")
    assert refusal(refused) == ("PAYMENT_NOT_ALLOWED", ["provider"])
    assert wechat.refused == ["SIGN_ERROR"] and wechat.transactions == {}
    assert await OrderPaymentRow.all().count() == 0


async def test_a_member_without_an_openid_of_the_pay_app_cannot_pay_with_wechat(
    api: Api,
    runtime: Runtime,
    wechat: FakeWeChatPay,
    member: Shopper,
    order: dict[str, Any],
) -> None:
    assert runtime.wechatpay is not None
    runtime.wechatpay.config = wechat.config(appid="wx-elsewhere")
    refused = await start_payment(member.api, order["id"], "wechatpay")
    assert refusal(refused) == ("PAYMENT_NOT_ALLOWED", ["provider"])
    assert wechat.transactions == {} and await OrderPaymentRow.all().count() == 0


async def test_devpay_still_answers_in_its_own_shape(
    client: httpx.AsyncClient, wechat: FakeWeChatPay
) -> None:
    hook = await client.post("/webhooks/payments/devpay", content=b"{}")
    assert hook.status_code == 401 and hook.json() == {"result": "rejected"}
    assert json.loads((await client.post(HOOK, content=b"{}")).content)["code"] == "FAIL"


# ---------------------------------------------------------------- lost notifications


async def test_a_lost_notification_is_recovered_by_the_query_job(
    client: httpx.AsyncClient,
    runtime: Runtime,
    clock: MovableClock,
    wechat: FakeWeChatPay,
    member: Shopper,
    order: dict[str, Any],
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    job = find_job("recover_lost_payments")
    assert job is not None
    paid_ref = (await start_payment(member.api, order["id"], "wechatpay"))["payment"]["paymentRef"]
    wechat.pay(paid_ref)  # the member paid; WeChat's notification never arrives
    unpaid = await placed(member.api, order_input([(mango, 1)], pickup=lid(stores, "SH-A")))
    open_ref = (await start_payment(member.api, unpaid["id"], "wechatpay"))["payment"]["paymentRef"]

    # Too young to be called lost: nobody asks WeChat yet.
    clock.advance(timedelta(minutes=2))
    assert await run_job(runtime, job) == 0 and wechat.queried == []
    assert (await read(member.api, order["id"]))["status"] == "PENDING_PAYMENT"

    clock.advance(timedelta(minutes=2))
    assert await run_job(runtime, job) == 1
    assert sorted(wechat.queried) == sorted([paid_ref, open_ref])
    assert (await read(member.api, order["id"]))["status"] == "PAID"
    assert (await read(member.api, unpaid["id"]))["status"] == "PENDING_PAYMENT"
    assert await payments() == [
        ("wechatpay", paid_ref, "SUCCEEDED"),
        ("wechatpay", open_ref, "PENDING"),
    ]

    # Asked again, or notified late after all: no second effect.
    assert await run_job(runtime, job) == 0
    body = wechat.notification(paid_ref)
    assert (await notify(client, body, wechat.signed_headers(body))).status_code == 204
    assert [k for k, _ in await outbox(runtime, order)].count("ORDER_PAID") == 1
    assert wechat.queried.count(paid_ref) == 1


async def test_an_answer_that_does_not_verify_is_not_believed(
    runtime: Runtime,
    clock: MovableClock,
    wechat: FakeWeChatPay,
    member: Shopper,
    order: dict[str, Any],
) -> None:
    ref = (await start_payment(member.api, order["id"], "wechatpay"))["payment"]["paymentRef"]
    wechat.pay(ref)
    clock.advance(timedelta(minutes=4))
    assert runtime.wechatpay is not None
    runtime.wechatpay.config = wechat.config(public_key=new_key().public_key())
    assert await recover_lost_notices(runtime.ordering) == 0
    assert wechat.queried == [ref]
    assert (await read(member.api, order["id"]))["status"] == "PENDING_PAYMENT"


# ---------------------------------------------------------------- kiosk: Native QR code


async def test_a_kiosk_shows_a_native_qr_code_and_the_notification_pays_it(
    api: Api,
    manager_a: Api,
    client: httpx.AsyncClient,
    runtime: Runtime,
    wechat: FakeWeChatPay,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    kiosk = api.as_(await device_token(runtime, stores["SH-A"], DeviceKind.KIOSK))
    other = api.as_(await device_token(runtime, stores["SH-B"], DeviceKind.KIOSK))
    walk_in = await placed(
        kiosk, order_input([(mango, 1)], pickup=lid(stores, "SH-A"), channel="KIOSK")
    )
    assert refusal(await start_payment(other, walk_in["id"], "wechatpay")) == (
        "NOT_FOUND",
        ["orderId"],
    )

    started = await start_payment(kiosk, walk_in["id"], "wechatpay")
    assert started["errors"] == [], started
    ref = started["payment"]["paymentRef"]
    tx = wechat.transactions[ref]
    assert tx.kind == "NATIVE" and "payer" not in tx.request
    assert started["payment"]["payload"] == {"codeUrl": tx.prepay}
    assert tx.prepay.startswith("weixin://wxpay/bizpayurl?pr=")
    assert tx.request["amount"] == {"total": PRICE, "currency": "CNY"}
    again = await start_payment(kiosk, walk_in["id"], "wechatpay")
    assert again["payment"] == started["payment"] and len(wechat.transactions) == 1
    rows = await OrderPaymentRow.all()
    assert [(r.provider_ref, r.method) for r in rows] == [(ref, "KIOSK_QR")]

    wechat.pay(ref)
    body = wechat.notification(ref)
    assert (await notify(client, body, wechat.signed_headers(body))).status_code == 204
    assert (await read(manager_a, walk_in["id"]))["status"] == "PAID"


async def test_a_payment_for_an_order_cancelled_meanwhile_is_refunded(
    client: httpx.AsyncClient,
    runtime: Runtime,
    wechat: FakeWeChatPay,
    member: Shopper,
    order: dict[str, Any],
) -> None:
    """The member paid in WeChat while cancelling in the mini-program: the cancel asks WeChat
    to close, hears it was paid, and gives the money back; the notification that follows has
    no second effect."""
    ref = (await start_payment(member.api, order["id"], "wechatpay"))["payment"]["paymentRef"]
    wechat.pay(ref)  # paid in WeChat before the cancel reached it
    cancelled = await member.api.data(CANCEL, {"o": order["id"], "r": "changed my mind"})
    assert cancelled["cancelOrder"]["errors"] == []
    assert wechat.closed == [ref]
    assert (await read(member.api, order["id"]))["status"] == "CANCELLED"
    body = wechat.notification(ref)
    assert (await notify(client, body, wechat.signed_headers(body))).status_code == 204
    rows = await OrderPaymentRow.all()
    assert sorted((str(r.kind), r.provider, str(r.status), r.amount) for r in rows) == sorted(
        [
            ("PAYMENT", "wechatpay", "SUCCEEDED", 2 * PRICE),
            ("REFUND", "wechatpay", "REFUND_PENDING", 2 * PRICE),
        ]
    )
    assert [k for k, _ in await outbox(runtime, order)].count("ORDER_REFUNDED") == 1


# ---------------------------------------------------------------- closing on timeout


async def run(runtime: Runtime, name: str) -> int:
    job = find_job(name)
    assert job is not None, name
    return await run_job(runtime, job)


async def status(runtime: Runtime, order: dict[str, Any]) -> str:
    """The order's status, read without the member's token (expired by the time it is asked)."""
    found = await runtime.repos.orders.get(decode_id(order["id"], "Order"))
    assert found is not None
    return found.status.value


async def reserved(runtime: Runtime, stores: dict[str, Any], variant: Variant) -> int:
    return (await level(runtime, stores["SH-A"].id, variant))[1]


async def test_an_unpaid_order_is_closed_at_wechat_before_its_stock_goes_back(
    runtime: Runtime,
    clock: MovableClock,
    wechat: FakeWeChatPay,
    member: Shopper,
    order: dict[str, Any],
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    ref = (await start_payment(member.api, order["id"], "wechatpay"))["payment"]["paymentRef"]
    clock.advance(timedelta(minutes=16))  # past the payment deadline
    # The reservation sweeper leaves goods that somebody may still pay for in WeChat.
    assert await run(runtime, "sweep_expired_reservations") == 0
    assert await reserved(runtime, stores, mango) == 2
    assert await run(runtime, "cancel_unpaid_orders") == 1
    assert wechat.closed == [ref] and wechat.transactions[ref].state == "CLOSED"
    assert await status(runtime, order) == "CANCELLED"
    assert await payments() == [("wechatpay", ref, "CLOSED")]
    assert await reserved(runtime, stores, mango) == 0
    assert await run(runtime, "cancel_unpaid_orders") == 0
    assert wechat.closed == [ref]  # closed once


async def test_a_payment_made_just_before_the_close_pays_the_order(
    runtime: Runtime,
    clock: MovableClock,
    wechat: FakeWeChatPay,
    member: Shopper,
    order: dict[str, Any],
) -> None:
    ref = (await start_payment(member.api, order["id"], "wechatpay"))["payment"]["paymentRef"]
    wechat.pay(ref)  # in the last second; the notification is still on its way
    clock.advance(timedelta(minutes=16))
    assert await run(runtime, "cancel_unpaid_orders") == 0
    assert wechat.closed == [ref]  # refused with ORDERPAID, then asked how it stands
    assert await status(runtime, order) == "PAID"
    assert await payments() == [("wechatpay", ref, "SUCCEEDED")]


async def test_wechat_unreachable_holds_the_goods_for_the_grace_then_a_late_payment_is_refunded(
    client: httpx.AsyncClient,
    runtime: Runtime,
    clock: MovableClock,
    wechat: FakeWeChatPay,
    member: Shopper,
    order: dict[str, Any],
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    ref = (await start_payment(member.api, order["id"], "wechatpay"))["payment"]["paymentRef"]
    wechat.close_errors = [(500, "SYSTEM_ERROR", "busy")] * 2
    clock.advance(timedelta(minutes=16))
    assert await run(runtime, "cancel_unpaid_orders") == 0
    assert await status(runtime, order) == "PENDING_PAYMENT"
    assert await reserved(runtime, stores, mango) == 2  # still held: it may yet be paid

    clock.advance(CLOSE_GRACE)  # WeChat still not answering: cancel anyway
    assert await run(runtime, "cancel_unpaid_orders") == 1
    assert wechat.closed == [ref, ref]
    assert await status(runtime, order) == "CANCELLED"
    assert await reserved(runtime, stores, mango) == 0

    wechat.pay(ref)  # the transaction was never closed: the payer got through after all
    body = wechat.notification(ref)
    assert (await notify(client, body, wechat.signed_headers(body))).status_code == 204
    rows = await OrderPaymentRow.all()
    assert sorted((str(r.kind), str(r.status), r.amount) for r in rows) == [
        ("PAYMENT", "SUCCEEDED", 2 * PRICE),
        ("REFUND", "REFUND_PENDING", 2 * PRICE),
    ]


async def test_notifications_out_of_order_never_undo_a_payment(
    client: httpx.AsyncClient,
    runtime: Runtime,
    wechat: FakeWeChatPay,
    member: Shopper,
    order: dict[str, Any],
) -> None:
    """WeChat sent USERPAYING, then SUCCESS; they arrive the other way round."""
    ref = (await start_payment(member.api, order["id"], "wechatpay"))["payment"]["paymentRef"]
    earlier = wechat.notification(ref, trade_state="USERPAYING")
    wechat.pay(ref)
    paid = wechat.notification(ref)
    assert (await notify(client, paid, wechat.signed_headers(paid))).status_code == 204
    assert (await notify(client, earlier, wechat.signed_headers(earlier))).status_code == 204
    assert (await read(member.api, order["id"]))["status"] == "PAID"
    assert await payments() == [("wechatpay", ref, "SUCCEEDED")]
    assert [k for k, _ in await outbox(runtime, order)].count("ORDER_PAID") == 1
