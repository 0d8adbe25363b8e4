"""The outbox: notifications written in the transaction of the change that causes them, and
delivered afterwards by a job, at least once.

    enqueue(uow, clock, notifications)   inside the caller's unit of work: the state change
                                         and its notifications commit, or roll back, together;
                                         a marketing message is dropped here unless its member
                                         has consented to its purpose (`can_contact`)
    deliver_due(deps)                    the job: claim due messages under a lease (tx 1),
                                         send each outside any transaction, record each
                                         outcome (tx 2 per message), retry with backoff

`MESSAGE_KINDS` lists every kind of message and the fields it carries (the templates'
contract).

A worker that dies after sending but before recording leaves its messages SENDING; once the
lease expires another run claims them and sends again. Every message has a `dedupe_key` for
receivers that dedupe; WeChat's subscribe messages do not, so after such a crash a member
may see one twice.
"""

from domain.outbox.deps import MAX_BACKOFF, OutboxDeps
from domain.outbox.kinds import MESSAGE_KINDS, FieldShape, MessageKind
from domain.outbox.model import (
    MAX_DEDUPE_KEY_LENGTH,
    MAX_ERROR_LENGTH,
    MAX_KIND_LENGTH,
    Notification,
    OutboxMessage,
    OutboxStatus,
)
from domain.outbox.ports import Notifier, NotifierError, OutboxRepository, RecipientLookup
from domain.outbox.services import CLAIM_LEASE, deliver_due, enqueue, reachable

__all__ = [
    "CLAIM_LEASE",
    "MAX_BACKOFF",
    "MAX_DEDUPE_KEY_LENGTH",
    "MAX_ERROR_LENGTH",
    "MAX_KIND_LENGTH",
    "MESSAGE_KINDS",
    "FieldShape",
    "MessageKind",
    "Notification",
    "Notifier",
    "NotifierError",
    "OutboxDeps",
    "OutboxMessage",
    "OutboxRepository",
    "OutboxStatus",
    "RecipientLookup",
    "deliver_due",
    "enqueue",
    "reachable",
]
