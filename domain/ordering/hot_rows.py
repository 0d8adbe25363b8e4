"""The admission gate of a hot SKU (a flash sale, Double-11): at most `per_key` checkouts of
one SKU at one store run their transaction at once in this process; the others wait here,
before their transaction opens, instead of queueing on the stock row's lock (and the sale's
counter, and the store's pickup counter). Every checkout of that SKU at that store would wait
for that lock anyway; waiting for it holding a connection and an open transaction, on an event
loop the waiters share with the lock's holder, made the holder slower with every waiter (a
convoy: docs/performance.md, "Flash sales and the hot SKU"). The database still decides who
gets the stock: the gate orders the attempts, it counts nothing.

Keys are taken in sorted order, so two multi-line orders never wait for each other in a
circle; a key's semaphore is dropped when nobody holds or waits for it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from uuid import UUID

HotKey = tuple[UUID, UUID]  # (location, variant)


class HotRowGate:
    def __init__(self, per_key: int = 4):
        self.per_key = per_key
        self._gates: dict[HotKey, tuple[asyncio.Semaphore, list[int]]] = {}

    @asynccontextmanager
    async def hold(self, keys: Iterable[HotKey]) -> AsyncIterator[None]:
        if self.per_key <= 0:
            yield
            return
        async with AsyncExitStack() as stack:
            for key in sorted(set(keys)):
                await stack.enter_async_context(self._one(key))
            yield

    @asynccontextmanager
    async def _one(self, key: HotKey) -> AsyncIterator[None]:
        semaphore, users = self._gates.setdefault(key, (asyncio.Semaphore(self.per_key), [0]))
        users[0] += 1
        try:
            async with semaphore:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._gates[key]

    def waiting(self, key: HotKey) -> int:
        """Checkouts holding or waiting for `key` (for tests and metrics)."""
        found = self._gates.get(key)
        return found[1][0] if found else 0
