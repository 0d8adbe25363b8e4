"""WeChat Pay API v3 (docs/payments.md): the signed client, its crypto and the provider."""

from infra.wechatpay._certificate_download import (
    CertificateDownload,
    decrypt_certificates,
    download_certificates,
)
from infra.wechatpay._certificates import (
    CertificateError,
    PlatformCertificate,
    load_certificate,
    read_certificates,
)
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
    "CertificateDownload",
    "CertificateError",
    "PayerLookup",
    "PlatformCertificate",
    "SignatureRejected",
    "WeChatPayClient",
    "WeChatPayConfig",
    "WeChatPayError",
    "WeChatPayProvider",
    "authorization",
    "decrypt_certificates",
    "decrypt_resource",
    "download_certificates",
    "encrypt_resource",
    "load_certificate",
    "nonce_str",
    "parse_authorization",
    "pay_sign_message",
    "read_certificates",
    "request_message",
    "response_message",
    "rfc3339_beijing",
    "rsa_sign",
    "rsa_verify",
    "verify_signed",
]
