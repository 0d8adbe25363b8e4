"""`omnishelf wechatpay certificates --output DIR` (issue 15) in a subprocess against the fake
WeChat Pay server served on a socket: with no verification key configured it downloads,
verifies and writes the platform certificate, and the written file is what the settings take."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from domain.clock import SystemClock
from infra.settings import Settings
from infra.wechatpay import WeChatPayClient, WeChatPayError
from tests.fakes.wechatpay_server import APIV3_KEY, MCHID, FakeWeChatPay
from tests.support.ws import serve_asgi

MCHID_Q = {"mchid": MCHID}


def wall_clock() -> datetime:
    return datetime.now(UTC)  # the subprocess signs with the system clock: so does the server


@pytest.fixture
async def wechat() -> AsyncIterator[tuple[FakeWeChatPay, str]]:
    fake = FakeWeChatPay(wall_clock)
    fake.use_certificates()
    async with serve_asgi(fake.app) as address:
        yield fake, f"http://{address}"


def wechatpay_env(fake: FakeWeChatPay, folder: Path, api_base: str) -> dict[str, str]:
    private, _ = fake.write_keys(folder)
    return {
        "PAYMENT_PROVIDERS": "wechatpay",
        "WECHATPAY_MCHID": MCHID,
        "WECHATPAY_MERCHANT_SERIAL": "3775B6A45ACD588826D15E583A95F5DD3B8AC8F5",
        "WECHATPAY_PRIVATE_KEY_FILE": str(private),
        "WECHATPAY_APIV3_KEY": APIV3_KEY.decode(),
        "WECHATPAY_NOTIFY_URL": "https://shop.example.com/webhooks/payments/wechatpay",
        "WECHATPAY_API_BASE": api_base,
    }


async def omnishelf(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """The console script with only these WECHATPAY_* settings (none from the test's env)."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("WECHATPAY_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "infra.cli",
        *args,
        env={**inherited, "OMNISHELF_ENV": "development", **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_certificates_are_downloaded_verified_and_written(
    wechat: tuple[FakeWeChatPay, str], tmp_path: Path
) -> None:
    fake, api_base = wechat
    env = wechatpay_env(fake, tmp_path, api_base)
    folder = tmp_path / "certs"
    code, out, err = await omnishelf(env, "wechatpay", "certificates", "--output", str(folder))
    assert code == 0, err
    serial = fake.certificate.serial
    path = folder / f"wechatpay_{serial}.pem"
    assert [p.name for p in folder.iterdir()] == [path.name]
    assert path.read_bytes() == fake.certificate.pem
    assert f"serial {serial}  valid " in out
    assert f"signed under {serial} and verified with the certificate it brought" in out
    assert f"Set WECHATPAY_PLATFORM_CERT_FILES={path.resolve()}\n" in out

    # The file written is what the settings take: WeChat's next answers verify with it.
    settings = Settings.from_env({**env, "WECHATPAY_PLATFORM_CERT_FILES": str(path)})
    assert settings.wechatpay is not None
    client = WeChatPayClient(settings.wechatpay, SystemClock(), httpx.ASGITransport(fake.app))
    with pytest.raises(WeChatPayError) as refused:  # a signed, verified error answer
        await client.request("GET", "/v3/pay/transactions/out-trade-no/nosuch123", query=MCHID_Q)
    assert refused.value.code == "ORDER_NOT_EXIST"
    await client.aclose()

    # Run again with that setting: the certificate is recognised as configured.
    again = {**env, "WECHATPAY_PLATFORM_CERT_FILES": str(path)}
    code, out, err = await omnishelf(again, "wechatpay", "certificates", "--output", str(folder))
    assert code == 0, err
    assert "(already configured)" in out and "verified with a configured key" in out


async def test_a_wrong_apiv3_key_or_setting_writes_nothing(
    wechat: tuple[FakeWeChatPay, str], tmp_path: Path
) -> None:
    fake, api_base = wechat
    env = wechatpay_env(fake, tmp_path, api_base)
    folder = tmp_path / "certs"
    wrong = {**env, "WECHATPAY_APIV3_KEY": "k" * 32}
    code, _, err = await omnishelf(wrong, "wechatpay", "certificates", "--output", str(folder))
    assert code == 1 and "do not decrypt with WECHATPAY_APIV3_KEY" in err
    missing = {**env, "WECHATPAY_MCHID": ""}
    code, _, err = await omnishelf(missing, "wechatpay", "certificates", "--output", str(folder))
    assert code == 2 and "configuration error" in err and "WECHATPAY_MCHID" in err
    assert not folder.exists()
