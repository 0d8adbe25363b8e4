"""WeChat Pay for the benchmark: the fake server of tests/fakes/wechatpay_server.py as its own
process, the merchant's settings that point the server at it, and the orders each run pays.

    python -m bench.wechatpay --keys DIR --port N     # the fake server (uvicorn, one process)

The runner makes fresh keys per run (the merchant's, which signs our requests, and WeChat's,
which signs the answers and the notifications), writes them to PEM files and starts the fake
server on them; `omnishelf serve` reads the same files through its WECHATPAY_* settings.

The orders each run pays are bench.prepared's."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from bench.database import WECHAT_APP
from bench.processes import Group, free_port
from tests.fakes.wechatpay_server import (
    APIV3_KEY,
    MCHID,
    MERCHANT_SERIAL,
    PUBLIC_KEY_ID,
    FakeWeChatPay,
)

NOTIFY = "wechatpay_notify"
PAY_ORDER = "wechatpay_pay_order"
SCENARIOS = (NOTIFY, PAY_ORDER)
NOTIFY_URL = "https://bench.invalid/webhooks/payments/wechatpay"


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Keys:
    """The merchant's private key and WeChat Pay's, as PEM files in `folder`."""

    folder: Path

    @property
    def merchant(self) -> Path:
        return self.folder / "apiclient_key.pem"

    @property
    def platform_public(self) -> Path:
        return self.folder / "pub_key.pem"

    @property
    def platform(self) -> Path:
        return self.folder / "wechatpay_private.pem"

    @classmethod
    def make(cls, folder: Path) -> Keys:
        fake = FakeWeChatPay(_now)
        fake.write_keys(folder)  # the merchant's private key, WeChat's public key
        keys = cls(folder)
        keys.platform.write_bytes(
            fake.platform_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return keys

    def fake(self) -> FakeWeChatPay:
        """The fake with these keys (its clock the real one)."""
        return FakeWeChatPay(
            _now, merchant_key=_private(self.merchant), platform_key=_private(self.platform)
        )


def _private(path: Path) -> RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, RSAPrivateKey)
    return key


def server_env(keys: Keys, api_base: str) -> dict[str, str]:
    """The WECHATPAY_* settings of a merchant whose WeChat Pay is the fake at `api_base` (on
    this machine: production mode accepts it only with WECHATPAY_LOOPBACK_IN_PRODUCTION)."""
    return {
        "PAYMENT_PROVIDERS": "devpay,wechatpay",
        "WECHATPAY_MCHID": MCHID,
        "WECHATPAY_APPID": WECHAT_APP,  # the seeded members' openids are of this app
        "WECHATPAY_MERCHANT_SERIAL": MERCHANT_SERIAL,
        "WECHATPAY_PRIVATE_KEY_FILE": str(keys.merchant),
        "WECHATPAY_APIV3_KEY": APIV3_KEY.decode(),
        "WECHATPAY_PUBLIC_KEY_FILE": str(keys.platform_public),
        "WECHATPAY_PUBLIC_KEY_ID": PUBLIC_KEY_ID,
        "WECHATPAY_NOTIFY_URL": NOTIFY_URL,
        "WECHATPAY_API_BASE": api_base,
        "WECHATPAY_LOOPBACK_IN_PRODUCTION": "1",
    }


def config(keys: Keys, api_base: str) -> Any:
    """The same merchant as a WeChatPayConfig (the runner's in-process check)."""
    return keys.fake().config(api_base, appid=WECHAT_APP, notify_url=NOTIFY_URL)


@contextlib.asynccontextmanager
async def fake_server(keys: Keys, logs: Path) -> AsyncIterator[tuple[str, Group]]:
    """`python -m bench.wechatpay` in its own process group; yields (base URL, group)."""
    import sys

    from bench.processes import ROOT

    port = free_port()
    log = logs / "wechatpay.log"
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.wechatpay", "--keys", str(keys.folder),
            "--port", str(port),
            cwd=ROOT, stdout=out, stderr=out, start_new_session=True,
        )  # fmt: skip
    group = Group("wechatpay", process, log)
    base = f"http://127.0.0.1:{port}"
    try:
        await _listening(base, group)
        yield base, group
    finally:
        await group.stop()


async def _listening(base: str, group: Group) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(base_url=base, timeout=2) as client:
        while True:
            if group.process.returncode is not None:
                tail = group.log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the fake WeChat Pay exited:\n{tail}")
            with contextlib.suppress(httpx.HTTPError):
                # any answer will do: an unsigned request is refused with 401
                await client.get("/v3/pay/transactions/out-trade-no/x?mchid=0")
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the fake WeChat Pay did not start; see {group.log}")
            await asyncio.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.wechatpay", description=__doc__)
    parser.add_argument("--keys", required=True, help="folder of Keys.make")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    import uvicorn

    fake = Keys(Path(args.keys)).fake()
    uvicorn.run(fake.app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()


@dataclass(frozen=True)
class FakeMerchant:
    """A merchant whose WeChat Pay is the fake server running at `api_base`."""

    keys: Keys
    api_base: str
    group: Group

    def spec(self) -> dict[str, str]:
        """What a load generator needs of it (the raw baselines sign and verify)."""
        return {"keys": str(self.keys.folder), "api_base": self.api_base}

    def config(self) -> Any:
        return config(self.keys, self.api_base)

    def env(self) -> dict[str, str]:
        return server_env(self.keys, self.api_base)


@contextlib.asynccontextmanager
async def fake_merchant(folder: Path) -> AsyncIterator[FakeMerchant]:
    """Fresh keys in `folder` and the fake server on them, for as long as the block runs."""
    keys = Keys.make(folder)
    async with fake_server(keys, folder) as (api_base, group):
        yield FakeMerchant(keys, api_base, group)
