"""In-memory records every context writes: idempotency claims and the notification outbox
(a dedupe key is stored once, as the unique index makes it)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.aftersales.member_code_ports import MemberCodeRepository
from domain.idempotency import IdempotencyStore
from domain.outbox import OutboxMessage, OutboxRepository, OutboxStatus
from domain.pagination import Page, PageRequest
from tests.fakes.tables import Tables, page_of


class FakeIdempotency(IdempotencyStore):
    def __init__(self, tables: Tables):
        self._t = tables

    async def claim(
        self,
        scope: str,
        key: str,
        fingerprint: str,
        at: datetime,
        result: dict[str, Any] | None = None,
    ) -> tuple[str, dict[str, Any] | None] | None:
        stored = self._t.idempotency.get((scope, key))
        if stored is not None:
            return stored[0], copy.deepcopy(stored[1])
        self._t.idempotency[(scope, key)] = (fingerprint, copy.deepcopy(result))
        return None

    async def complete(self, scope: str, key: str, result: dict[str, Any]) -> None:
        fingerprint, _ = self._t.idempotency[(scope, key)]
        self._t.idempotency[(scope, key)] = (fingerprint, copy.deepcopy(result))


class FakeOutbox(OutboxRepository):
    def __init__(self, tables: Tables):
        self._t = tables

    async def add(self, messages: Sequence[OutboxMessage]) -> int:
        keys = {m.dedupe_key for m in self._t.outbox.values()}
        added = 0
        for message in messages:
            if message.dedupe_key not in keys:
                keys.add(message.dedupe_key)
                self._t.outbox[message.id] = copy.deepcopy(message)
                added += 1
        return added

    async def claim_due(
        self, now: datetime, limit: int, lease_until: datetime
    ) -> list[OutboxMessage]:
        due = [
            m
            for m in self._t.outbox.values()
            if m.status in (OutboxStatus.PENDING, OutboxStatus.SENDING) and m.next_attempt_at <= now
        ]
        claimed = sorted(due, key=lambda m: m.next_attempt_at)[:limit]
        for m in claimed:
            m.status, m.next_attempt_at, m.attempts = (
                OutboxStatus.SENDING,
                lease_until,
                m.attempts + 1,
            )
        return [copy.deepcopy(m) for m in claimed]

    async def mark_sent(self, message_id: UUID, at: datetime) -> None:
        message = self._t.outbox[message_id]
        message.status, message.sent_at = OutboxStatus.SENT, at

    async def mark_failed(
        self, message_id: UUID, error: str, next_attempt_at: datetime | None
    ) -> None:
        message = self._t.outbox[message_id]
        if message.status is not OutboxStatus.SENDING:
            return
        message.last_error = error
        if next_attempt_at is None:
            message.status = OutboxStatus.FAILED
        else:
            message.status, message.next_attempt_at = OutboxStatus.PENDING, next_attempt_at

    async def for_orders(self, order_ids: Sequence[UUID]) -> list[OutboxMessage]:
        found = [m for m in self._t.outbox.values() if m.order_id in order_ids]
        return [replace(m) for m in sorted(found, key=lambda m: m.id)]

    async def for_member(self, member_id: UUID, page: PageRequest) -> Page[OutboxMessage]:
        found = [replace(m) for m in self._t.outbox.values() if m.member_id == member_id]
        return page_of(found, lambda m: str(m.id), page, newest_first=True)


class FakeMemberCodes(MemberCodeRepository):
    def __init__(self, tables: Tables):
        self._t = tables

    async def use(
        self, nonce: str, member_id: UUID, actor: str, used_at: datetime, expires_at: datetime
    ) -> bool:
        if nonce in self._t.member_code_uses:
            return False
        self._t.member_code_uses[nonce] = (member_id, actor, used_at, expires_at)
        return True

    async def is_used(self, nonce: str) -> bool:
        return nonce in self._t.member_code_uses

    async def delete_used_before(self, cutoff: datetime) -> int:
        old = [
            nonce
            for nonce, (_, _, used_at, expires_at) in self._t.member_code_uses.items()
            if used_at < cutoff and expires_at < cutoff
        ]
        for nonce in old:
            del self._t.member_code_uses[nonce]
        return len(old)
