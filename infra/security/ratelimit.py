"""Fixed-window rate limits: in process (embedded mode) or shared through Redis."""

from __future__ import annotations

import time
from collections.abc import Callable

from redis.asyncio import Redis


class MemoryRateLimiter:
    def __init__(self, now: Callable[[], float] = time.monotonic):
        self._now = now
        self._windows: dict[str, tuple[float, int]] = {}
        self._window_of: dict[str, int] = {}

    async def hit(self, key: str, limit: int, window_seconds: int) -> int:
        now = self._now()
        start, count = self._windows.get(key, (now, 0))
        if now - start >= window_seconds:
            start, count = now, 0
        count += 1
        self._windows[key] = (start, count)
        self._window_of[key] = window_seconds
        if len(self._windows) > 100_000:  # bound memory under a flood of distinct keys
            self._windows = {k: v for k, v in self._windows.items() if now - v[0] < window_seconds}
        return 0 if count <= limit else max(1, int(start + window_seconds - now))

    async def peek(self, key: str, limit: int) -> int:
        start, count = self._windows.get(key, (0.0, 0))
        window, now = self._window_of.get(key, 0), self._now()
        if count <= limit or now - start >= window:
            return 0
        return max(1, int(start + window - now))

    async def reset(self, key: str) -> None:
        self._windows.pop(key, None)


class RedisRateLimiter:
    def __init__(self, redis: Redis, prefix: str = "omnishelf:rl:"):
        self._redis = redis
        self._prefix = prefix

    async def hit(self, key: str, limit: int, window_seconds: int) -> int:
        name = self._prefix + key
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expire(name, window_seconds, nx=True)
            pipe.ttl(name)
            count, _, ttl = await pipe.execute()
        return 0 if int(count) <= limit else max(1, int(ttl))

    async def peek(self, key: str, limit: int) -> int:
        name = self._prefix + key
        count = await self._redis.get(name)
        if count is None or int(count) <= limit:
            return 0
        return max(1, int(await self._redis.ttl(name)))

    async def reset(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)
