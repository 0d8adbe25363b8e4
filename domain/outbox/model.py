"""The outbox's records: what a context asks to tell a member, and the stored message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from domain.ids import new_id
from domain.members.model import ConsentPurpose

MAX_KIND_LENGTH = 40
MAX_DEDUPE_KEY_LENGTH = 150
MAX_ERROR_LENGTH = 500


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
        if self.consent is not None and not self.consent.is_marketing:
            raise ValueError("A notification needs a marketing consent purpose, or none.")
        if not 0 < len(self.kind) <= MAX_KIND_LENGTH:
            raise ValueError(f"Notification kind is 1-{MAX_KIND_LENGTH} characters.")
        if not 0 < len(self.dedupe_key) <= MAX_DEDUPE_KEY_LENGTH:
            raise ValueError(f"Notification dedupe_key is 1-{MAX_DEDUPE_KEY_LENGTH} characters.")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in self.data.items()):
            raise ValueError("Notification data maps template field names to strings.")


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
