"""The outbox: notifications written in the transaction of the change that causes them, and
delivered afterwards by a job, at least once.

    enqueue(uow, clock, notifications)   inside the caller's unit of work: the state change
                                         and its notifications commit, or roll back, together;
                                         a marketing message is dropped here unless its member
                                         has consented to its purpose (`can_contact`)
    deliver_due(deps)                    the job: claim due messages under a lease (tx 1),
                                         send each outside any transaction, record each
                                         outcome (tx 2 per message), retry with backoff

A worker that dies after sending but before recording leaves its messages SENDING; once the
lease expires another run claims them and sends again. Receivers dedupe on `dedupe_key`,
which travels with every message.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol
from uuid import UUID

from domain.clock import Clock
from domain.ids import new_id
from domain.members.model import ConsentPurpose, ConsentRecord, can_contact
from domain.pagination import Page, PageRequest

if TYPE_CHECKING:  # the unit of work lists this module's repository port
    from domain.uow import UnitOfWork

log = logging.getLogger("omnishelf.outbox")

MAX_KIND_LENGTH = 40
MAX_DEDUPE_KEY_LENGTH = 150
MAX_ERROR_LENGTH = 500
CLAIM_LEASE = timedelta(seconds=60)
MAX_BACKOFF = timedelta(hours=1)

RecipientLookup = Callable[[UUID | None], Awaitable[str | None]]


@dataclass(frozen=True)
class Notification:
    """What to tell a member; `data` fills the template (order_number, store, code...).

    `consent` is None for a transactional message (order paid, ready, reminder, refund),
    which the member gets whatever they chose. A marketing message (review invitation,
    later coupons and campaigns) names the consent purpose of its channel, e.g.
    MARKETING_WECHAT for a WeChat message, and is only written for a member who holds it."""

    kind: str  # ORDER_PAID, ORDER_READY_FOR_PICKUP, PICKUP_REMINDER, ...
    member_id: UUID | None
    order_id: UUID | None
    data: dict[str, str]
    dedupe_key: str  # at most one message per key, ever: e.g. f"order:{id}:ready"
    consent: ConsentPurpose | None = None

    def __post_init__(self) -> None:
        # Mistakes of the calling context, not input a client could correct.
        if not 0 < len(self.kind) <= MAX_KIND_LENGTH:
            raise ValueError(f"Notification kind is 1-{MAX_KIND_LENGTH} characters.")
        if not 0 < len(self.dedupe_key) <= MAX_DEDUPE_KEY_LENGTH:
            raise ValueError(f"Notification dedupe_key is 1-{MAX_DEDUPE_KEY_LENGTH} characters.")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in self.data.items()):
            raise ValueError("Notification data maps template field names to strings.")
        if self.consent is not None and not self.consent.is_marketing:
            raise ValueError("A notification needs a marketing consent purpose, or none.")


class OutboxStatus(StrEnum):
    PENDING = "PENDING"  # waiting for next_attempt_at
    SENDING = "SENDING"  # claimed by a delivery run until next_attempt_at (its lease)
    SENT = "SENT"
    FAILED = "FAILED"  # gave up: out of attempts, or the notifier said retrying cannot help


@dataclass
class OutboxMessage:
    id: UUID
    kind: str
    member_id: UUID | None
    order_id: UUID | None
    data: dict[str, str]
    dedupe_key: str
    status: OutboxStatus
    attempts: int  # deliveries started, so a message whose worker keeps dying still runs out
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None = None

    @classmethod
    def pending(cls, notification: Notification, now: datetime) -> OutboxMessage:
        return cls(
            id=new_id(),
            kind=notification.kind,
            member_id=notification.member_id,
            order_id=notification.order_id,
            data=dict(notification.data),
            dedupe_key=notification.dedupe_key,
            status=OutboxStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            last_error=None,
            created_at=now,
        )


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


@dataclass(frozen=True)
class OutboxDeps:
    uow: Callable[[], UnitOfWork]
    clock: Clock
    notifier: Notifier
    max_attempts: int = 6
    base_backoff: timedelta = timedelta(seconds=30)
    recipient: RecipientLookup | None = None  # member id -> WeChat openid, None when unknown

    def retry_delay(self, attempts: int) -> timedelta:
        """After the n-th failed attempt: base, 2 * base, 4 * base... at most an hour."""
        doublings = min(max(attempts - 1, 0), 30)
        return min(self.base_backoff * (1 << doublings), MAX_BACKOFF)


async def enqueue(uow: UnitOfWork, clock: Clock, notifications: Sequence[Notification]) -> int:
    """Call inside the caller's unit of work. Returns how many were new (a dedupe_key already
    stored, by this or any earlier transaction, is skipped, and so is a marketing message
    to a member without the consent it needs)."""
    allowed = await reachable(uow, notifications)
    if not allowed:
        return 0
    now = clock.now()
    return await uow.outbox.add([OutboxMessage.pending(n, now) for n in allowed])


async def reachable(uow: UnitOfWork, notifications: Sequence[Notification]) -> list[Notification]:
    """The notifications a member may receive: every transactional one; a marketing one only
    when the member's current consent to its purpose is a grant (`can_contact`: never asked
    or withdrawn means no). One read of the consents, whatever the number of messages."""
    members = {n.member_id for n in notifications if n.consent is not None and n.member_id}
    consents: dict[UUID, list[ConsentRecord]] = defaultdict(list)
    for record in await uow.members.consents_of(sorted(members)) if members else []:
        consents[record.member_id].append(record)
    return [
        n
        for n in notifications
        if n.consent is None
        or (n.member_id is not None and can_contact(consents[n.member_id], n.consent))
    ]


async def deliver_due(deps: OutboxDeps, batch: int = 100, max_batches: int = 20) -> int:
    """Job: send what is due; returns how many were sent. Runs may overlap: each claims its
    own messages, and stops sending once its lease is over (the rest may be claimed again).
    A run keeps claiming batches while they come back full (up to `max_batches`), so a
    backlog drains at the notifier's pace rather than one batch per tick."""
    sent = 0
    for _ in range(max_batches):
        lease_until = deps.clock.now() + CLAIM_LEASE
        async with deps.uow() as uow:
            claimed = await uow.outbox.claim_due(deps.clock.now(), batch, lease_until)
        for message in claimed:
            if deps.clock.now() >= lease_until:
                return sent
            sent += await _deliver(deps, message)
        if len(claimed) < batch:
            break
    return sent


async def _deliver(deps: OutboxDeps, message: OutboxMessage) -> bool:
    if message.attempts > deps.max_attempts:
        # Claimed again after its last attempt left no outcome (the worker died mid-send).
        await _record_failure(deps, message, "no outcome recorded for the last attempt", True)
        return False
    try:
        openid = await deps.recipient(message.member_id) if deps.recipient else None
        await deps.notifier.send(message, openid)
    except NotifierError as error:
        await _record_failure(deps, message, str(error) or "notifier failed", error.permanent)
        return False
    except Exception as error:  # a bug or an unmapped failure must not stall the others
        log.exception("outbox delivery crashed", extra={"message_id": str(message.id)})
        await _record_failure(deps, message, type(error).__name__, False)
        return False
    async with deps.uow() as uow:
        await uow.outbox.mark_sent(message.id, deps.clock.now())
    return True


async def _record_failure(
    deps: OutboxDeps, message: OutboxMessage, error: str, permanent: bool
) -> None:
    give_up = permanent or message.attempts >= deps.max_attempts
    retry_at = None if give_up else deps.clock.now() + deps.retry_delay(message.attempts)
    log.warning(
        "outbox delivery failed",
        extra={
            "message_id": str(message.id),
            "kind": message.kind,
            "attempts": message.attempts,
            "gave_up": give_up,
            "error": error,
        },
    )
    async with deps.uow() as uow:
        await uow.outbox.mark_failed(message.id, error[:MAX_ERROR_LENGTH], retry_at)
