"""The cryptography of WeChat Pay API v3, each step a small pure function.

- requests: `WECHATPAY2-SHA256-RSA2048` Authorization, an RSA-SHA256 (PKCS#1 v1.5) signature
  with the merchant's private key over `METHOD\\nPATH?QUERY\\ntimestamp\\nnonce\\nbody\\n`;
- responses and notifications: `Wechatpay-Signature` over `timestamp\\nnonce\\nbody\\n`, checked
  with the WeChat Pay public key or platform certificate named by `Wechatpay-Serial`;
- notification `resource`: AEAD_AES_256_GCM with the APIv3 key;
- mini-program `paySign` over `appId\\ntimeStamp\\nnonceStr\\npackage\\n`."""

from __future__ import annotations

import base64
import binascii
import secrets

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SCHEMA = "WECHATPAY2-SHA256-RSA2048"


class BadCiphertext(ValueError):
    """The notification's resource does not decrypt (wrong key, nonce, tag or data)."""


def nonce_str() -> str:
    return secrets.token_hex(16).upper()


def rsa_sign(key: RSAPrivateKey, message: str) -> str:
    return base64.b64encode(
        key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    ).decode()


def rsa_verify(key: RSAPublicKey, message: str, signature: str) -> bool:
    try:
        raw = base64.b64decode(signature, validate=True)
        key.verify(raw, message.encode(), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def request_message(method: str, path_and_query: str, timestamp: str, nonce: str, body: str) -> str:
    return f"{method}\n{path_and_query}\n{timestamp}\n{nonce}\n{body}\n"


def response_message(timestamp: str, nonce: str, body: str) -> str:
    return f"{timestamp}\n{nonce}\n{body}\n"


def pay_sign_message(app_id: str, timestamp: str, nonce: str, package: str) -> str:
    return f"{app_id}\n{timestamp}\n{nonce}\n{package}\n"


def authorization(
    key: RSAPrivateKey,
    *,
    mchid: str,
    serial_no: str,
    method: str,
    path_and_query: str,
    body: str,
    timestamp: str,
    nonce: str,
) -> str:
    signature = rsa_sign(key, request_message(method, path_and_query, timestamp, nonce, body))
    return (
        f'{SCHEMA} mchid="{mchid}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{timestamp}",serial_no="{serial_no}"'
    )


def parse_authorization(header: str) -> dict[str, str]:
    """The fields of an Authorization header ({} if it is not ours): for the fake server."""
    schema, _, rest = header.partition(" ")
    if schema != SCHEMA:
        return {}
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, value = part.partition("=")
        if sep and len(value) >= 2 and value[0] == value[-1] == '"':
            fields[name.strip()] = value[1:-1]
    return fields


def encrypt_resource(key: bytes, nonce: str, associated_data: str, plaintext: bytes) -> str:
    """AEAD_AES_256_GCM as WeChat encrypts (base64 of ciphertext + tag): for the fake server."""
    sealed = AESGCM(key).encrypt(nonce.encode(), plaintext, associated_data.encode())
    return base64.b64encode(sealed).decode()


def decrypt_resource(key: bytes, nonce: str, associated_data: str, ciphertext: str) -> bytes:
    try:
        sealed = base64.b64decode(ciphertext, validate=True)
        return AESGCM(key).decrypt(nonce.encode(), sealed, associated_data.encode())
    except (InvalidTag, binascii.Error, ValueError):
        raise BadCiphertext("the resource does not decrypt with the APIv3 key") from None
