"""WeChat Pay platform certificates (平台证书): the older way to verify WeChat's signatures,
beside the WeChat Pay public key. A certificate's serial, as `Wechatpay-Serial` carries it, is
its X.509 serial number in upper-case hex; its RSA key checks the signatures made under it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey


class CertificateError(ValueError):
    """Not a usable platform certificate: not PEM X.509, not RSA ≥ 2048 bits, or expired."""


@dataclass(frozen=True)
class PlatformCertificate:
    serial: str  # upper-case hex, as in Wechatpay-Serial and `openssl x509 -serial`
    public_key: RSAPublicKey = field(repr=False)
    not_before: datetime  # UTC
    not_after: datetime  # UTC
    pem: bytes = field(repr=False)

    @property
    def file_name(self) -> str:
        """The name WeChat's own certificate download tool gives the file."""
        return f"wechatpay_{self.serial}.pem"

    def has_serial(self, serial: str) -> bool:
        """`serial` names this certificate (case and leading zeros aside: SDKs differ)."""
        return serial.upper().lstrip("0") == self.serial.lstrip("0")


def serial_hex(number: int) -> str:
    text = f"{number:X}"
    return text.zfill(len(text) + len(text) % 2)


def load_certificate(pem: bytes) -> PlatformCertificate:
    try:
        certificate = x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise CertificateError("is not a PEM X.509 certificate") from None
    key = certificate.public_key()
    if not isinstance(key, RSAPublicKey) or key.key_size < 2048:
        raise CertificateError("is not an RSA certificate of 2048 bits or more")
    return PlatformCertificate(
        serial=serial_hex(certificate.serial_number),
        public_key=key,
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        pem=certificate.public_bytes(serialization.Encoding.PEM),
    )


def read_certificates(
    paths: Iterable[str], *, now: datetime, refuse_expired: bool
) -> tuple[PlatformCertificate, ...]:
    """The certificates of these PEM files, one per serial. CertificateError names the file."""
    found: dict[str, PlatformCertificate] = {}
    for path in paths:
        try:
            certificate = load_certificate(Path(path).read_bytes())
        except OSError as error:
            raise CertificateError(f"cannot read {path} ({error.strerror})") from None
        except CertificateError as error:
            raise CertificateError(f"{path} {error}") from None
        if refuse_expired and certificate.not_after <= now:
            raise CertificateError(
                f"{path} (serial {certificate.serial}) expired on "
                f"{certificate.not_after:%Y-%m-%d %H:%M} UTC; download the current ones with "
                "`omnishelf wechatpay certificates --output DIR`"
            )
        found.setdefault(certificate.serial, certificate)
    return tuple(found.values())
