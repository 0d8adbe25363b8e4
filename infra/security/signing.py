"""HMAC signatures for short payloads (pickup QR codes)."""

from __future__ import annotations

import hashlib
import hmac


class HmacSigner:
    def __init__(self, key: bytes):
        self._key = key

    def sign(self, message: str) -> str:
        return hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()[:32]

    def verify(self, message: str, signature: str) -> bool:
        return hmac.compare_digest(self.sign(message), signature)
