"""WeChat Pay with platform certificates (issue 15): payOrder → notification → paid when the
fake server signs under its certificate's serial and the runtime verifies with that certificate
alone; a notification under the public key's serial, which is not configured, is refused."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from domain.catalog.model import Variant
from infra.db.models.orders import OrderPaymentRow
from infra.runtime import Runtime
from tests.fakes.wechatpay_server import PUBLIC_KEY_ID, FakeWeChatPay
from tests.support import MovableClock
from tests.support.api import Api
from tests.support.orders import (
    lid,
    make_variants,
    order_input,
    placed,
    read,
    receive,
    start_payment,
)
from tests.support.shoppers import Shopper, shopper
from tests.support.wechatpay import wechatpay_on

HOOK = "/webhooks/payments/wechatpay"


@pytest.fixture
async def wechat(runtime: Runtime, clock: MovableClock) -> AsyncIterator[FakeWeChatPay]:
    async with wechatpay_on(runtime, clock, certificates=True) as fake:
        yield fake


@pytest.fixture
async def mango(runtime: Runtime, stores: dict[str, Any]) -> Variant:
    (variant,) = await make_variants(runtime, ("M-1", "1kg", 1990))
    await receive(runtime, stores["SH-A"].id, variant, 10)
    return variant


@pytest.fixture
async def member(api: Api) -> Shopper:
    return await shopper(api, "open-cert-payer")


async def test_pay_and_notify_under_the_platform_certificate(
    client: httpx.AsyncClient,
    runtime: Runtime,
    wechat: FakeWeChatPay,
    member: Shopper,
    stores: dict[str, Any],
    mango: Variant,
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = runtime.settings.wechatpay
    assert config is not None and config.public_key is None
    assert [c.serial for c in config.platform_certificates] == [wechat.certificate.serial]
    order = await placed(member.api, order_input([(mango, 2)], pickup=lid(stores, "SH-A")))

    # payOrder's answer from WeChat is signed under the certificate's serial and believed.
    started = await start_payment(member.api, order["id"], "wechatpay")
    assert started["errors"] == [], started
    ref = started["payment"]["paymentRef"]
    assert wechat.transactions[ref].prepay in started["payment"]["payload"]["package"]

    wechat.pay(ref)
    body = wechat.notification(ref)
    # Signed by the same key, but under the public key's id, which this server does not know.
    with caplog.at_level(logging.WARNING, logger="omnishelf.webhooks"):
        stranger = await client.post(
            HOOK, content=body, headers=wechat.signed_headers(body, serial=PUBLIC_KEY_ID)
        )
    assert stranger.status_code == 401 and stranger.json()["code"] == "FAIL"
    whys = [getattr(r, "why", "") for r in caplog.records if r.name == "omnishelf.webhooks"]
    assert whys == [f"unknown Wechatpay-Serial {PUBLIC_KEY_ID!r}"]
    assert (await read(member.api, order["id"]))["status"] == "PENDING_PAYMENT"

    headers = wechat.signed_headers(body)
    assert headers["Wechatpay-Serial"] == wechat.certificate.serial
    hook = await client.post(HOOK, content=body, headers=headers)
    assert (hook.status_code, hook.content) == (204, b"")
    assert (await read(member.api, order["id"]))["status"] == "PAID"
    row = await OrderPaymentRow.get(provider_ref=ref)
    assert (row.provider, str(row.status)) == ("wechatpay", "SUCCEEDED")
