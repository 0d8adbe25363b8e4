"""WeChat Pay's platform-certificate verification mode (issue 15), at the protocol level over
httpx.MockTransport: answers verified with the certificate whose serial `Wechatpay-Serial`
names, alone or beside the WeChat Pay public key; the certificate settings checked at start;
`GET /v3/certificates` decrypted, verified (bootstrap or configured key) and written."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from infra.settings import Settings, SettingsError, wechatpay_credentials
from infra.wechatpay import (
    BadCiphertext,
    CertificateError,
    PlatformCertificate,
    SignatureRejected,
    WeChatPayClient,
    WeChatPayConfig,
    download_certificates,
)
from tests.fakes.wechatpay_server import (
    APIV3_KEY,
    MCHID,
    PUBLIC_KEY_ID,
    FakeWeChatPay,
    new_key,
    self_signed,
)
from tests.support import MovableClock

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


@pytest.fixture(scope="module")
def keys() -> tuple[RSAPrivateKey, RSAPrivateKey, RSAPrivateKey]:
    return new_key(), new_key(), new_key()  # merchant, platform, the platform's next key


@pytest.fixture
def fake(clock: MovableClock, keys: tuple[RSAPrivateKey, ...]) -> FakeWeChatPay:
    merchant, platform, _ = keys
    wechat = FakeWeChatPay(clock.now, merchant_key=merchant, platform_key=platform)
    wechat.use_certificates()
    return wechat


@pytest.fixture
def next_certificate(clock: MovableClock, keys: tuple[RSAPrivateKey, ...]) -> PlatformCertificate:
    return self_signed(keys[2], clock.now(), clock.now() + timedelta(days=365))


async def answered(
    config: WeChatPayConfig, clock: MovableClock, body: bytes, headers: dict[str, str]
) -> dict[str, Any]:
    transport = httpx.MockTransport(lambda _: httpx.Response(200, content=body, headers=headers))
    client = WeChatPayClient(config, clock, transport)
    try:
        return await client.request("GET", "/v3/pay/transactions/out-trade-no/abc123")
    finally:
        await client.aclose()


def test_a_certificates_serial_is_its_x509_serial_in_upper_case_hex(fake: FakeWeChatPay) -> None:
    parsed = x509.load_pem_x509_certificate(fake.certificate.pem)
    assert fake.certificate.serial == format(parsed.serial_number, "X").zfill(40)
    assert re.fullmatch(r"[0-9A-F]{40}", fake.certificate.serial)
    assert fake.certificate.file_name == f"wechatpay_{fake.certificate.serial}.pem"


async def test_an_answer_is_verified_with_the_certificate_its_serial_names(
    fake: FakeWeChatPay, clock: MovableClock
) -> None:
    config = fake.config()
    assert config.public_key is None and config.platform_certificates == (fake.certificate,)
    body = b'{"trade_state":"SUCCESS"}'
    headers = fake.signed_headers(body)
    assert headers["Wechatpay-Serial"] == fake.certificate.serial
    assert await answered(config, clock, body, headers) == {"trade_state": "SUCCESS"}
    lower = {**headers, "Wechatpay-Serial": fake.certificate.serial.lower()}
    assert await answered(config, clock, body, lower) == {"trade_state": "SUCCESS"}

    refused = [
        (fake.signed_headers(body, serial=PUBLIC_KEY_ID), "unknown Wechatpay-Serial"),
        (fake.signed_headers(body, serial="5157F09EFDC096DE15EBE81A"), "unknown Wechatpay-Serial"),
        (fake.signed_headers(body, key=new_key()), "bad Wechatpay-Signature"),
        (fake.signed_headers(b"{}"), "bad Wechatpay-Signature"),
    ]
    for headers, complaint in refused:
        with pytest.raises(SignatureRejected, match=complaint):
            await answered(config, clock, body, headers)


async def test_with_both_modes_each_serial_is_checked_with_its_own_key(
    fake: FakeWeChatPay,
    clock: MovableClock,
    keys: tuple[RSAPrivateKey, ...],
    next_certificate: PlatformCertificate,
) -> None:
    """During WeChat's migration (and a certificate rotation) answers come under any of the
    configured serials; a key signing under another's serial is still refused."""
    config = fake.config(
        public_key_id=PUBLIC_KEY_ID,
        public_key=fake.platform_key.public_key(),
        platform_certificates=(fake.certificate, next_certificate),
    )
    body = b'{"ok":1}'
    for serial, key in [
        (PUBLIC_KEY_ID, fake.platform_key),
        (fake.certificate.serial, fake.platform_key),
        (next_certificate.serial, keys[2]),
    ]:
        assert await answered(
            config, clock, body, fake.signed_headers(body, serial=serial, key=key)
        )
    with pytest.raises(SignatureRejected, match="bad Wechatpay-Signature"):
        await answered(
            config, clock, body, fake.signed_headers(body, serial=next_certificate.serial)
        )


# ---------------------------------------------------------------- settings


def env(fake: FakeWeChatPay, folder: Path, **changes: str) -> dict[str, str]:
    private, _ = fake.write_keys(folder)
    values = {
        "PAYMENT_PROVIDERS": "wechatpay",
        "WECHATPAY_MCHID": MCHID,
        "WECHATPAY_MERCHANT_SERIAL": "3775B6A45ACD588826D15E583A95F5DD3B8AC8F5",
        "WECHATPAY_PRIVATE_KEY_FILE": str(private),
        "WECHATPAY_APIV3_KEY": APIV3_KEY.decode(),
        "WECHATPAY_PLATFORM_CERT_FILES": str(fake.write_certificate(folder)),
        "WECHATPAY_NOTIFY_URL": "https://shop.example.com/webhooks/payments/wechatpay",
    }
    return {**values, **changes}


def test_certificate_files_are_read_with_their_serials_at_start(
    fake: FakeWeChatPay, tmp_path: Path, next_certificate: PlatformCertificate
) -> None:
    (tmp_path / next_certificate.file_name).write_bytes(next_certificate.pem)
    files = f" {fake.write_certificate(tmp_path)} ,{tmp_path / next_certificate.file_name},"
    config = Settings.from_env(env(fake, tmp_path, WECHATPAY_PLATFORM_CERT_FILES=files)).wechatpay
    assert config is not None and config.public_key is None
    assert [c.serial for c in config.platform_certificates] == [
        fake.certificate.serial,
        next_certificate.serial,
    ]
    assert config.verification_key(next_certificate.serial) is not None
    assert config.verification_key(PUBLIC_KEY_ID) is None

    _, public = fake.write_keys(tmp_path)
    both = Settings.from_env(
        env(
            fake,
            tmp_path,
            WECHATPAY_PUBLIC_KEY_FILE=str(public),
            WECHATPAY_PUBLIC_KEY_ID=PUBLIC_KEY_ID,
        )
    ).wechatpay
    assert both is not None and both.public_key is not None
    assert both.platform_certificates == (fake.certificate,)


def test_a_wrong_certificate_setting_is_named(fake: FakeWeChatPay, tmp_path: Path) -> None:
    private, _ = fake.write_keys(tmp_path)
    cases = {
        "": "needs a key to verify WeChat Pay's signatures: WECHATPAY_PUBLIC_KEY_FILE",
        str(private): rf"WECHATPAY_PLATFORM_CERT_FILES: {private} is not a PEM X\.509",
        "/nonexistent.pem": "WECHATPAY_PLATFORM_CERT_FILES: cannot read /nonexistent.pem",
    }
    for files, complaint in cases.items():
        with pytest.raises(SettingsError, match=complaint):
            Settings.from_env(env(fake, tmp_path, WECHATPAY_PLATFORM_CERT_FILES=files))
    with pytest.raises(
        SettingsError, match="WECHATPAY_PUBLIC_KEY_FILE needs WECHATPAY_PUBLIC_KEY_ID"
    ):
        Settings.from_env(env(fake, tmp_path, WECHATPAY_PUBLIC_KEY_FILE=str(private)))
    with pytest.raises(
        SettingsError, match="WECHATPAY_PUBLIC_KEY_ID needs WECHATPAY_PUBLIC_KEY_FILE"
    ):
        Settings.from_env(env(fake, tmp_path, WECHATPAY_PUBLIC_KEY_ID=PUBLIC_KEY_ID))


def test_production_refuses_an_expired_certificate(fake: FakeWeChatPay, tmp_path: Path) -> None:
    expired = self_signed(
        new_key(), datetime(2019, 1, 1, tzinfo=UTC), datetime(2020, 1, 1, tzinfo=UTC)
    )
    path = tmp_path / expired.file_name
    path.write_bytes(expired.pem)
    values = env(fake, tmp_path, WECHATPAY_PLATFORM_CERT_FILES=f"{path}")
    with pytest.raises(
        SettingsError,
        match=rf"WECHATPAY_PLATFORM_CERT_FILES: {path} \(serial {expired.serial}\) expired on "
        r"2020-01-01 00:00 UTC; download the current ones with `omnishelf wechatpay certificates",
    ):
        Settings.from_env({**PRODUCTION, **values})
    current = env(fake, tmp_path)
    assert Settings.from_env({**PRODUCTION, **current}).wechatpay is not None
    # development and tests take it (a fixture may be old); production refuses it
    config = Settings.from_env(values).wechatpay
    assert config is not None and config.platform_certificates == (expired,)


def test_the_certificate_download_needs_no_verification_key(
    fake: FakeWeChatPay, tmp_path: Path
) -> None:
    values = env(fake, tmp_path, WECHATPAY_PLATFORM_CERT_FILES="")
    with pytest.raises(SettingsError, match="needs a key to verify"):
        Settings.from_env(values)
    config = wechatpay_credentials(values)
    assert config.mchid == MCHID and config.verification_key(fake.certificate.serial) is None
    with pytest.raises(SettingsError, match="WECHATPAY_API_BASE"):
        wechatpay_credentials({**PRODUCTION, **values, "WECHATPAY_API_BASE": "http://127.0.0.1:9"})


# ---------------------------------------------------------------- GET /v3/certificates


def sealed(certificate: PlatformCertificate, key: bytes = APIV3_KEY, **changes: str) -> object:
    """A /v3/certificates entry as WeChat documents it, sealed independently with AESGCM."""
    nonce, associated = "61f9c719728a", "certificate"
    ciphertext = AESGCM(key).encrypt(nonce.encode(), certificate.pem, associated.encode())
    return {
        "serial_no": certificate.serial,
        "effective_time": "2026-06-08T10:34:56+08:00",
        "expire_time": "2031-06-08T10:34:56+08:00",
        "encrypt_certificate": {
            "algorithm": "AEAD_AES_256_GCM",
            "nonce": nonce,
            "associated_data": associated,
            "ciphertext": base64.b64encode(ciphertext).decode(),
        },
        **changes,
    }


def certificates_answer(
    fake: FakeWeChatPay, entries: list[object], *, serial: str, key: RSAPrivateKey | None = None
) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    body = json.dumps({"data": entries}).encode()

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        headers = fake.signed_headers(body, serial=serial, key=key)
        return httpx.Response(200, content=body, headers=headers)

    return httpx.MockTransport(answer), seen


async def test_the_first_download_is_verified_with_the_certificate_it_brings(
    fake: FakeWeChatPay,
    clock: MovableClock,
    tmp_path: Path,
    keys: tuple[RSAPrivateKey, ...],
    next_certificate: PlatformCertificate,
) -> None:
    transport, seen = certificates_answer(
        fake,
        [sealed(fake.certificate), sealed(next_certificate)],
        serial=next_certificate.serial,
        key=keys[2],
    )
    client = WeChatPayClient(fake.config(platform_certificates=()), clock, transport)
    download = await download_certificates(client, clock)
    await client.aclose()
    assert (download.signed_by, download.bootstrap) == (next_certificate.serial, True)
    assert download.certificates == (fake.certificate, next_certificate)
    (request,) = seen
    assert (request.method, request.url.path) == ("GET", "/v3/certificates")
    assert request.headers["authorization"].startswith("WECHATPAY2-SHA256-RSA2048 ")

    written = download.write(tmp_path / "certs")
    assert [p.name for p in written] == [
        f"wechatpay_{fake.certificate.serial}.pem",
        f"wechatpay_{next_certificate.serial}.pem",
    ]
    assert [p.read_bytes() for p in written] == [fake.certificate.pem, next_certificate.pem]
    assert x509.load_pem_x509_certificate(
        written[1].read_bytes()
    ).public_key().public_numbers() == (keys[2].public_key().public_numbers())


async def test_a_configured_public_key_verifies_the_download(
    fake: FakeWeChatPay, clock: MovableClock
) -> None:
    transport, _ = certificates_answer(fake, [sealed(fake.certificate)], serial=PUBLIC_KEY_ID)
    config = fake.config(
        public_key_id=PUBLIC_KEY_ID,
        public_key=fake.platform_key.public_key(),
        platform_certificates=(),
    )
    client = WeChatPayClient(config, clock, transport)
    download = await download_certificates(client, clock)
    await client.aclose()
    assert (download.signed_by, download.bootstrap) == (PUBLIC_KEY_ID, False)
    assert download.certificates == (fake.certificate,)


async def test_a_download_that_does_not_hold_is_refused(
    fake: FakeWeChatPay, clock: MovableClock, next_certificate: PlatformCertificate
) -> None:
    config = fake.config(platform_certificates=())
    cert = fake.certificate
    cases: list[tuple[list[object], str, RSAPrivateKey | None, type[Exception], str]] = [
        # signed by a key none of the certificates holds
        ([sealed(cert)], cert.serial, new_key(), SignatureRejected, "bad Wechatpay-Signature"),
        # signed under a serial the answer does not bring
        ([sealed(cert)], next_certificate.serial, None, SignatureRejected, "unknown"),
        # sealed with another APIv3 key: not from WeChat
        ([sealed(cert, key=b"k" * 32)], cert.serial, None, BadCiphertext, "APIv3 key"),
        # listed under another serial than its own
        (
            [sealed(cert, serial_no=next_certificate.serial)],
            cert.serial,
            None,
            CertificateError,
            f"listed as {next_certificate.serial} has serial {cert.serial}",
        ),
    ]
    for entries, serial, key, error, complaint in cases:
        transport, _ = certificates_answer(fake, entries, serial=serial, key=key)
        client = WeChatPayClient(config, clock, transport)
        with pytest.raises(error, match=complaint):
            await download_certificates(client, clock)
        await client.aclose()


async def test_a_refusal_under_an_unknown_serial_is_reported_not_believed(
    fake: FakeWeChatPay, clock: MovableClock
) -> None:
    """A wrong merchant key is answered 401 SIGN_ERROR, signed under a certificate the first
    download does not have: the error says what WeChat claims, and nothing is written."""
    body = json.dumps({"code": "SIGN_ERROR", "message": "签名错误"}).encode()
    transport = httpx.MockTransport(
        lambda _: httpx.Response(401, content=body, headers=fake.signed_headers(body))
    )
    client = WeChatPayClient(fake.config(platform_certificates=()), clock, transport)
    with pytest.raises(
        SignatureRejected,
        match=r"unknown Wechatpay-Serial .* \(the unverified answer says SIGN_ERROR: 签名错误\)",
    ):
        await download_certificates(client, clock)
    await client.aclose()
