"""Transactions that lost a deadlock or a serialization conflict are run again.

PostgreSQL breaks a deadlock by failing one of its transactions (SQLSTATE 40P01) and a
REPEATABLE READ / SERIALIZABLE conflict the same way (40001); SQLite answers "database is
locked" when a writer waited past its timeout. Nothing of the failed transaction remains,
so running the use case again is safe: every use case is one transaction, and the ones
with effects outside it take an idempotency key. A few tries with a jittered, growing pause
(the other transaction finishes meanwhile), then the error goes on as before."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from domain.uow import Contended

log = logging.getLogger("omnishelf.db")

T = TypeVar("T")
TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure
ATTEMPTS = 4
FIRST_PAUSE = 0.01  # seconds; doubled each time, with jitter


def is_transient(error: BaseException) -> bool:
    """A deadlock or serialization failure anywhere in the exception's chain (Tortoise wraps
    the driver's error)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, Contended):
            return True
        if getattr(current, "sqlstate", None) in TRANSIENT_SQLSTATES:
            return True
        if "database is locked" in str(current) or "deadlock detected" in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False


async def retrying(action: Callable[[], Awaitable[T]], what: str) -> T:
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return await action()
        except Exception as error:
            if attempt == ATTEMPTS or not is_transient(error):
                raise
            log.warning("transaction retried", extra={"what": what, "attempt": attempt})
            await asyncio.sleep(FIRST_PAUSE * 2 ** (attempt - 1) * (0.5 + random.random()))
    raise AssertionError("unreachable")
