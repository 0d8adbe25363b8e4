"""What the outbox needs: a repository of messages and a notifier that delivers them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from domain.outbox.model import OutboxMessage
from domain.pagination import Page, PageRequest

RecipientLookup = Callable[[UUID | None], Awaitable[str | None]]


class OutboxRepository(Protocol):
    async def add(self, messages: Sequence[OutboxMessage]) -> int:
        """Insert the messages whose dedupe_key is new and skip the others, without failing
        the transaction; returns how many were inserted."""
        ...

    async def claim_due(
        self, now: datetime, limit: int, lease_until: datetime
    ) -> list[OutboxMessage]:
        """PENDING messages due by `now` and SENDING ones whose lease has expired, earliest
        first, locked with SKIP LOCKED: each becomes SENDING until `lease_until`, with one
        attempt more. Returned as claimed."""
        ...

    async def mark_sent(self, message_id: UUID, at: datetime) -> None: ...

    async def mark_failed(
        self, message_id: UUID, error: str, next_attempt_at: datetime | None
    ) -> None:
        """PENDING again from `next_attempt_at`, or FAILED for good when it is None. A message
        another run has meanwhile sent stays SENT."""
        ...

    async def for_orders(self, order_ids: Sequence[UUID]) -> list[OutboxMessage]:
        """The messages about these orders, oldest first (one query for a page of orders)."""
        ...

    async def for_member(self, member_id: UUID, page: PageRequest) -> Page[OutboxMessage]:
        """Newest first."""
        ...


class NotifierError(Exception):
    """A message was not delivered. `permanent` when retrying cannot help (the member
    refused the subscription, the recipient does not exist)."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class Notifier(Protocol):
    async def send(self, message: OutboxMessage, recipient_openid: str | None) -> None:
        """Deliver one message, or raise NotifierError. May be called again for a message
        already delivered (at least once): the message carries its dedupe_key."""
        ...
