from __future__ import annotations

from infra.security.ratelimit import MemoryRateLimiter


class Ticker:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_memory_limiter_allows_the_limit_then_says_how_long_to_wait() -> None:
    tick = Ticker()
    limiter = MemoryRateLimiter(now=tick)
    assert [await limiter.hit("k", 3, 60) for _ in range(3)] == [0, 0, 0]
    assert await limiter.hit("k", 3, 60) == 60
    tick.now += 45
    assert await limiter.hit("k", 3, 60) == 15
    tick.now += 15
    assert await limiter.hit("k", 3, 60) == 0  # a new window


async def test_memory_limiter_keys_are_independent_and_resettable() -> None:
    limiter = MemoryRateLimiter(now=Ticker())
    assert await limiter.hit("a", 1, 60) == 0
    assert await limiter.hit("a", 1, 60) > 0
    assert await limiter.hit("b", 1, 60) == 0
    await limiter.reset("a")
    assert await limiter.hit("a", 1, 60) == 0
