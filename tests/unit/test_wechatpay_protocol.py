"""WeChat Pay API v3 at the protocol level (issue 15): request signatures, response and
notification verification, AEAD_AES_256_GCM and the mini-program's paySign, each checked
against an independent computation with `cryptography`, over httpx.MockTransport."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.ordering.ports import PaymentQueryFailed
from infra.settings import Settings, SettingsError
from infra.wechatpay import (
    BadCiphertext,
    SignatureRejected,
    WeChatPayClient,
    WeChatPayError,
    WeChatPayProvider,
    decrypt_resource,
    rfc3339_beijing,
    verify_signed,
)
from tests.fakes.wechatpay_server import APIV3_KEY, MCHID, PUBLIC_KEY_ID, FakeWeChatPay, new_key
from tests.support import MovableClock

AUTH = re.compile(
    r'WECHATPAY2-SHA256-RSA2048 mchid="(?P<mchid>\d+)",nonce_str="(?P<nonce>\w+)",'
    r'signature="(?P<sig>[A-Za-z0-9+/=]+)",timestamp="(?P<ts>\d+)",serial_no="(?P<serial>\w+)"'
)


@pytest.fixture(scope="module")
def wechat_keys() -> tuple[object, object]:
    return new_key(), new_key()


@pytest.fixture
def fake(clock: MovableClock, wechat_keys: tuple[object, object]) -> FakeWeChatPay:
    merchant, platform = wechat_keys
    return FakeWeChatPay(clock.now, merchant_key=merchant, platform_key=platform)  # type: ignore[arg-type]


def pkcs1(key: object, message: str) -> str:
    """An independent RSA-SHA256 PKCS#1 v1.5 signature (deterministic, so comparable)."""
    raw = key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())  # type: ignore[attr-defined]
    return base64.b64encode(raw).decode()


async def test_a_request_is_signed_over_method_path_query_timestamp_nonce_and_body(
    fake: FakeWeChatPay, clock: MovableClock
) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = b'{"prepay_id":"wx201410272009395522657a690389285100"}'
        return httpx.Response(200, content=body, headers=fake.signed_headers(body))

    client = WeChatPayClient(fake.config(), clock, httpx.MockTransport(answer))
    got = await client.request("POST", "/v3/pay/transactions/jsapi", body={"description": "橙子"})
    assert got == {"prepay_id": "wx201410272009395522657a690389285100"}
    await client.request("GET", "/v3/pay/transactions/out-trade-no/abc123", query={"mchid": MCHID})
    await client.aclose()

    post, get = seen
    fields = AUTH.fullmatch(post.headers["authorization"])
    assert fields is not None, post.headers["authorization"]
    assert (fields["mchid"], fields["serial"]) == (MCHID, fake.config().merchant_serial)
    assert int(fields["ts"]) == int(clock.now().timestamp())
    assert post.content.decode() == '{"description":"橙子"}'
    expected = (
        f"POST\n/v3/pay/transactions/jsapi\n{fields['ts']}\n{fields['nonce']}\n"
        '{"description":"橙子"}\n'
    )
    assert fields["sig"] == pkcs1(fake.merchant_key, expected)

    fields = AUTH.fullmatch(get.headers["authorization"])
    assert fields is not None and get.content == b""
    expected = (
        f"GET\n/v3/pay/transactions/out-trade-no/abc123?mchid={MCHID}\n"
        f"{fields['ts']}\n{fields['nonce']}\n\n"
    )
    assert fields["sig"] == pkcs1(fake.merchant_key, expected)
    assert post.headers["authorization"] != get.headers["authorization"]


async def test_every_answer_is_verified_before_it_is_believed(
    fake: FakeWeChatPay, clock: MovableClock
) -> None:
    body = b'{"prepay_id":"wx1"}'
    cases: list[tuple[bytes, dict[str, str], str]] = [
        (b'{"prepay_id":"wx2"}', fake.signed_headers(body), "bad Wechatpay-Signature"),
        (body, fake.signed_headers(body, serial="PUB_KEY_ID_OTHER"), "unknown Wechatpay-Serial"),
        (
            body,
            fake.signed_headers(body, timestamp=clock.now() - timedelta(minutes=5, seconds=2)),
            "more than 5 minutes off",
        ),
        (
            body,
            fake.signed_headers(body, timestamp=clock.now() + timedelta(minutes=6)),
            "more than 5 minutes off",
        ),
        (body, fake.signed_headers(body, key=new_key()), "bad Wechatpay-Signature"),
        (body, {}, "unknown Wechatpay-Serial"),
    ]
    for content, headers, complaint in cases:
        transport = httpx.MockTransport(
            lambda _, c=content, h=headers: httpx.Response(200, content=c, headers=h)
        )
        client = WeChatPayClient(fake.config(), clock, transport)
        with pytest.raises(SignatureRejected, match=complaint):
            await client.request("POST", "/v3/pay/transactions/jsapi", body={})
        await client.aclose()

    # within five minutes either way is fine
    late = fake.signed_headers(body, timestamp=clock.now() - timedelta(minutes=4, seconds=59))
    verify_signed(fake.config(), clock, {k.lower(): v for k, v in late.items()}, body)


async def test_an_error_answer_carries_wechats_code(
    fake: FakeWeChatPay, clock: MovableClock
) -> None:
    body = json.dumps({"code": "ORDERPAID", "message": "该订单已支付"}).encode()

    def answer(_: httpx.Request) -> httpx.Response:
        return httpx.Response(400, content=body, headers=fake.signed_headers(body))

    client = WeChatPayClient(fake.config(), clock, httpx.MockTransport(answer))
    with pytest.raises(WeChatPayError) as raised:
        await client.request("POST", "/v3/pay/transactions/jsapi", body={})
    assert (raised.value.status, raised.value.code) == (400, "ORDERPAID")

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client = WeChatPayClient(fake.config(), clock, httpx.MockTransport(down))
    with pytest.raises(WeChatPayError) as raised:
        await client.request("POST", "/v3/pay/transactions/jsapi", body={})
    assert raised.value.code == "UNREACHABLE"


@pytest.mark.parametrize(
    ("closing", "trade_state", "outcome"),
    [
        ((204, b""), None, "closed"),
        ((400, b'{"code":"ORDERPAID","message":"paid"}'), "SUCCESS", "paid"),
        ((400, b'{"code":"ORDER_CLOSED","message":"closed"}'), "CLOSED", "closed"),
        ((500, b'{"code":"SYSTEM_ERROR","message":"busy"}'), "NOTPAY", "open"),
    ],
)
async def test_close_posts_the_mchid_and_asks_how_the_transaction_stands_when_refused(
    fake: FakeWeChatPay,
    clock: MovableClock,
    closing: tuple[int, bytes],
    trade_state: str | None,
    outcome: str,
) -> None:
    seen: list[tuple[str, str, bytes]] = []
    no = "0" * 31 + "1"

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, str(request.url.raw_path, "ascii"), request.content))
        if request.method == "POST":
            status, body = closing
        else:
            transaction = {
                "appid": fake.appid,
                "mchid": MCHID,
                "out_trade_no": no,
                "trade_state": trade_state,
                "amount": {"total": 990, "currency": "CNY"},
            }
            status, body = 200, json.dumps(transaction).encode()
        return httpx.Response(status, content=body, headers=fake.signed_headers(body))

    client = WeChatPayClient(fake.config(), clock, httpx.MockTransport(answer))
    provider = WeChatPayProvider(client, clock, payer=no_payer)
    if outcome == "open":
        with pytest.raises(PaymentQueryFailed, match="NOTPAY"):
            await provider.close(no)
    else:
        notice = await provider.close(no)
        assert (notice is not None and notice.succeeded and notice.amount == 990) is (
            outcome == "paid"
        )
    await client.aclose()
    close = (
        "POST",
        f"/v3/pay/transactions/out-trade-no/{no}/close",
        b'{"mchid":"%s"}' % MCHID.encode(),
    )
    query = ("GET", f"/v3/pay/transactions/out-trade-no/{no}?mchid={MCHID}", b"")
    assert seen == ([close] if trade_state is None else [close, query])


async def no_payer(member_id: object, appid: str) -> str | None:
    return None


def test_the_notification_resource_decrypts_with_the_apiv3_key() -> None:
    plain = '{"out_trade_no":"abc","trade_state":"SUCCESS"}'
    sealed = AESGCM(APIV3_KEY).encrypt(b"fdasflkja484", plain.encode(), b"transaction")
    ciphertext = base64.b64encode(sealed).decode()
    assert decrypt_resource(APIV3_KEY, "fdasflkja484", "transaction", ciphertext) == plain.encode()
    wrong = [
        (b"x" * 32, "fdasflkja484", "transaction", ciphertext),
        (APIV3_KEY, "fdasflkja485", "transaction", ciphertext),
        (APIV3_KEY, "fdasflkja484", "certificate", ciphertext),
        (APIV3_KEY, "fdasflkja484", "transaction", ciphertext[:-4] + "AAAA"),
        (APIV3_KEY, "fdasflkja484", "transaction", "not base64!"),
    ]
    for key, nonce, associated, text in wrong:
        with pytest.raises(BadCiphertext):
            decrypt_resource(key, nonce, associated, text)


def test_time_expire_is_rfc3339_in_beijing_time() -> None:
    moment = datetime(2026, 12, 6, 17, 30, 5, 999, tzinfo=UTC)
    assert rfc3339_beijing(moment) == "2026-12-07T01:30:05+08:00"


# ---------------------------------------------------------------- settings

PRODUCTION = {
    "OMNISHELF_ENV": "production",
    "DATABASE_URL": "postgres://app@db/omnishelf",
    "REDIS_URL": "redis://cache:6379/0",
    "JWT_SECRET": "a-real-production-secret-of-forty-chars!!",
    "PII_MASTER_KEY": "cHJvZHVjdGlvbi1tYXN0ZXIta2V5LTMyLWJ5dGVzISE=",
    "PII_HASH_KEY": "cHJvZHVjdGlvbi1oYXNoLWtleS0zMi1ieXRlcyEhISE=",
    "WECHAT_APPS": "wx1234567890:app-secret",
    "WECHAT_FAKE": "0",
    "NOTIFIER": "disabled",
    "SMS_PROVIDER": "disabled",
    "PAYMENT_WEBHOOK_SECRET": "a-production-payment-secret",
}


def env(fake: FakeWeChatPay, folder: Path, **changes: str) -> dict[str, str]:
    private, public = fake.write_keys(folder)
    values = {
        "PAYMENT_PROVIDERS": "wechatpay,devpay",
        "WECHATPAY_MCHID": MCHID,
        "WECHATPAY_MERCHANT_SERIAL": "3775B6A45ACD588826D15E583A95F5DD3B8AC8F5",
        "WECHATPAY_PRIVATE_KEY_FILE": str(private),
        "WECHATPAY_APIV3_KEY": APIV3_KEY.decode(),
        "WECHATPAY_PUBLIC_KEY_FILE": str(public),
        "WECHATPAY_PUBLIC_KEY_ID": PUBLIC_KEY_ID,
        "WECHATPAY_NOTIFY_URL": "https://shop.example.com/webhooks/payments/wechatpay",
    }
    return {**values, **changes}


def test_wechatpay_settings_are_read_and_checked_at_start(
    fake: FakeWeChatPay, tmp_path: Path
) -> None:
    settings = Settings.from_env(env(fake, tmp_path, WECHAT_APPS="wx111:s1,wx222:s2"))
    config = settings.wechatpay
    assert settings.payment_providers == ("wechatpay", "devpay") and config is not None
    assert (config.mchid, config.appid, config.api_base) == (
        MCHID,
        "wx111",
        "https://api.mch.weixin.qq.com",
    )
    assert config.public_key is not None
    assert config.public_key.public_numbers() == fake.platform_key.public_key().public_numbers()
    assert "apiv3_key" not in repr(config) and "private_key" not in repr(config)
    chosen = Settings.from_env(env(fake, tmp_path, WECHATPAY_APPID="wx222"))
    assert chosen.wechatpay is not None and chosen.wechatpay.appid == "wx222"
    assert Settings.from_env({}).payment_providers == ("devpay",)
    assert Settings.from_env({}).wechatpay is None


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"WECHATPAY_MCHID": ""}, "needs WECHATPAY_MCHID"),
        ({"WECHATPAY_MERCHANT_SERIAL": ""}, "needs WECHATPAY_MERCHANT_SERIAL"),
        ({"WECHATPAY_NOTIFY_URL": ""}, "needs WECHATPAY_NOTIFY_URL"),
        ({"WECHATPAY_APIV3_KEY": "short"}, "WECHATPAY_APIV3_KEY is the 32-character"),
        ({"WECHATPAY_PUBLIC_KEY_ID": "ABC"}, "WECHATPAY_PUBLIC_KEY_ID"),
        ({"WECHATPAY_PRIVATE_KEY_FILE": "/nonexistent.pem"}, "WECHATPAY_PRIVATE_KEY_FILE: cannot"),
        ({"WECHATPAY_API_BASE": "ftp://x"}, "WECHATPAY_API_BASE"),
        ({"PAYMENT_PROVIDERS": "alipay"}, "PAYMENT_PROVIDERS names alipay"),
    ],
)
def test_a_wrong_wechatpay_setting_is_named(
    fake: FakeWeChatPay, tmp_path: Path, changes: dict[str, str], complaint: str
) -> None:
    with pytest.raises(SettingsError, match=complaint):
        Settings.from_env(env(fake, tmp_path, **changes))


def test_a_key_file_that_is_not_an_rsa_pem_is_named(fake: FakeWeChatPay, tmp_path: Path) -> None:
    values = env(fake, tmp_path)
    (tmp_path / "junk.pem").write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n")
    with pytest.raises(SettingsError, match=r"WECHATPAY_PRIVATE_KEY_FILE: .* not a PEM RSA"):
        Settings.from_env({**values, "WECHATPAY_PRIVATE_KEY_FILE": str(tmp_path / "junk.pem")})
    with pytest.raises(SettingsError, match=r"WECHATPAY_PUBLIC_KEY_FILE: .* not a PEM RSA public"):
        Settings.from_env(
            {**values, "WECHATPAY_PUBLIC_KEY_FILE": values["WECHATPAY_PRIVATE_KEY_FILE"]}
        )


def test_production_refuses_devpay_and_a_test_server(fake: FakeWeChatPay, tmp_path: Path) -> None:
    assert Settings.from_env(PRODUCTION).payment_providers == ()
    wechat = env(fake, tmp_path, PAYMENT_PROVIDERS="wechatpay")
    live = Settings.from_env({**PRODUCTION, **wechat})
    assert live.payment_providers == ("wechatpay",) and live.wechatpay is not None
    assert live.wechatpay.appid == "wx1234567890"  # the first of WECHAT_APPS
    with pytest.raises(SettingsError, match="Production refuses the devpay provider"):
        Settings.from_env({**PRODUCTION, **wechat, "PAYMENT_PROVIDERS": "wechatpay,devpay"})
    # ... unless it is a benchmark or the crash test (bench/processes.py), which say so
    bench = Settings.from_env(
        {**PRODUCTION, "PAYMENT_PROVIDERS": "devpay", "DEVPAY_IN_PRODUCTION": "1"}
    )
    assert bench.payment_providers == ("devpay",)
    with pytest.raises(SettingsError, match="WECHATPAY_API_BASE"):
        Settings.from_env({**PRODUCTION, **wechat, "WECHATPAY_API_BASE": "http://127.0.0.1:9"})
    # ... unless the benchmark says its fake WeChat Pay is on this machine; elsewhere, never
    loopback = {"WECHATPAY_API_BASE": "http://127.0.0.1:9", "WECHATPAY_LOOPBACK_IN_PRODUCTION": "1"}
    faked = Settings.from_env({**PRODUCTION, **wechat, **loopback})
    assert faked.wechatpay is not None and faked.wechatpay.api_base == "http://127.0.0.1:9"
    with pytest.raises(SettingsError, match="WECHATPAY_API_BASE"):
        Settings.from_env(
            {**PRODUCTION, **wechat, **loopback, "WECHATPAY_API_BASE": "http://10.0.0.8:9"}
        )
    with pytest.raises(SettingsError, match="WECHATPAY_NOTIFY_URL must be an https"):
        Settings.from_env(
            {**PRODUCTION, **wechat, "WECHATPAY_NOTIFY_URL": "http://shop.example.com/hook"}
        )
    with pytest.raises(SettingsError, match="needs WECHATPAY_PUBLIC_KEY_FILE"):
        Settings.from_env({**PRODUCTION, **wechat, "WECHATPAY_PUBLIC_KEY_FILE": ""})
