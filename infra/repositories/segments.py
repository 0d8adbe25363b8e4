"""Segments, their daily sizes, and their members: one statement over `member_facts` with the
rule compiled by `segment_rules.to_sql` (a STORE_MANAGER's view adds an EXISTS over their
stores' orders)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

from tortoise.exceptions import IntegrityError

from domain.engagement.segment_rules import Rule, to_sql
from domain.engagement.segments_model import Segment, SegmentSize, SegmentStatus
from domain.engagement.segments_ports import SegmentRepository, Where
from domain.ids import new_id
from domain.pagination import Page, PageRequest
from infra.db import sql
from infra.db.models.segments import SegmentRow, SegmentSizeRow
from infra.repositories.paging import after_uuid

SEGMENT_COLUMNS = ("id", "name", "rule", "built_in", "status", "created_at", "updated_at")
SEGMENT_SIZE_COLUMNS = ("id", "segment_id", "day", "size")


def _segment(row: SegmentRow) -> Segment:
    return Segment(
        row.id, row.name, row.rule, row.built_in, row.status, row.created_at, row.updated_at
    )


def members_sql(
    where: Where, stores: Sequence[UUID] | None, start: int = 1
) -> tuple[str, list[Any]]:
    """`FROM … WHERE …` of the active members in the segment (and at the stores); the rule's
    parameters numbered from `start`, the stores' after them."""
    condition, params = where
    text = (
        "FROM member_facts f JOIN member m ON m.id = f.member_id "
        f"WHERE m.status = 'ACTIVE' AND {condition}"
    )
    values = list(params)
    if stores is not None:
        if not stores:
            return text + " AND 1 = 0", values
        marks = sql.placeholders(len(stores), start + len(values))
        text += (
            " AND EXISTS (SELECT 1 FROM customer_order o WHERE o.member_id = f.member_id "
            f"AND o.location_id IN ({marks}))"
        )
        values += list(stores)
    return text, values


class TortoiseSegmentRepository(SegmentRepository):
    async def add(self, segment: Segment) -> bool:
        inserted = await sql.fetch(
            f"INSERT INTO segment ({', '.join(SEGMENT_COLUMNS)}) "
            f"VALUES ({sql.placeholders(len(SEGMENT_COLUMNS))}) "
            "ON CONFLICT (name) DO NOTHING RETURNING id",
            segment.id,
            segment.name,
            segment.rule,
            segment.built_in,
            segment.status.value,
            segment.created_at,
            segment.updated_at,
        )
        return bool(inserted)

    async def save(self, segment: Segment) -> bool:
        # A taken name is the unique index's answer (a rename racing another, too); the caller
        # then raises, which rolls back the transaction the failed UPDATE aborted.
        changes = {
            "name": segment.name,
            "rule": segment.rule,
            "status": segment.status.value,
            "updated_at": segment.updated_at,
        }
        try:
            await sql.update("segment", changes, "id = $1", segment.id)
        except IntegrityError:
            return False
        return True

    async def get(self, segment_id: UUID) -> Segment | None:
        row = await SegmentRow.get_or_none(id=segment_id)
        return _segment(row) if row else None

    async def names(self) -> set[str]:
        return set(await SegmentRow.all().values_list("name", flat=True))  # type: ignore[arg-type]

    async def page(self, status: SegmentStatus | None, page: PageRequest) -> Page[Segment]:
        query = SegmentRow.all() if status is None else SegmentRow.filter(status=status)
        if page.after is not None:
            query = query.filter(name__gt=page.after)
        rows = await query.order_by("name").limit(page.first + 1)
        return Page.from_rows([_segment(r) for r in rows], [r.name for r in rows], page)

    async def active(self) -> list[Segment]:
        rows = await SegmentRow.filter(status=SegmentStatus.ACTIVE).order_by("name")
        return [_segment(r) for r in rows]

    async def size(self, where: Where, stores: Sequence[UUID] | None) -> int:
        text, values = members_sql(where, stores)
        rows = await sql.fetch(f"SELECT COUNT(*) AS n {text}", *values)
        return int(rows[0]["n"])

    async def sizes(
        self, rules: Sequence[Rule], at: datetime, stores: Sequence[UUID] | None
    ) -> list[int]:
        if not rules:
            return []
        counts: list[str] = []
        values: list[Any] = []
        for n, rule in enumerate(rules):
            start = len(values) + 1
            text, more = members_sql(to_sql(rule, at, start=start), stores, start)
            counts.append(f"(SELECT COUNT(*) {text}) AS n{n}")
            values += more
        [row] = await sql.fetch(f"SELECT {', '.join(counts)}", *values)
        return [int(row[f"n{n}"]) for n in range(len(rules))]

    async def members(
        self, where: Where, stores: Sequence[UUID] | None, page: PageRequest
    ) -> Page[UUID]:
        text, values = members_sql(where, stores)
        if page.after is not None:
            values.append(after_uuid(page.after))
            text += f" AND f.member_id > ${len(values)}"
        rows = await sql.fetch(
            f"SELECT f.member_id {text} ORDER BY f.member_id LIMIT {page.first + 1}", *values
        )
        ids = [sql.as_uuid(r["member_id"]) for r in rows]
        return Page.from_rows(ids, [str(i) for i in ids], page)

    async def record_size(self, segment_id: UUID, day: date, size: int) -> None:
        await sql.fetch(
            f"INSERT INTO segment_size ({', '.join(SEGMENT_SIZE_COLUMNS)}) "
            f"VALUES ({sql.placeholders(len(SEGMENT_SIZE_COLUMNS))}) "
            "ON CONFLICT (segment_id, day) DO UPDATE SET size = excluded.size RETURNING id",
            new_id(),
            segment_id,
            day,
            size,
        )

    async def history(self, segment_id: UUID, since: date) -> list[SegmentSize]:
        rows = await SegmentSizeRow.filter(segment_id=segment_id, day__gte=since).order_by("day")
        return [SegmentSize(r.day, r.size) for r in rows]
