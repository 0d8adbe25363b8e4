"""What the delivery job is given: the notifier, the recipient lookup, the retry policy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from domain.clock import Clock
from domain.outbox.ports import Notifier, RecipientLookup

if TYPE_CHECKING:  # the unit of work lists the outbox's repository port
    from domain.uow import UnitOfWorkFactory

MAX_BACKOFF = timedelta(hours=1)


@dataclass(frozen=True)
class OutboxDeps:
    uow: UnitOfWorkFactory
    clock: Clock
    notifier: Notifier
    max_attempts: int = 6
    base_backoff: timedelta = timedelta(seconds=30)
    recipient: RecipientLookup | None = None  # member id -> WeChat openid, None when unknown

    def retry_delay(self, attempts: int) -> timedelta:
        """After the n-th failed attempt: base, 2 * base, 4 * base... at most an hour."""
        doublings = min(max(attempts - 1, 0), 30)
        return min(self.base_backoff * (1 << doublings), MAX_BACKOFF)
