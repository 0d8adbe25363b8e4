"""`GET /v3/certificates`: the platform certificates WeChat Pay signs with now, each encrypted
with the APIv3 key (AEAD_AES_256_GCM). The answer is itself signed under one of them, so the
first download is verified with the certificate it brings, as WeChat documents the bootstrap
(only WeChat and the merchant hold the APIv3 key it decrypted with), or with a configured key."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from domain.clock import Clock
from infra.wechatpay._certificates import CertificateError, PlatformCertificate, load_certificate
from infra.wechatpay._client import SignatureRejected, WeChatPayClient, verify_signed
from infra.wechatpay._crypto import decrypt_resource

CERTIFICATES_PATH = "/v3/certificates"


@dataclass(frozen=True)
class CertificateDownload:
    certificates: tuple[PlatformCertificate, ...]
    signed_by: str  # the answer's Wechatpay-Serial
    bootstrap: bool  # verified with a certificate it brought, no configured key named it

    def write(self, folder: Path) -> list[Path]:
        """Each certificate as `wechatpay_<serial>.pem` in `folder` (made if missing)."""
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for certificate in self.certificates:
            path = folder / certificate.file_name
            path.write_bytes(certificate.pem)
            written.append(path)
        return written


def decrypt_certificates(apiv3_key: bytes, body: bytes) -> tuple[PlatformCertificate, ...]:
    """The certificates of a /v3/certificates answer (none in an error answer). Raises
    BadCiphertext for another APIv3 key, CertificateError for a malformed list."""
    try:
        data: Any = json.loads(body) if body else {}
    except ValueError:
        return ()
    entries = data.get("data") if isinstance(data, dict) else None
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise CertificateError("the certificate list is not a list")
    return tuple(_decrypted(apiv3_key, entry) for entry in entries)


def _decrypted(apiv3_key: bytes, entry: Any) -> PlatformCertificate:
    sealed = entry.get("encrypt_certificate") if isinstance(entry, dict) else None
    if not isinstance(sealed, dict) or not isinstance(entry.get("serial_no"), str):
        raise CertificateError("a certificate entry has no serial_no or encrypt_certificate")
    serial, fields = entry["serial_no"], ("nonce", "associated_data", "ciphertext")
    if sealed.get("algorithm") != "AEAD_AES_256_GCM" or not all(
        isinstance(sealed.get(name), str) for name in fields
    ):
        raise CertificateError(f"certificate {serial[:40]} is not sealed with AEAD_AES_256_GCM")
    pem = decrypt_resource(apiv3_key, *(sealed[name] for name in fields))
    try:
        certificate = load_certificate(pem)
    except CertificateError as error:
        raise CertificateError(f"certificate {serial[:40]} {error}") from None
    if not certificate.has_serial(serial):
        raise CertificateError(
            f"certificate listed as {serial[:40]} has serial {certificate.serial}"
        )
    return certificate


def _claimed_error(body: bytes) -> str:
    try:
        data: Any = json.loads(body)
    except ValueError:
        return ""
    if not isinstance(data, dict) or "code" not in data:
        return ""
    return (
        f" (the unverified answer says {str(data['code'])[:40]}: {str(data.get('message'))[:200]})"
    )


async def download_certificates(client: WeChatPayClient, clock: Clock) -> CertificateDownload:
    """The current platform certificates, from an answer verified with the key its serial
    names among the configured ones and those it brings. Raises WeChatPayError,
    SignatureRejected, BadCiphertext (another APIv3 key) or CertificateError."""
    config = client.config
    seen: list[CertificateDownload] = []

    def verify(headers: Mapping[str, str], body: bytes) -> None:
        brought = decrypt_certificates(config.apiv3_key, body)
        trusted = dataclasses.replace(
            config, platform_certificates=(*config.platform_certificates, *brought)
        )
        try:
            verify_signed(trusted, clock, headers, body)
        except SignatureRejected as error:
            # A refusal (e.g. SIGN_ERROR for a wrong merchant key) is signed under a
            # certificate we do not have yet: say what it claims, without believing it.
            raise SignatureRejected(f"{error}{_claimed_error(body)}") from None
        serial = headers.get("wechatpay-serial", "")
        seen.append(CertificateDownload(brought, serial, config.verification_key(serial) is None))

    await client.request("GET", CERTIFICATES_PATH, verify=verify)
    return seen[0]
