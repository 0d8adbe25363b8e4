"""Personal data at rest: AES-GCM under a per-member key, itself wrapped by a master key;
HMAC-SHA256 lookup hashes. Destroying a member's wrapped key shreds what it encrypted."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = "v1"
NONCE = 12


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text.encode())


class AesGcmVault:
    def __init__(self, master_key: bytes, hash_key: bytes):
        if len(master_key) != 32 or len(hash_key) < 32:
            raise ValueError("PII keys must be 32 bytes (base64 in the environment)")
        self._master = AESGCM(master_key)
        self._hash_key = hash_key
        self._unwrap = lru_cache(maxsize=4096)(self._unwrap_uncached)

    def new_member_key(self) -> str:
        nonce = os.urandom(NONCE)
        wrapped = self._master.encrypt(nonce, os.urandom(32), b"omnishelf member key")
        return f"{VERSION}:{_b64(nonce + wrapped)}"

    def _unwrap_uncached(self, wrapped_key: str) -> AESGCM:
        raw = _unb64(wrapped_key.removeprefix(f"{VERSION}:"))
        return AESGCM(self._master.decrypt(raw[:NONCE], raw[NONCE:], b"omnishelf member key"))

    def encrypt(self, wrapped_key: str, plaintext: str) -> str:
        nonce = os.urandom(NONCE)
        sealed = self._unwrap(wrapped_key).encrypt(nonce, plaintext.encode(), b"omnishelf pii")
        return f"{VERSION}:{_b64(nonce + sealed)}"

    def decrypt(self, wrapped_key: str, ciphertext: str) -> str:
        raw = _unb64(ciphertext.removeprefix(f"{VERSION}:"))
        return (
            self._unwrap(wrapped_key).decrypt(raw[:NONCE], raw[NONCE:], b"omnishelf pii").decode()
        )

    def lookup_hash(self, namespace: str, value: str) -> str:
        message = f"{namespace}\x00{value}".encode()
        return hmac.new(self._hash_key, message, hashlib.sha256).hexdigest()
