"""The merchant's WeChat Pay API v3 credentials, read and checked by infra/settings.py."""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from infra.wechatpay._certificates import PlatformCertificate

PRODUCTION_API_BASE = "https://api.mch.weixin.qq.com"


@dataclass(frozen=True)
class WeChatPayConfig:
    mchid: str
    appid: str  # the mini-program whose openids pay
    merchant_serial: str  # serial number of the merchant API certificate
    private_key: RSAPrivateKey = field(repr=False)
    apiv3_key: bytes = field(repr=False)  # 32 bytes: decrypts notifications
    public_key_id: str = ""  # PUB_KEY_ID_...: the Wechatpay-Serial of WeChat's signatures
    public_key: RSAPublicKey | None = field(default=None, repr=False)
    # The platform-certificate mode (平台证书), alone or beside the public key while WeChat
    # migrates a merchant: answers may then come signed under either serial.
    platform_certificates: tuple[PlatformCertificate, ...] = ()
    notify_url: str = ""
    api_base: str = PRODUCTION_API_BASE

    def verification_key(self, serial: str) -> RSAPublicKey | None:
        """The key that checks a signature made under `serial`; None for an unknown serial."""
        if self.public_key is not None and serial == self.public_key_id:
            return self.public_key
        for certificate in self.platform_certificates:
            if certificate.has_serial(serial):
                return certificate.public_key
        return None
