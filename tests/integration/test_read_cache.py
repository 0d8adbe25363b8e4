"""infra.cache.ReadCache: kept across requests, forgotten after a committed change, in this
process at once and in the others through Redis; never refilled with what a change replaced."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from domain.catalog.model import CatalogStatus, Product
from domain.ids import new_id
from infra.cache import Caches, ReadCache
from infra.db.uow import TortoiseUnitOfWork
from infra.runtime import Runtime


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.fail("TEST_REDIS_URL is not set: run through scripts/with-services.sh")
    return url


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    await client.delete("omnishelf:cache:test")
    yield client
    await client.aclose()


class Loads:
    """A loader that counts its calls and returns the call number."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> int:
        self.calls += 1
        return self.calls


async def test_a_value_is_kept_until_a_change() -> None:
    cache, load = ReadCache("test"), Loads()
    assert await cache.get("k", load) == 1
    assert await cache.get("k", load) == 1
    await cache.changed()
    assert await cache.get("k", load) == 2


async def test_a_value_read_while_the_data_changed_is_not_kept() -> None:
    cache = ReadCache("test")
    calls = 0

    async def racing_load() -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            await cache.changed()  # a commit lands while this read is in flight
        return calls

    assert await cache.get("k", racing_load) == 1  # the caller gets what it read...
    assert await cache.get("k", racing_load) == 2  # ...but it was not kept


async def test_another_process_forgets_a_change_after_its_check_interval(redis: Redis) -> None:
    here, there = ReadCache("test", check_every=0.05), ReadCache("test", check_every=0.05)
    here.share(redis)
    there.share(redis)
    load = Loads()
    assert await here.get("k", load) == 1
    assert await here.get("k", load) == 1
    await there.changed()
    await asyncio.sleep(0.06)
    assert await here.get("k", load) == 2
    assert await here.get("k", load) == 2


async def test_a_change_after_redis_lost_its_counters_keeps_the_next_read(
    redis: Redis,
) -> None:
    """Redis flushed (or restarted) while this process remembered higher counters: its own
    next change sets the counter anew, and what it reads after that is kept, whether or not
    the check interval has come round since (the stale counters once made every read miss
    for 0.1 s, at random, as the CI run that failed on a warm availability read showed)."""
    cache, load = ReadCache("test", check_every=0.05), Loads()
    cache.share(redis)
    for _ in range(3):
        await cache.changed()
    assert await cache.get("k", load) == 1  # counters read: 3
    await redis.delete("omnishelf:cache:test")  # lost: FLUSHDB, a restart without persistence
    await cache.changed()  # counter 1, within the check interval of the last read
    assert await cache.get("k", load) == 2
    await asyncio.sleep(0.06)  # the next check reads 1, as this process already knows
    assert await cache.get("k", load) == 2
    assert await cache.get("k", load) == 2


async def test_without_redis_values_live_a_short_time() -> None:
    cache, load = ReadCache("test", ttl_alone=0.05), Loads()
    assert await cache.get("k", load) == 1
    await asyncio.sleep(0.06)
    assert await cache.get("k", load) == 2


async def test_an_unreachable_redis_means_reading_through() -> None:
    cache, load = ReadCache("test"), Loads()
    gone = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    cache.share(gone)
    try:
        assert await cache.get("k", load) == 1
        assert await cache.get("k", load) == 2  # nothing kept: changes could not be seen
    finally:
        await gone.aclose()


async def test_many_keys_load_only_the_missing_and_remember_the_absent() -> None:
    cache = ReadCache("test")
    asked: list[list[str]] = []

    async def load(keys: list[str]) -> dict[str, int]:
        asked.append(keys)
        return {k: len(k) for k in keys if k != "none"}

    assert await cache.get_many(["a", "bb"], load, space="s") == {"a": 1, "bb": 2}
    assert await cache.get_many(["bb", "ccc", "none"], load, space="s") == {"bb": 2, "ccc": 3}
    assert await cache.get_many(["none", "a"], load, space="s") == {"a": 1}
    assert asked == [["a", "bb"], ["ccc", "none"]]


def _product(name: str) -> Product:
    now = datetime.now(UTC)
    slug = f"slug-{new_id().hex[:12]}"
    return Product(new_id(), name, slug, "", None, CatalogStatus.ACTIVE, now, now)


async def test_a_nested_write_is_told_after_the_outermost_commit(runtime: Runtime) -> None:
    caches = Caches()  # this process alone: only these units of work change it
    start = await caches.catalog.generation()
    async with TortoiseUnitOfWork(caches):
        async with TortoiseUnitOfWork(caches) as inner:
            await inner.catalog.add_product(_product("Kept back"))
        assert await caches.catalog.generation() == start  # not committed yet
    assert await caches.catalog.generation() != start


async def test_a_rolled_back_write_changes_nothing(runtime: Runtime) -> None:
    caches = Caches()
    start = await caches.catalog.generation()
    with pytest.raises(RuntimeError):
        async with TortoiseUnitOfWork(caches) as uow:
            await uow.catalog.add_product(_product("Never there"))
            raise RuntimeError("abandon")
    assert await caches.catalog.generation() == start
