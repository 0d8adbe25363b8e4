"""WeChat Pay API v3 (docs/payments.md): the signed client, its crypto and the provider."""

from infra.wechatpay._client import (
    MAX_CLOCK_SKEW,
    SignatureRejected,
    WeChatPayClient,
    WeChatPayError,
    verify_signed,
)
from infra.wechatpay._config import PRODUCTION_API_BASE, WeChatPayConfig
from infra.wechatpay._crypto import (
    BadCiphertext,
    authorization,
    decrypt_resource,
    encrypt_resource,
    nonce_str,
    parse_authorization,
    pay_sign_message,
    request_message,
    response_message,
    rsa_sign,
    rsa_verify,
)
from infra.wechatpay._provider import PayerLookup, WeChatPayProvider, rfc3339_beijing

__all__ = [
    "MAX_CLOCK_SKEW",
    "PRODUCTION_API_BASE",
    "BadCiphertext",
    "PayerLookup",
    "SignatureRejected",
    "WeChatPayClient",
    "WeChatPayConfig",
    "WeChatPayError",
    "WeChatPayProvider",
    "authorization",
    "decrypt_resource",
    "encrypt_resource",
    "nonce_str",
    "parse_authorization",
    "pay_sign_message",
    "request_message",
    "response_message",
    "rfc3339_beijing",
    "rsa_sign",
    "rsa_verify",
    "verify_signed",
]
