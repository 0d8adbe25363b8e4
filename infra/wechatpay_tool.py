"""`omnishelf wechatpay certificates --output DIR`: download WeChat Pay's platform certificates
(docs/payments.md → Platform certificates) and say which setting to update."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from domain.clock import SystemClock
from infra.settings import SettingsError, wechatpay_credentials
from infra.wechatpay import (
    BadCiphertext,
    CertificateDownload,
    CertificateError,
    SignatureRejected,
    WeChatPayClient,
    WeChatPayConfig,
    WeChatPayError,
    download_certificates,
)


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="wechatpay_command", required=True, metavar="ACTION")
    p = actions.add_parser(
        "certificates",
        help="download the platform certificates (平台证书) to verify WeChat Pay's signatures",
        description="GET /v3/certificates with the WECHATPAY_* settings (a verification key is "
        "not needed: the first download is verified with the certificate it brings, whose "
        "ciphertext only WeChat and the holder of WECHATPAY_APIV3_KEY can make; a configured "
        "public key or certificate verifies it too). Each certificate is decrypted with the "
        "APIv3 key and written as DIR/wechatpay_<serial>.pem; prints each serial and validity "
        "and the WECHATPAY_PLATFORM_CERT_FILES value to set. Exit status 0 when written, 1 "
        "when WeChat Pay refused, could not be reached or its answer did not verify, 2 for a "
        "configuration error.",
    )
    p.add_argument(
        "--output", required=True, type=Path, metavar="DIR", help="folder for the .pem files"
    )
    p.set_defaults(func=certificates_command)


def certificates_command(args: argparse.Namespace) -> int:
    try:
        config = wechatpay_credentials()
    except SettingsError as error:
        print(f"omnishelf: configuration error: {error}", file=sys.stderr)
        return 2
    try:
        download = asyncio.run(_download(config))
    except (WeChatPayError, SignatureRejected, CertificateError) as error:
        print(f"omnishelf: the certificate download failed: {error}", file=sys.stderr)
        return 1
    except BadCiphertext:
        print(
            "omnishelf: the certificates do not decrypt with WECHATPAY_APIV3_KEY "
            "(is it the merchant platform's current APIv3 key?)",
            file=sys.stderr,
        )
        return 1
    written = download.write(args.output)
    print(_report(config, download, written))
    return 0


async def _download(config: WeChatPayConfig) -> CertificateDownload:
    clock = SystemClock()
    client = WeChatPayClient(config, clock)
    try:
        return await download_certificates(client, clock)
    finally:
        await client.aclose()


def _report(config: WeChatPayConfig, download: CertificateDownload, written: list[Path]) -> str:
    lines = []
    for certificate, path in zip(download.certificates, written, strict=True):
        known = config.verification_key(certificate.serial) is not None
        lines.append(
            f"{path}  serial {certificate.serial}  valid {certificate.not_before:%Y-%m-%d %H:%M}"
            f" to {certificate.not_after:%Y-%m-%d %H:%M} UTC"
            + ("  (already configured)" if known else "")
        )
    how = "the certificate it brought" if download.bootstrap else "a configured key"
    files = ",".join(str(path.resolve()) for path in written)
    lines += [
        f"The answer was signed under {download.signed_by} and verified with {how}.",
        f"Set WECHATPAY_PLATFORM_CERT_FILES={files}",
        "and restart every process. Keep the file of a certificate WeChat Pay may still sign "
        "with; remove it once WeChat Pay no longer lists it.",
    ]
    return "\n".join(lines)
