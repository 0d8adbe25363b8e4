"""`omnishelf devpay pay ORDER` (issue 14) in a subprocess against the app served on a socket:
the signed notification it sends, or prints as a curl command, pays the order once."""

from __future__ import annotations

import asyncio
import os
import shlex
import sys
from typing import Any

import httpx

from infra.payments import SIGNATURE_HEADER
from infra.runtime import Runtime
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
from tests.support.shoppers import shopper
from tests.support.ws import serve


async def omnishelf(runtime: Runtime, *args: str) -> tuple[int, str, str]:
    """The console script, on the test's database, while the test's loop keeps serving."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "infra.cli",
        *args,
        env={**os.environ, "DATABASE_URL": runtime.settings.database_url, "REDIS_URL": ""},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def unpaid_order(api: Api, runtime: Runtime, stores: dict[str, Any]) -> tuple[Api, Any]:
    (mango,) = await make_variants(runtime, ("M-1", "1kg", 1990))
    await receive(runtime, stores["SH-A"].id, mango, 5)
    member = await shopper(api, "devpay-cli")
    order = await placed(member.api, order_input([(mango, 2)], pickup=lid(stores, "SH-A")))
    started = await start_payment(member.api, order["id"])
    assert started["errors"] == [], started
    return member.api, order


async def test_devpay_pay_sends_the_signed_notification_to_the_server(
    api: Api, runtime: Runtime, stores: dict[str, Any]
) -> None:
    member, order = await unpaid_order(api, runtime, stores)
    async with serve(runtime) as address:
        url = f"http://{address}"
        code, out, err = await omnishelf(runtime, "devpay", "pay", order["number"], "--url", url)
        assert code == 0, err
        assert f"order {order['number']}: HTTP 200" in out and '"result":"paid"' in out
        assert (await read(member, order["id"]))["status"] == "PAID"

        again = await omnishelf(runtime, "devpay", "pay", order["id"], "--url", url)
        assert again[0] == 2 and "has no pending devpay payment" in again[2]
        unknown = await omnishelf(runtime, "devpay", "pay", "NOSUCHORDER", "--url", url)
        assert unknown[0] == 2 and "no order with id or number 'NOSUCHORDER'" in unknown[2]


async def test_devpay_pay_prints_a_curl_command_that_pays(
    api: Api, client: httpx.AsyncClient, runtime: Runtime, stores: dict[str, Any]
) -> None:
    member, order = await unpaid_order(api, runtime, stores)
    code, out, err = await omnishelf(
        runtime, "devpay", "pay", order["id"], "--print", "--url", "http://shop.test"
    )
    assert code == 0, err
    words = shlex.split(out)
    assert words[:4] == ["curl", "-sS", "-X", "POST"]
    assert words[4] == "http://shop.test/webhooks/payments/devpay"
    header = next(w for w in words if w.lower().startswith(SIGNATURE_HEADER + ":"))
    body = words[words.index("--data-raw") + 1]
    assert (await read(member, order["id"]))["status"] == "PENDING_PAYMENT"  # printed only

    sent = await client.post(
        "/webhooks/payments/devpay",
        content=body.encode(),
        headers={SIGNATURE_HEADER: header.split(":", 1)[1].strip()},
    )
    assert (sent.status_code, sent.json()) == (200, {"result": "paid"})
    assert (await read(member, order["id"]))["status"] == "PAID"
