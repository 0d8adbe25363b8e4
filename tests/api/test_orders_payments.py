"""Paying for orders (issue 5): the devpay webhook (signed, once, amount checked, refunded
when the order is gone), payment at the till, and who may start a payment."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from api.relay import encode_id
from domain.catalog.model import Variant
from domain.identity.model import StaffRole
from domain.ids import new_id
from domain.inventory.reservations import sweep_expired
from domain.ordering.lifecycle import cancel_unpaid
from infra.db.models.orders import OrderPaymentRow
from infra.payments import SIGNATURE_HEADER, sign_body
from infra.runtime import Runtime
from tests.support import MovableClock
from tests.support.api import Api, staff_api
from tests.support.orders import (
    CANCEL,
    in_store,
    level,
    lid,
    make_variants,
    notice,
    order_input,
    order_key,
    outbox,
    pay_online,
    placed,
    read,
    receive,
    start_payment,
    webhook,
)
from tests.support.payloads import refusal
from tests.support.shoppers import Shopper, shopper

PRICE = 1990


@pytest.fixture
async def mango(runtime: Runtime, stores: dict[str, Any]) -> Variant:
    (variant,) = await make_variants(runtime, ("M-1", "1kg", PRICE))
    await receive(runtime, stores["SH-A"].id, variant, 10)
    return variant


@pytest.fixture
async def member(api: Api) -> Shopper:
    return await shopper(api, "open-payer")


@pytest.fixture
async def cs(api: Api, runtime: Runtime) -> Api:
    return await staff_api(api, runtime, "cs-agent", StaffRole.CS_AGENT, [])


@pytest.fixture
async def order(member: Shopper, stores: dict[str, Any], mango: Variant) -> dict[str, Any]:
    """A pickup order of two mangoes at SH-A, waiting for payment."""
    return await placed(member.api, order_input([(mango, 2)], pickup=lid(stores, "SH-A")))


def payments(seen: dict[str, Any]) -> list[tuple[str, str, str, int, str]]:
    return [
        (p["kind"], p["provider"], p["method"], p["amount"]["amount"], p["status"])
        for p in seen["payments"]
    ]


def transitions(seen: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [(e["fromStatus"], e["toStatus"]) for e in seen["timeline"]]


# ---------------------------------------------------------------- the webhook


async def test_a_forged_or_unreadable_notification_changes_nothing(
    client: httpx.AsyncClient,
    runtime: Runtime,
    member: Shopper,
    cs: Api,
    order: dict[str, Any],
) -> None:
    started = await start_payment(member.api, order["id"])
    ref = started["payment"]["paymentRef"]
    body = notice(ref, 2 * PRICE)
    secret = runtime.settings.payment_secret

    attempts = [
        await webhook(client, runtime, body, signature="0" * 64),
        await webhook(client, runtime, body, signature=sign_body(secret, notice(ref, 1))),
        await webhook(client, runtime, body, signature=sign_body("another-secret", body)),
        await webhook(client, runtime, body, signature=""),
        await client.post("/webhooks/payments/devpay", content=body),
    ]

    # Signed, but not a notification (issue 12, 6: the last three gave HTTP 500, and 990.9
    # fen was taken as 990).
    def amount_of(raw: bytes) -> bytes:
        return notice(ref, 0).replace(b'"amount": 0', b'"amount": ' + raw)

    deep = b'{"paymentRef": "' + ref.encode() + b'", "x": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    malformed = [
        await webhook(client, runtime, raw)
        for raw in (
            b"{not json",
            b'{"amount": 3980, "status": "SUCCEEDED"}',
            b'{"paymentRef": "x", "amount": "lots"}',
            b"[1, 2]",
            amount_of(b"1e400"),
            amount_of(str(2 * PRICE - 0.1).encode()),
            amount_of(b"true"),
            deep,
            b"[" * 100_000,
        )
    ]

    assert [(r.status_code, r.json()) for r in attempts] == [(401, {"result": "rejected"})] * 5
    assert [(r.status_code, r.json()) for r in malformed] == [(400, {"result": "malformed"})] * 9
    seen = await read(cs, order["id"])
    assert seen["status"] == "PENDING_PAYMENT" and seen["paidAt"] is None
    assert payments(seen) == [("PAYMENT", "devpay", "ONLINE", 2 * PRICE, "PENDING")]
    assert transitions(seen) == [(None, "PENDING_PAYMENT")]
    assert await outbox(runtime, order) == []

    # The genuine notification still works afterwards.
    genuine = await webhook(client, runtime, body)
    assert (genuine.status_code, genuine.json()) == (200, {"result": "paid"})
    assert (await read(cs, order["id"]))["status"] == "PAID"


async def test_a_repeated_notification_has_no_second_effect(
    client: httpx.AsyncClient,
    runtime: Runtime,
    member: Shopper,
    cs: Api,
    stores: dict[str, Any],
    mango: Variant,
    order: dict[str, Any],
) -> None:
    ref = await pay_online(client, runtime, member, order)
    first = await read(cs, order["id"])

    for _ in range(2):
        again = await webhook(client, runtime, notice(ref, 2 * PRICE))
        assert (again.status_code, again.json()) == (200, {"result": "duplicate"})

    seen = await read(cs, order["id"])
    assert seen["status"] == "PAID" and seen["paidAt"] == first["paidAt"]
    assert transitions(seen) == [(None, "PENDING_PAYMENT"), ("PENDING_PAYMENT", "PAID")]
    assert [e["actor"] for e in seen["timeline"]][1] == "PROVIDER:devpay"
    assert payments(seen) == [("PAYMENT", "devpay", "ONLINE", 2 * PRICE, "SUCCEEDED")]
    assert await outbox(runtime, order) == [("ORDER_PAID", f"order:{order_key(order)}:paid")]
    assert await level(runtime, stores["SH-A"].id, mango) == (10, 2)


@pytest.mark.parametrize(
    ("amount", "currency"), [(2 * PRICE - 1, "CNY"), (1, "CNY"), (2 * PRICE, "USD")]
)
async def test_an_amount_or_currency_mismatch_is_refused_and_the_order_stays_unpaid(
    client: httpx.AsyncClient,
    runtime: Runtime,
    member: Shopper,
    cs: Api,
    order: dict[str, Any],
    amount: int,
    currency: str,
) -> None:
    ref = (await start_payment(member.api, order["id"]))["payment"]["paymentRef"]

    refused = await webhook(client, runtime, notice(ref, amount, currency))

    assert (refused.status_code, refused.json()) == (422, {"result": "mismatch"})
    seen = await read(cs, order["id"])
    assert seen["status"] == "PENDING_PAYMENT" and seen["paidAt"] is None
    assert payments(seen) == [("PAYMENT", "devpay", "ONLINE", 2 * PRICE, "PENDING")]
    assert await outbox(runtime, order) == []
    # The refusal did not use the payment up: the right notification still pays.
    right = await webhook(client, runtime, notice(ref, 2 * PRICE))
    assert right.json() == {"result": "paid"}


@pytest.mark.parametrize("cancelled_by", ["member", "payment-timeout"])
async def test_a_payment_for_a_cancelled_order_is_refunded_and_the_order_stays_cancelled(
    api: Api,
    client: httpx.AsyncClient,
    runtime: Runtime,
    clock: MovableClock,
    member: Shopper,
    stores: dict[str, Any],
    mango: Variant,
    order: dict[str, Any],
    cancelled_by: str,
) -> None:
    ref = (await start_payment(member.api, order["id"]))["payment"]["paymentRef"]
    if cancelled_by == "member":
        done = (await member.api.data(CANCEL, {"o": order["id"], "r": "changed my mind"}))[
            "cancelOrder"
        ]
        assert done["errors"] == [] and done["order"]["status"] == "CANCELLED", done
    else:
        clock.advance(timedelta(minutes=16))
        assert await cancel_unpaid(runtime.ordering) == 1
    assert await level(runtime, stores["SH-A"].id, mango) == (10, 0)

    late = await webhook(client, runtime, notice(ref, 2 * PRICE))

    assert (late.status_code, late.json()) == (200, {"result": "refunded"})
    cs = await staff_api(api, runtime, "cs-agent", StaffRole.CS_AGENT, [])
    seen = await read(cs, order["id"])
    assert seen["status"] == "CANCELLED" and seen["paidAt"] is None
    assert payments(seen) == [
        ("PAYMENT", "devpay", "ONLINE", 2 * PRICE, "SUCCEEDED"),
        ("REFUND", "devpay", "ONLINE", 2 * PRICE, "REFUND_PENDING"),
    ]
    key = order_key(order)
    assert await outbox(runtime, order) == [
        ("ORDER_CANCELLED", f"order:{key}:cancelled"),
        ("ORDER_REFUNDED", f"order:{key}:refunded"),
    ]
    assert [e["toStatus"] for e in seen["timeline"]] == ["PENDING_PAYMENT", "CANCELLED"]
    assert await level(runtime, stores["SH-A"].id, mango) == (10, 0)

    # Told twice, refunded once.
    again = await webhook(client, runtime, notice(ref, 2 * PRICE))
    assert again.json() == {"result": "duplicate"}
    assert await OrderPaymentRow.filter(order_id=key).count() == 2


async def test_a_second_payment_of_the_same_order_is_refunded(
    client: httpx.AsyncClient,
    runtime: Runtime,
    member: Shopper,
    cs: Api,
    order: dict[str, Any],
) -> None:
    """The shopper started paying twice (two phones, a retry) and both went through."""
    first = (await start_payment(member.api, order["id"]))["payment"]["paymentRef"]
    second = (await start_payment(member.api, order["id"]))["payment"]["paymentRef"]
    assert first != second

    assert (await webhook(client, runtime, notice(first, 2 * PRICE))).json() == {"result": "paid"}
    assert (await webhook(client, runtime, notice(second, 2 * PRICE))).json() == {
        "result": "refunded"
    }

    seen = await read(cs, order["id"])
    assert seen["status"] == "PAID"
    assert sorted(payments(seen)) == [
        ("PAYMENT", "devpay", "ONLINE", 2 * PRICE, "SUCCEEDED"),
        ("PAYMENT", "devpay", "ONLINE", 2 * PRICE, "SUCCEEDED"),
        ("REFUND", "devpay", "ONLINE", 2 * PRICE, "REFUND_PENDING"),
    ]
    assert [k for k, _ in await outbox(runtime, order)] == ["ORDER_PAID", "ORDER_REFUNDED"]

    # Cancelled now: the first payment is refunded too, the second not a second time.
    done = (await member.api.data(CANCEL, {"o": order["id"], "r": "changed my mind"}))[
        "cancelOrder"
    ]
    assert done["errors"] == [] and done["order"]["status"] == "CANCELLED", done
    assert sorted(payments(await read(cs, order["id"]))) == [
        ("PAYMENT", "devpay", "ONLINE", 2 * PRICE, "SUCCEEDED"),
        ("PAYMENT", "devpay", "ONLINE", 2 * PRICE, "SUCCEEDED"),
        ("REFUND", "devpay", "ONLINE", 2 * PRICE, "REFUND_PENDING"),
        ("REFUND", "devpay", "ONLINE", 2 * PRICE, "REFUND_PENDING"),
    ]


async def test_unknown_providers_and_payments(
    client: httpx.AsyncClient,
    runtime: Runtime,
    member: Shopper,
    cs: Api,
    order: dict[str, Any],
) -> None:
    ref = (await start_payment(member.api, order["id"]))["payment"]["paymentRef"]
    body = notice(ref, 2 * PRICE)

    other_provider = await webhook(client, runtime, body, provider="alipay")
    assert (other_provider.status_code, other_provider.json()) == (401, {"result": "rejected"})
    no_provider = await client.post("/webhooks/payments/", content=body)
    assert no_provider.status_code in (404, 405)
    unknown = await webhook(client, runtime, notice(f"dp_{new_id().hex}", 2 * PRICE))
    assert (unknown.status_code, unknown.json()) == (404, {"result": "unknown"})
    failed = await webhook(client, runtime, notice(ref, 2 * PRICE, status="FAILED"))
    assert (failed.status_code, failed.json()) == (200, {"result": "ignored"})
    wrong_verb = await client.get(
        "/webhooks/payments/devpay",
        headers={SIGNATURE_HEADER: sign_body(runtime.settings.payment_secret, b"")},
    )
    assert wrong_verb.status_code == 405

    seen = await read(cs, order["id"])
    assert seen["status"] == "PENDING_PAYMENT"
    assert payments(seen) == [("PAYMENT", "devpay", "ONLINE", 2 * PRICE, "PENDING")]
    assert await outbox(runtime, order) == []


# ---------------------------------------------------------------- at the till


async def test_in_store_payment_must_match_the_total(
    api: Api,
    client: httpx.AsyncClient,
    runtime: Runtime,
    member: Shopper,
    manager_a: Api,
    cs: Api,
    stores: dict[str, Any],
    order: dict[str, Any],
) -> None:
    online = (await start_payment(member.api, order["id"]))["payment"]["paymentRef"]
    manager_b = await staff_api(
        api, runtime, "manager-b", StaffRole.STORE_MANAGER, [stores["SH-B"]]
    )

    assert refusal(await in_store(manager_a, order["id"], 2 * PRICE - 10)) == (
        "AMOUNT_MISMATCH",
        ["amount"],
    )
    assert refusal(await in_store(manager_a, order["id"], 2 * PRICE, "BITCOIN")) == (
        "INVALID_INPUT",
        ["method"],
    )
    for outsider in (manager_b, member.api, cs):
        assert refusal(await in_store(outsider, order["id"], 2 * PRICE)) == (
            "FORBIDDEN",
            ["orderId"],
        )
    assert refusal(await in_store(manager_a, encode_id("Order", new_id()), 2 * PRICE)) == (
        "NOT_FOUND",
        ["orderId"],
    )
    assert (await read(cs, order["id"]))["status"] == "PENDING_PAYMENT"

    paid = await in_store(manager_a, order["id"], 2 * PRICE, "WECHAT_PAY_QR")
    assert paid["errors"] == [] and paid["order"]["status"] == "PAID", paid
    assert paid["order"]["paidAt"] is not None

    seen = await read(cs, order["id"])
    assert ("PAYMENT", "IN_STORE", "WECHAT_PAY_QR", 2 * PRICE, "SUCCEEDED") in payments(seen)
    assert seen["timeline"][-1]["toStatus"] == "PAID"
    assert seen["timeline"][-1]["actor"].startswith("STAFF:")
    assert [k for k, _ in await outbox(runtime, order)] == ["ORDER_PAID"]

    assert refusal(await in_store(manager_a, order["id"], 2 * PRICE)) == (
        "PAYMENT_NOT_ALLOWED",
        ["orderId"],
    )
    # The online payment the shopper had started arrives after all: it is given back.
    late = await webhook(client, runtime, notice(online, 2 * PRICE))
    assert late.json() == {"result": "refunded"}
    assert (await read(cs, order["id"]))["status"] == "PAID"


async def test_a_paid_order_keeps_its_stock_past_the_payment_timeout(
    api: Api,
    client: httpx.AsyncClient,
    runtime: Runtime,
    clock: MovableClock,
    member: Shopper,
    stores: dict[str, Any],
    mango: Variant,
    order: dict[str, Any],
) -> None:
    await pay_online(client, runtime, member, order)
    clock.advance(timedelta(minutes=30))

    assert await sweep_expired(runtime.inventory) == 0
    assert await cancel_unpaid(runtime.ordering) == 0

    cs = await staff_api(api, runtime, "cs-agent", StaffRole.CS_AGENT, [])
    assert (await read(cs, order["id"]))["status"] == "PAID"
    assert await level(runtime, stores["SH-A"].id, mango) == (10, 2)


# ---------------------------------------------------------------- payOrder


async def test_only_the_owner_pays_an_unpaid_order(
    api: Api,
    client: httpx.AsyncClient,
    runtime: Runtime,
    member: Shopper,
    manager_a: Api,
    order: dict[str, Any],
) -> None:
    someone = await shopper(api, "open-someone-else")
    assert refusal(await start_payment(someone.api, order["id"])) == ("NOT_FOUND", ["orderId"])
    assert refusal(await start_payment(manager_a, order["id"])) == ("NOT_FOUND", ["orderId"])
    assert refusal(await start_payment(member.api, encode_id("Order", new_id()))) == (
        "NOT_FOUND",
        ["orderId"],
    )
    unknown = await start_payment(member.api, order["id"], "alipay")
    assert refusal(unknown) == ("INVALID_INPUT", ["provider"])
    assert "this server takes devpay" in unknown["errors"][0]["message"]
    assert refusal(await start_payment(member.api, "not-an-id"))[0] == "INVALID_ID"
    assert await OrderPaymentRow.all().count() == 0

    started = await start_payment(member.api, order["id"], None)  # the first enabled provider
    assert started["errors"] == [] and started["order"]["status"] == "PENDING_PAYMENT"
    instructions = started["payment"]
    assert instructions["provider"] == "devpay"
    assert instructions["paymentRef"].startswith("dp_")
    assert instructions["payload"] == {
        "provider": "devpay",
        "paymentRef": instructions["paymentRef"],
        "amount": str(2 * PRICE),
        "currency": "CNY",
        "webhook": "/webhooks/payments/devpay",
    }

    hook = await webhook(client, runtime, notice(instructions["paymentRef"], 2 * PRICE))
    assert hook.json() == {"result": "paid"}
    assert refusal(await start_payment(member.api, order["id"])) == (
        "PAYMENT_NOT_ALLOWED",
        ["orderId"],
    )
    assert await OrderPaymentRow.all().count() == 1


async def test_a_cancelled_order_cannot_be_paid(
    member: Shopper, order: dict[str, Any], manager_a: Api
) -> None:
    done = (await member.api.data(CANCEL, {"o": order["id"], "r": "ordered by mistake"}))[
        "cancelOrder"
    ]
    assert done["errors"] == [], done
    assert refusal(await start_payment(member.api, order["id"])) == (
        "PAYMENT_NOT_ALLOWED",
        ["orderId"],
    )
    assert refusal(await in_store(manager_a, order["id"], 2 * PRICE)) == (
        "PAYMENT_NOT_ALLOWED",
        ["orderId"],
    )


async def test_the_payment_deadline_has_passed_but_the_job_has_not_run(
    api: Api,
    client: httpx.AsyncClient,
    runtime: Runtime,
    clock: MovableClock,
    member: Shopper,
    order: dict[str, Any],
) -> None:
    """A payment that arrives before the sweeper cancels the order still pays it."""
    ref = (await start_payment(member.api, order["id"]))["payment"]["paymentRef"]
    clock.advance(timedelta(minutes=16))
    assert (await webhook(client, runtime, notice(ref, 2 * PRICE))).json() == {"result": "paid"}
    assert await cancel_unpaid(runtime.ordering) == 0
    assert await sweep_expired(runtime.inventory) == 0
    cs = await staff_api(api, runtime, "cs-agent", StaffRole.CS_AGENT, [])
    assert (await read(cs, order["id"]))["status"] == "PAID"
