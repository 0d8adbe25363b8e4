from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from tortoise.expressions import F

from domain.outbox import OutboxMessage, OutboxStatus
from domain.pagination import Page, PageRequest
from infra.db import sql
from infra.db.models.outbox import OutboxMessageRow
from infra.repositories.paging import after_uuid

OUTBOX_COLUMNS = (
    "id",
    "kind",
    "member_id",
    "order_id",
    "data",
    "dedupe_key",
    "status",
    "attempts",
    "next_attempt_at",
    "last_error",
    "created_at",
    "sent_at",
)
_PER_ROW = len(OUTBOX_COLUMNS)


def _values(m: OutboxMessage) -> tuple[Any, ...]:
    return (
        m.id,
        m.kind,
        m.member_id,
        m.order_id,
        json.dumps(m.data),
        m.dedupe_key,
        m.status.value,
        m.attempts,
        m.next_attempt_at,
        m.last_error,
        m.created_at,
        m.sent_at,
    )


def _message(row: OutboxMessageRow) -> OutboxMessage:
    return OutboxMessage(
        id=row.id,
        kind=row.kind,
        member_id=row.member_id,
        order_id=row.order_id,
        data={str(k): str(v) for k, v in row.data.items()},
        dedupe_key=row.dedupe_key,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        created_at=row.created_at,
        sent_at=row.sent_at,
    )


class TortoiseOutboxRepository:
    async def add(self, messages: Sequence[OutboxMessage]) -> int:
        if not messages:
            return 0
        rows = ", ".join(
            "(" + ", ".join(f"${i * _PER_ROW + j}" for j in range(1, _PER_ROW + 1)) + ")"
            for i in range(len(messages))
        )
        # A plain INSERT of a taken key would abort a PostgreSQL transaction: the caller's
        # state change with it. RETURNING counts the new rows (asyncpg reports no row count).
        inserted = await sql.fetch(
            f"INSERT INTO outbox_message ({', '.join(OUTBOX_COLUMNS)}) VALUES {rows} "
            "ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
            *(value for m in messages for value in _values(m)),
        )
        return len(inserted)

    async def claim_due(
        self, now: datetime, limit: int, lease_until: datetime
    ) -> list[OutboxMessage]:
        rows = (
            await OutboxMessageRow.filter(
                status__in=[OutboxStatus.PENDING, OutboxStatus.SENDING], next_attempt_at__lte=now
            )
            .order_by("next_attempt_at")
            .limit(limit)
            .select_for_update(skip_locked=True)
        )
        if not rows:
            return []
        await OutboxMessageRow.filter(id__in=[r.id for r in rows]).update(
            status=OutboxStatus.SENDING, next_attempt_at=lease_until, attempts=F("attempts") + 1
        )
        claimed = [_message(r) for r in rows]
        for m in claimed:
            m.status, m.next_attempt_at, m.attempts = (
                OutboxStatus.SENDING,
                lease_until,
                m.attempts + 1,
            )
        return claimed

    async def mark_sent(self, message_id: UUID, at: datetime) -> None:
        await OutboxMessageRow.filter(id=message_id).update(status=OutboxStatus.SENT, sent_at=at)

    async def mark_failed(
        self, message_id: UUID, error: str, next_attempt_at: datetime | None
    ) -> None:
        changes: dict[str, Any] = {"last_error": error}
        if next_attempt_at is None:
            changes["status"] = OutboxStatus.FAILED
        else:
            changes.update(status=OutboxStatus.PENDING, next_attempt_at=next_attempt_at)
        await OutboxMessageRow.filter(id=message_id, status=OutboxStatus.SENDING).update(**changes)

    async def for_orders(self, order_ids: Sequence[UUID]) -> list[OutboxMessage]:
        rows = await OutboxMessageRow.filter(order_id__in=list(order_ids)).order_by("id")
        return [_message(r) for r in rows]

    async def for_member(self, member_id: UUID, page: PageRequest) -> Page[OutboxMessage]:
        query = OutboxMessageRow.filter(member_id=member_id)
        if page.after is not None:
            query = query.filter(id__lt=after_uuid(page.after))
        rows = await query.order_by("-id").limit(page.first + 1)
        return Page.from_rows([_message(r) for r in rows], [str(r.id) for r in rows], page)
