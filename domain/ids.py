"""Time-ordered UUIDs (RFC 9562 version 7): index-friendly primary keys and natural keyset order."""

from __future__ import annotations

import os
import threading
import time
import uuid

_RAND_BITS = 74  # rand_a (12 bits) and rand_b (62 bits) read as one number
_lock = threading.Lock()
_last = (0, 0)  # (unix ms, random part) of the previous id


def _next(ms: int) -> tuple[int, int]:
    """Ids made in the same millisecond (or after the clock stepped back) still increase:
    the random part of the previous one grows by a random step (RFC 9562, 6.2, method 2)."""
    global _last
    with _lock:
        last_ms, last_rand = _last
        if ms > last_ms:
            rand = int.from_bytes(os.urandom(10), "big") >> (80 - _RAND_BITS)
        else:
            ms = last_ms
            rand = last_rand + 1 + int.from_bytes(os.urandom(4), "big")
            if rand >> _RAND_BITS:
                ms, rand = ms + 1, int.from_bytes(os.urandom(10), "big") >> (80 - _RAND_BITS)
        _last = (ms, rand)
    return ms, rand


def new_id() -> uuid.UUID:
    ms, rand = _next(time.time_ns() // 1_000_000)
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)
