"""Where persisted queries live (the protocol is api/persisted.py).

- `RegisteredQueries`: the allow-list, table `persisted_query`, filled by `omnishelf
  persisted-queries add`. Every process keeps the whole list in its `persisted_queries`
  read cache (`infra.cache`): a lookup, found or not, reads no SQL, so unknown hashes cost
  nothing however many a client makes up. A change through this class reaches the other
  processes within 0.1 s through Redis (5 s without Redis, the cache's TTL alone).
- `ApqDocuments`: what automatic persisted queries learnt from clients. In Redis when there is
  one (`omnishelf:apq:<sha256>`, every process reads them, kept PERSISTED_QUERY_TTL), else in
  a bounded LRU of this process. Redis being unreachable is a cache miss (the client resends
  the document), never an error.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from redis.asyncio import Redis
from redis.exceptions import RedisError
from tortoise.transactions import in_transaction

from domain.clock import Clock
from domain.ids import new_id
from infra.cache import ReadCache
from infra.db.models.persisted import PersistedQueryRow

log = logging.getLogger("omnishelf.persisted")

APQ_PREFIX = "omnishelf:apq:"
APQ_MEMORY_ENTRIES = 1_000  # without Redis; each at most the longest document allowed


def sha256_hex(document: str) -> str:
    """The hash Apollo's client sends: lowercase hex SHA-256 of the UTF-8 text. (A lone
    surrogate, which JSON can carry and UTF-8 cannot, is hashed rather than crashing.)"""
    return hashlib.sha256(document.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Operation:
    """An operation document as a client sends it, and its operation's name."""

    name: str | None
    document: str

    @property
    def sha256(self) -> str:
        return sha256_hex(self.document)


@dataclass(frozen=True)
class PersistedQuery:
    sha256: str
    name: str | None
    document: str
    added_at: datetime


def _record(row: PersistedQueryRow) -> PersistedQuery:
    return PersistedQuery(row.sha256, row.name, row.document, row.added_at)


class RegisteredQueries:
    """The allow-list in the database, read through a cache of the whole list."""

    def __init__(self, cache: ReadCache, clock: Clock):
        self._cache = cache
        self._clock = clock

    async def _load(self) -> dict[str, str]:
        rows = await PersistedQueryRow.all().values_list("sha256", "document")
        return {sha256: document for sha256, document in rows}

    async def document(self, sha256: str) -> str | None:
        registered: dict[str, str] = await self._cache.get("all", self._load)
        return registered.get(sha256)

    async def all(self) -> list[PersistedQuery]:
        rows = await PersistedQueryRow.all().order_by("added_at", "sha256")
        return [_record(row) for row in rows]

    async def add(self, operations: Sequence[Operation]) -> list[tuple[Operation, bool]]:
        """Register the operations in one transaction; each with whether it is new (False: it
        was registered already, and is left as it was)."""
        unique = list({op.sha256: op for op in operations}.values())
        now = self._clock.now()
        async with in_transaction() as conn:
            known: set[str] = set(
                await PersistedQueryRow.filter(sha256__in=[op.sha256 for op in unique])
                .using_db(conn)
                .values_list("sha256", flat=True)  # type: ignore[arg-type]
            )
            new = [op for op in unique if op.sha256 not in known]
            # A concurrent `add` of the same operation (two CI builds): its row wins, ours is
            # skipped by the unique key, and both report it added.
            if new:
                await PersistedQueryRow.bulk_create(
                    [
                        PersistedQueryRow(
                            id=new_id(),
                            sha256=op.sha256,
                            name=op.name,
                            document=op.document,
                            added_at=now,
                        )
                        for op in new
                    ],
                    ignore_conflicts=True,
                    using_db=conn,
                )
        if new:
            await self._cache.changed()
        return [(op, op.sha256 not in known) for op in unique]

    async def remove(self, sha256: str) -> bool:
        removed = await PersistedQueryRow.filter(sha256=sha256).delete()
        if removed:
            await self._cache.changed()
        return bool(removed)


class ApqDocuments:
    """Documents registered by clients through APQ: Redis when the runtime has it, else here."""

    def __init__(
        self,
        redis: Callable[[], Redis | None],
        ttl: int,
        max_entries: int = APQ_MEMORY_ENTRIES,
    ):
        self._redis = redis
        self._ttl = ttl
        self._max_entries = max_entries
        self._memory: OrderedDict[str, str] = OrderedDict()

    async def get(self, sha256: str) -> str | None:
        redis = self._redis()
        if redis is None:
            document = self._memory.get(sha256)
            if document is not None:
                self._memory.move_to_end(sha256)
            return document
        try:
            raw = await redis.get(APQ_PREFIX + sha256)
        except (RedisError, OSError) as error:
            log.warning("APQ store unreadable: a miss", extra={"error": repr(error)})
            return None
        return None if raw is None else bytes(raw).decode("utf-8", "surrogatepass")

    async def put(self, sha256: str, document: str) -> None:
        redis = self._redis()
        if redis is None:
            self._memory[sha256] = document
            self._memory.move_to_end(sha256)
            while len(self._memory) > self._max_entries:
                self._memory.popitem(last=False)
            return
        try:
            await redis.set(
                APQ_PREFIX + sha256,
                document.encode("utf-8", "surrogatepass"),
                ex=self._ttl or None,
            )
        except (RedisError, OSError) as error:
            log.warning("APQ document not stored", extra={"error": repr(error)})
