"""Fixed-window rate limits: in process (embedded mode) or shared through Redis."""

from __future__ import annotations

import time
from collections.abc import Callable

from redis.asyncio import Redis


class MemoryRateLimiter:
    """Windows per key in a dict of at most `max_keys`: past it, ended windows go first, then
    the oldest ones (a flood of distinct keys cannot grow the process without bound; it can
    only forget old counts, which Redis-backed limits in production do not)."""

    def __init__(self, now: Callable[[], float] = time.monotonic, max_keys: int = 100_000):
        self._now = now
        self._max_keys = max_keys
        self._windows: dict[str, tuple[float, int, int]] = {}  # start, count, window seconds

    def __len__(self) -> int:
        return len(self._windows)

    async def hit(self, key: str, limit: int, window_seconds: int) -> int:
        now = self._now()
        start, count, _ = self._windows.pop(key, (now, 0, window_seconds))
        if now - start >= window_seconds:
            start, count = now, 0
        count += 1
        self._windows[key] = (start, count, window_seconds)  # last in the dict: newest
        if len(self._windows) > self._max_keys:
            self._prune(now)
        return 0 if count <= limit else max(1, int(start + window_seconds - now))

    def _prune(self, now: float) -> None:
        """Down to half the bound at once, so a flood pays for pruning once per many hits."""
        live = {k: v for k, v in self._windows.items() if now - v[0] < v[2]}
        keep = self._max_keys // 2
        self._windows = dict(list(live.items())[-keep:]) if len(live) > keep else live

    async def peek(self, key: str, limit: int) -> int:
        start, count, window = self._windows.get(key, (0.0, 0, 0))
        now = self._now()
        if count <= limit or now - start >= window:
            return 0
        return max(1, int(start + window - now))

    async def give_back(self, key: str) -> None:
        if (found := self._windows.get(key)) is not None and found[1] > 0:
            self._windows[key] = (found[0], found[1] - 1, found[2])

    async def reset(self, key: str) -> None:
        self._windows.pop(key, None)


# DECR only a window that still exists: after it expired a DECR would make a key without a
# TTL (and a credit of one attempt forever).
_GIVE_BACK = """
if redis.call('exists', KEYS[1]) == 1 and tonumber(redis.call('get', KEYS[1])) > 0 then
  return redis.call('decr', KEYS[1])
end
return 0
"""


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

    async def give_back(self, key: str) -> None:
        await self._redis.eval(_GIVE_BACK, 1, self._prefix + key)  # type: ignore[misc]

    async def reset(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)
