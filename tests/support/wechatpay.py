"""The runtime with WeChat Pay on, its client talking to the fake WeChat Pay server over ASGI."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from infra.runtime import Runtime
from tests.fakes.wechatpay_server import FakeWeChatPay
from tests.support.clock import MovableClock


@asynccontextmanager
async def wechatpay_on(
    runtime: Runtime,
    clock: MovableClock,
    fake: FakeWeChatPay | None = None,
    *,
    certificates: bool = False,
) -> AsyncIterator[FakeWeChatPay]:
    """PAYMENT_PROVIDERS=devpay,wechatpay against a fresh fake server (or `fake`, with keys
    of its own); put back as it was. `certificates`: verified with the server's platform
    certificate, not the public key."""
    fake = fake or FakeWeChatPay(clock.now)
    if certificates:
        fake.use_certificates()
    before = runtime.settings
    runtime.settings = dataclasses.replace(
        before, payment_providers=("devpay", "wechatpay"), wechatpay=fake.config()
    )
    runtime.wechatpay_transport = httpx.ASGITransport(app=fake.app)
    runtime.wechatpay = runtime._wechatpay()
    runtime._rebuild_deps()
    try:
        yield fake
    finally:
        assert runtime.wechatpay is not None
        await runtime.wechatpay.aclose()
        runtime.settings, runtime.wechatpay_transport = before, None
        runtime.wechatpay = runtime._wechatpay()
        runtime._rebuild_deps()
