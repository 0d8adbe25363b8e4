"""The outbox's use cases: `enqueue` inside the caller's transaction, `deliver_due` the job."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from domain.clock import Clock
from domain.members.model import ConsentRecord, can_contact
from domain.outbox.deps import OutboxDeps
from domain.outbox.model import MAX_ERROR_LENGTH, Notification, OutboxMessage
from domain.outbox.ports import NotifierError

if TYPE_CHECKING:  # the unit of work lists the outbox's repository port
    from domain.uow import UnitOfWork

log = logging.getLogger("omnishelf.outbox")

CLAIM_LEASE = timedelta(seconds=60)


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
