"""Automations: definitions, sends (one per automation, member and period), and how many
orders were handed over to each member."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from tortoise.functions import Count

from domain.engagement.automations_model import (
    Action,
    ActionKind,
    Automation,
    AutomationDraft,
    AutomationStatus,
    Conditions,
    FrequencyCap,
    MessageChannel,
    QuietHours,
    Send,
    SendOutcome,
    Trigger,
    TriggerKind,
)
from domain.engagement.automations_ports import AutomationRepository
from domain.engagement.segments_ports import Where
from domain.pagination import Page, PageRequest
from infra.db import sql
from infra.db.models.automations import (
    AutomationMemberRow,
    AutomationRow,
    AutomationScanRow,
    AutomationSegmentMemberRow,
    AutomationSendRow,
)
from infra.repositories.paging import after_uuid
from infra.repositories.segments import members_sql

SEND_COLUMNS = (
    "id",
    "automation_id",
    "member_id",
    "period_key",
    "outcome",
    "action",
    "due_at",
    "created_at",
    "done_at",
    "message_key",
    "coupon_id",
    "points_entry_id",
    "detail",
    "tag_id",
)


SETTLED = SEND_COLUMNS[4:]  # what a run changes of a send
_UPDATE_SEND = (
    "UPDATE automation_send SET "
    + ", ".join(f"{c} = ${n}" for n, c in enumerate(SETTLED, start=1))
    + f" WHERE id = ${len(SETTLED) + 1}"
)
SENDS_PER_INSERT = 1000  # 14 values a row: far below either database's limit of parameters


@functools.lru_cache(maxsize=8)
def _insert_sends(count: int) -> str:
    rows = ", ".join(
        f"({sql.placeholders(len(SEND_COLUMNS), start=n * len(SEND_COLUMNS) + 1)})"
        for n in range(count)
    )
    return f"INSERT INTO automation_send ({', '.join(SEND_COLUMNS)}) VALUES {rows}"


def _spec(draft: AutomationDraft) -> dict[str, Any]:
    action, conditions = draft.action, draft.conditions
    return {
        "trigger": {
            "kind": draft.trigger.kind.value,
            "days": draft.trigger.days,
            "segment_id": str(draft.trigger.segment_id) if draft.trigger.segment_id else None,
        },
        "conditions": {"tiers": list(conditions.tiers), "min_orders": conditions.min_orders},
        "action": {
            "kind": action.kind.value,
            "coupon_template_id": str(action.coupon_template_id)
            if action.coupon_template_id
            else None,
            "points": action.points,
            "channel": action.channel.value if action.channel else None,
            "text": action.text,
            "tag_id": str(action.tag_id) if action.tag_id else None,
        },
        "cap": {"messages": draft.cap.messages, "days": draft.cap.days},
        "quiet": {"start": draft.quiet.start, "end": draft.quiet.end},
    }


def _draft(name: str, spec: dict[str, Any]) -> AutomationDraft:
    a = spec["action"]
    return AutomationDraft(
        name=name,
        trigger=Trigger(
            TriggerKind(spec["trigger"]["kind"]),
            spec["trigger"]["days"],
            UUID(spec["trigger"]["segment_id"]) if spec["trigger"].get("segment_id") else None,
        ),
        conditions=Conditions(tuple(spec["conditions"]["tiers"]), spec["conditions"]["min_orders"]),
        action=Action(
            ActionKind(a["kind"]),
            UUID(a["coupon_template_id"]) if a["coupon_template_id"] else None,
            a["points"],
            MessageChannel(a["channel"]) if a["channel"] else None,
            a["text"],
            UUID(a["tag_id"]) if a.get("tag_id") else None,
        ),
        cap=FrequencyCap(**spec["cap"]),
        quiet=QuietHours(**spec["quiet"]),
    )


def _automation(row: AutomationRow) -> Automation:
    spec = sql.as_json(row.spec)
    return Automation(row.id, _draft(row.name, spec), row.status, row.created_at, row.updated_at)


def _new_uuid() -> str:
    """A random UUID made by the database, for rows an INSERT … SELECT writes (SQLite keeps
    UUIDs as their 36-character text)."""
    if sql.is_sqlite():
        return (
            "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || "
            "substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + abs(random()) % 4, 1) || "
            "substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))"
        )
    return "gen_random_uuid()"


def _send(row: AutomationSendRow) -> Send:
    return Send(**{c: getattr(row, c) for c in SEND_COLUMNS})


class TortoiseAutomationRepository(AutomationRepository):
    async def add(self, automation: Automation) -> None:
        await AutomationRow.create(**self._fields(automation))

    def _fields(self, automation: Automation) -> dict[str, Any]:
        return {
            "id": automation.id,
            "name": automation.draft.name,
            "status": automation.status,
            "trigger": automation.draft.trigger.kind,
            "spec": _spec(automation.draft),
            "created_at": automation.created_at,
            "updated_at": automation.updated_at,
        }

    async def get(self, automation_id: UUID, *, lock: bool = False) -> Automation | None:
        query = AutomationRow.filter(id=automation_id)
        if lock:
            query = query.select_for_update()
        row = await query.first()
        return _automation(row) if row else None

    async def save(self, automation: Automation) -> None:
        fields = self._fields(automation)
        del fields["id"], fields["created_at"]
        await AutomationRow.filter(id=automation.id).update(**fields)

    async def page(self, status: AutomationStatus | None, page: PageRequest) -> Page[Automation]:
        query = AutomationRow.all()
        if status is not None:
            query = query.filter(status=status)
        if page.after is not None:
            query = query.filter(id__lt=after_uuid(page.after))
        rows = await query.order_by("-id").limit(page.first + 1)
        found = [_automation(r) for r in rows]
        return Page.from_rows(found, [str(a.id) for a in found], page)

    async def active(self, trigger: TriggerKind | None = None) -> list[Automation]:
        query = AutomationRow.filter(status=AutomationStatus.ACTIVE)
        if trigger is not None:
            query = query.filter(trigger=trigger)
        return [_automation(r) for r in await query.order_by("id")]

    async def add_sends(self, sends: Sequence[Send]) -> int:
        made = 0
        for start in range(0, len(sends), SENDS_PER_INSERT):
            chunk = sends[start : start + SENDS_PER_INSERT]
            # ON CONFLICT, not a caught IntegrityError: the caller's transaction goes on
            inserted = await sql.fetch(
                f"{_insert_sends(len(chunk))} "
                "ON CONFLICT (automation_id, member_id, period_key) DO NOTHING RETURNING id",
                *[sql.as_driver_value(getattr(send, c)) for send in chunk for c in SEND_COLUMNS],
            )
            made += len(inserted)
        return made

    async def scans(
        self, automation_ids: Sequence[UUID]
    ) -> dict[UUID, tuple[UUID | None, datetime]]:
        if not automation_ids:
            return {}
        rows = await AutomationScanRow.filter(automation_id__in=list(automation_ids))
        return {r.automation_id: (r.cursor, r.scanned_at) for r in rows}

    async def save_scan(self, automation_id: UUID, cursor: UUID | None, at: datetime) -> None:
        await sql.execute(
            "INSERT INTO automation_scan (automation_id, cursor, scanned_at) VALUES ($1, $2, $3) "
            "ON CONFLICT (automation_id) DO UPDATE SET cursor = excluded.cursor, "
            "scanned_at = excluded.scanned_at",
            automation_id,
            cursor,
            at,
        )

    async def claim_due(self, now: datetime, limit: int) -> list[Send]:
        active = AutomationRow.filter(status=AutomationStatus.ACTIVE).values_list("id", flat=True)
        rows = (
            await AutomationSendRow.filter(
                outcome=SendOutcome.PENDING, due_at__lte=now, automation_id__in=await active
            )
            .order_by("due_at", "id")
            .limit(limit)
            .select_for_update(skip_locked=True)
        )
        if not rows:
            return []
        # Read again under the lock: a run that committed meanwhile has settled some.
        fresh = await AutomationSendRow.filter(
            id__in=[r.id for r in rows], outcome=SendOutcome.PENDING
        ).order_by("due_at", "id")
        return [_send(r) for r in fresh]

    async def save_sends(self, sends: Sequence[Send]) -> None:
        await sql.execute_many(
            _UPDATE_SEND,
            [[sql.as_driver_value(getattr(s, c)) for c in (*SETTLED, "id")] for s in sends],
        )

    async def _sends(self, page: PageRequest, **where: Any) -> Page[Send]:
        query = AutomationSendRow.filter(**where)
        if page.after is not None:
            query = query.filter(id__lt=after_uuid(page.after))
        rows = await query.order_by("-id").limit(page.first + 1)
        found = [_send(r) for r in rows]
        return Page.from_rows(found, [str(s.id) for s in found], page)

    async def sends_of(self, automation_id: UUID, page: PageRequest) -> Page[Send]:
        return await self._sends(page, automation_id=automation_id)

    async def sends_to(self, member_id: UUID, page: PageRequest) -> Page[Send]:
        return await self._sends(page, member_id=member_id)

    async def pending_of(self, automation_id: UUID, limit: int) -> list[Send]:
        rows = await AutomationSendRow.filter(
            automation_id=automation_id, outcome=SendOutcome.PENDING
        ).limit(limit)
        return [_send(r) for r in rows]

    async def periods_taken(
        self, automation_id: UUID, member_periods: Sequence[tuple[UUID, str]]
    ) -> set[tuple[UUID, str]]:
        if not member_periods:
            return set()
        rows = await AutomationSendRow.filter(
            automation_id=automation_id, member_id__in=sorted({m for m, _ in member_periods})
        ).values_list("member_id", "period_key")
        return {(sql.as_uuid(m), str(p)) for m, p in rows}

    async def messages_since(self, member_ids: Sequence[UUID], since: datetime) -> dict[UUID, int]:
        if not member_ids:
            return {}
        rows = (
            await AutomationSendRow.filter(
                member_id__in=list(member_ids), message_key__isnull=False, done_at__gte=since
            )
            .annotate(n=Count("id"))
            .group_by("member_id")
            .values_list("member_id", "n")
        )
        return {sql.as_uuid(m): int(n) for m, n in rows}

    async def lock_members(self, member_ids: Sequence[UUID], now: datetime) -> None:
        ids = sorted(set(member_ids))
        if not ids:
            return
        # One statement, rows in id order (no deadlock between runs): a new row is made and an
        # existing one updated, both locked (INSERT … DO NOTHING would not lock an existing one).
        await sql.execute(
            "INSERT INTO automation_cap (member_id, taken_at) VALUES "
            + ", ".join(f"(${n}, $1)" for n in range(2, len(ids) + 2))
            + " ON CONFLICT (member_id) DO UPDATE SET taken_at = excluded.taken_at",
            now,
            *ids,
        )

    async def counts(self, automation_ids: Sequence[UUID]) -> dict[UUID, dict[SendOutcome, int]]:
        rows = (
            await AutomationSendRow.filter(automation_id__in=list(automation_ids))
            .annotate(n=Count("id"))
            .group_by("automation_id", "outcome")
            .values_list("automation_id", "outcome", "n")
        )
        found: dict[UUID, dict[SendOutcome, int]] = {}
        for automation_id, outcome, n in rows:
            found.setdefault(sql.as_uuid(automation_id), {})[SendOutcome(outcome)] = int(n)
        return found

    async def note_handed_over(self, member_id: UUID) -> int:
        rows = await sql.fetch(
            "INSERT INTO automation_member (member_id, handed_over) VALUES ($1, 1) "
            "ON CONFLICT (member_id) DO UPDATE SET handed_over = "
            "automation_member.handed_over + 1 RETURNING handed_over",
            member_id,
        )
        return int(rows[0]["handed_over"])

    def _not_noted(self, automation_id: UUID, where: Where) -> tuple[str, list[Any]]:
        """`FROM … WHERE …` of the segment's active members not noted for the automation; the
        automation is the last parameter."""
        text, values = members_sql(where, None)
        values.append(automation_id)
        return (
            f"{text} AND NOT EXISTS (SELECT 1 FROM automation_segment_member s "
            f"WHERE s.automation_id = ${len(values)} AND s.member_id = f.member_id)",
            values,
        )

    async def enter_segment(
        self, automation_id: UUID, where: Where, now: datetime, limit: int | None
    ) -> list[UUID]:
        text, values = self._not_noted(automation_id, where)
        values.append(now)
        insert = (
            "INSERT INTO automation_segment_member (id, automation_id, member_id, entered_at) "
            f"SELECT {_new_uuid()}, ${len(values) - 1}, f.member_id, ${len(values)} {text} "
        )
        # ON CONFLICT: a run at once noted the member first (the unique pair); it is theirs.
        conflict = "ON CONFLICT (automation_id, member_id) DO NOTHING"
        if limit is None:
            await sql.execute(insert + conflict, *values)
            return []
        rows = await sql.fetch(
            f"{insert}ORDER BY f.member_id LIMIT {int(limit)} {conflict} RETURNING member_id",
            *values,
        )
        return sorted(sql.as_uuid(r["member_id"]) for r in rows)

    async def left_segment(self, automation_id: UUID, where: Where) -> int:
        text, values = members_sql(where, None)
        values.append(automation_id)
        return await sql.execute(
            f"DELETE FROM automation_segment_member WHERE automation_id = ${len(values)} "
            f"AND NOT EXISTS (SELECT 1 {text} "
            "AND f.member_id = automation_segment_member.member_id)",
            *values,
        )

    async def entering(
        self, automation_id: UUID, where: Where, after: UUID | None, limit: int
    ) -> list[UUID]:
        text, values = self._not_noted(automation_id, where)
        if after is not None:
            values.append(after)
            text += f" AND f.member_id > ${len(values)}"
        rows = await sql.fetch(
            f"SELECT f.member_id {text} ORDER BY f.member_id LIMIT {int(limit)}", *values
        )
        return [sql.as_uuid(r["member_id"]) for r in rows]

    async def forget_segment(self, automation_id: UUID) -> None:
        await AutomationSegmentMemberRow.filter(automation_id=automation_id).delete()

    async def move_member(self, source: UUID, target: UUID) -> None:
        await sql.execute(
            "UPDATE automation_send SET member_id = $1 WHERE member_id = $2 AND NOT EXISTS "
            "(SELECT 1 FROM automation_send t WHERE t.member_id = $1 "
            "AND t.automation_id = automation_send.automation_id "
            "AND t.period_key = automation_send.period_key)",
            target,
            source,
        )
        absorbed = await AutomationMemberRow.get_or_none(member_id=source)
        if absorbed is None:
            return
        await sql.execute(
            "INSERT INTO automation_member (member_id, handed_over) VALUES ($1, $2) "
            "ON CONFLICT (member_id) DO UPDATE SET "
            "handed_over = automation_member.handed_over + excluded.handed_over",
            target,
            absorbed.handed_over,
        )
        await AutomationMemberRow.filter(member_id=source).delete()
