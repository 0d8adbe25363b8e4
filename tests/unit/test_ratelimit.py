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


async def test_memory_limiter_stays_bounded_under_a_flood_of_keys() -> None:
    """Issue 12, 7: every distinct key (an address, a phone) used to stay forever."""
    tick = Ticker()
    limiter = MemoryRateLimiter(now=tick, max_keys=1_000)
    for n in range(10_000):
        await limiter.hit(f"flood-{n}", 5, 3600)
        assert len(limiter) <= 1_000
    # A key in use keeps its count through the pruning (it was hit last: newest).
    assert [await limiter.hit("me", 1, 3600) for _ in range(2)] == [0, 3600]
    for n in range(400):
        await limiter.hit(f"more-{n}", 5, 3600)
    assert await limiter.peek("me", 1) == 3600
    # Ended windows go first, whatever their key.
    tick.now += 3600
    await limiter.hit("after", 5, 60)
    assert len(limiter) <= 1_000
