"""In-process caches of read-mostly data (the catalog, the location network), kept right
across several API processes.

Every write that changes the data bumps the cache's generation *after its transaction
commits* (the unit of work does it, `infra.db.uow`): in this process at once, in the others
through a counter in Redis (`omnishelf:cache:<name>`), which each process reads at most every
`check_every` seconds (0.1 s). So a process serves what another one changed for at most
0.1 s (plus the Redis round trip) after the commit, and its own changes never. Entries also
expire after `ttl` (60 s), a backstop for a change whose counter bump was lost (Redis down,
a process killed between its commit and the bump). Without Redis (one embedded process)
only this process's changes exist, and entries live `ttl_alone` (5 s): several processes on
one database without Redis see each other's changes within that.

A value is stored only if no change was seen while it was read (the generation it was read
under is still current), so a read racing a commit never refills the cache with what the
commit replaced. While Redis cannot be read, the cache is bypassed (read through).
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("omnishelf.cache")

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
PREFIX = "omnishelf:cache:"


class SharedCounters:
    """The change counters of a process's caches in Redis (`omnishelf:cache:<name>`), read
    together (one MGET) at most every `check_every` seconds, whichever cache asks."""

    def __init__(self, check_every: float = 0.1):
        self.check_every = check_every
        self.redis: Redis | None = None
        self._names: list[str] = []
        self._values: dict[str, int] | None = {}  # None: Redis was unreadable
        self._checked_at = float("-inf")
        self._checking: asyncio.Task[None] | None = None

    def follow(self, name: str) -> None:
        if name not in self._names:
            self._names.append(name)
            self._checked_at = float("-inf")

    def share(self, redis: Redis | None) -> None:
        self.redis = redis
        self._values = {}
        self._checked_at = float("-inf")

    async def read(self) -> dict[str, int] | None:
        """The counters as last read (empty without Redis); None: Redis is unreadable."""
        if self.redis is not None and time.monotonic() - self._checked_at >= self.check_every:
            if self._checking is None:
                self._checking = asyncio.ensure_future(self._read(self.redis))
            await asyncio.shield(self._checking)
        return self._values

    async def _read(self, redis: Redis) -> None:
        try:
            raw = await redis.mget([PREFIX + name for name in self._names])
            self._values = {
                name: int(value) for name, value in zip(self._names, raw, strict=True) if value
            }
        except (RedisError, OSError, ValueError) as error:
            if self._values is not None:
                log.warning("caches bypassed: Redis unreadable", extra={"error": repr(error)})
            self._values = None
        finally:
            self._checked_at = time.monotonic()
            self._checking = None

    async def bump(self, name: str) -> int | None:
        """Tell the other processes; the new counter, or None when Redis is unreachable."""
        if self.redis is None:
            return None
        try:
            value = int(await self.redis.incr(PREFIX + name))
        except (RedisError, OSError) as error:
            log.warning(
                "cache change not shared; other processes forget it within the TTL",
                extra={"cache": name, "error": repr(error)},
            )
            return None
        if self._values is not None:
            self._values[name] = value  # what the next read would say: no stale view until then
        return value


class ReadCache:
    _every: weakref.WeakSet[ReadCache] = weakref.WeakSet()

    @classmethod
    def clear_all(cls) -> None:
        """Forget everything every cache of this process holds (tests that count the
        statements of a cold request)."""
        for cache in list(cls._every):
            cache.clear()

    def __init__(
        self,
        name: str,
        *,
        counters: SharedCounters | None = None,
        check_every: float = 0.1,
        ttl: float = 60.0,
        ttl_alone: float = 5.0,
        max_entries: int = 20_000,
    ):
        self.name = name
        self.ttl = ttl
        self.ttl_alone = ttl_alone
        self.max_entries = max_entries
        self._counters = counters or SharedCounters(check_every)
        self._counters.follow(name)
        self._entries: dict[Hashable, tuple[int, float, Any]] = {}
        self._generation = 0
        self._shared: int | None = None  # our counter in Redis as last read
        ReadCache._every.add(self)

    def share(self, redis: Redis | None) -> None:
        """Follow (and bump) the counter in Redis from now on; None: this process alone."""
        self._counters.share(redis)
        self._shared = None
        self.clear()

    def clear(self) -> None:
        self._generation += 1
        self._entries.clear()

    async def generation(self) -> int | None:
        """The generation to read under; None: do not cache now (Redis unreadable)."""
        counters = await self._counters.read()
        if counters is None:
            self._entries.clear()
            return None
        shared = counters.get(self.name, 0)
        if shared != self._shared:
            if self._shared is not None:  # another process changed it (or Redis restarted)
                self.clear()
            self._shared = shared
        return self._generation

    def lookup(self, key: Hashable, generation: int | None) -> tuple[bool, Any]:
        entry = self._entries.get(key)
        if entry is None or generation is None:
            return False, None
        stored_under, expires, value = entry
        if stored_under != generation or expires < time.monotonic():
            return False, None
        return True, value

    def store(self, key: Hashable, value: Any, generation: int | None) -> None:
        if generation is None or generation != self._generation:
            return  # a change was seen while this was read: it may be what the change replaced
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        ttl = self.ttl if self._counters.redis is not None else self.ttl_alone
        self._entries[key] = (generation, time.monotonic() + ttl, value)

    async def get(self, key: Hashable, load: Callable[[], Awaitable[V]]) -> V:
        generation = await self.generation()
        hit, value = self.lookup(key, generation)
        if hit:
            return value  # type: ignore[no-any-return]
        loaded = await load()
        self.store(key, loaded, generation)
        return loaded

    async def get_many(
        self,
        keys: Iterable[K],
        load: Callable[[list[K]], Awaitable[dict[K, V]]],
        *,
        space: str,
        remember_absent: bool = True,
    ) -> dict[K, V]:
        """Values by key; the missing ones loaded in one call. A key `load` does not return
        is remembered as absent too, unless `remember_absent` is false (keys anyone can
        make up, such as token hashes: they would only crowd out the rest)."""
        generation = await self.generation()
        found: dict[K, V] = {}
        missing: list[K] = []
        for key in keys:
            hit, value = self.lookup((space, key), generation)
            if not hit:
                missing.append(key)
            elif value is not None:
                found[key] = value
        if missing:
            loaded = await load(missing)
            for key in missing:
                value = loaded.get(key)
                if value is not None or remember_absent:
                    self.store((space, key), value, generation)
                if value is not None:
                    found[key] = value
        return found

    async def changed(self) -> None:
        """After a commit that changed the data: forget it here at once, and tell the other
        processes (they see it on their next check)."""
        self.clear()
        shared = await self._counters.bump(self.name)
        if shared is None:
            return
        if self._shared is None or shared != self._shared + 1:
            # Another process changed it too, or Redis lost the counter (a flush, a restart):
            # forget what was read meanwhile, and follow the counter from its new value.
            self.clear()
        self._shared = shared


class Caches:
    """The runtime's caches, by what they hold."""

    def __init__(self) -> None:
        self.counters = SharedCounters()
        self.catalog = ReadCache("catalog", counters=self.counters)
        self.locations = ReadCache("locations", counters=self.counters)
        # Sessions, device tokens and API keys: a revocation is seen by every process
        # within 0.1 s (Redis), at once by the one that made it; 1 s without Redis.
        self.credentials = ReadCache("credentials", counters=self.counters, ttl=5.0, ttl_alone=1.0)
        # The persisted-query allow-list, whole (infra/persisted_queries.py).
        self.persisted_queries = ReadCache("persisted_queries", counters=self.counters)

    def all(self) -> tuple[ReadCache, ...]:
        return (self.catalog, self.locations, self.credentials, self.persisted_queries)

    def share(self, redis: Redis | None) -> None:
        for cache in self.all():
            cache.share(redis)  # the same counters: shared once, all forgotten

    def clear(self) -> None:
        for cache in self.all():
            cache.clear()

    async def changed(self, names: Iterable[str]) -> None:
        for name in names:
            await getattr(self, name).changed()
