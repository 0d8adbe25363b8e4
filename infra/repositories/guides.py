"""Shopping-guide attribution: guides' codes, members' bindings, orders attributed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from domain.growth.guides_model import GuideBinding, GuideCode
from domain.growth.guides_ports import GuideRepository
from infra.db import sql
from infra.db.models.guides import GuideBindingRow, GuideCodeRow

BINDING_COLUMNS = ("member_id", "staff_id", "store_id", "source", "actor", "reason", "bound_at")


def _binding(row: GuideBindingRow) -> GuideBinding:
    return GuideBinding(**{c: getattr(row, c) for c in BINDING_COLUMNS})


def _values(binding: GuideBinding) -> list[object]:
    return [sql.as_driver_value(getattr(binding, c)) for c in BINDING_COLUMNS]


class TortoiseGuideRepository(GuideRepository):
    async def put_code(self, code: GuideCode, at: datetime) -> None:
        await sql.fetch(
            "INSERT INTO guide_code (code, staff_id, store_id, created_at) "
            "VALUES ($1, $2, $3, $4) ON CONFLICT (code) DO NOTHING RETURNING code",
            code.code,
            code.staff_id,
            code.store_id,
            at,
        )

    async def code(self, code: str) -> GuideCode | None:
        row = await GuideCodeRow.get_or_none(code=code)
        return GuideCode(row.code, row.staff_id, row.store_id) if row else None

    async def binding(self, member_id: UUID) -> GuideBinding | None:
        row = await GuideBindingRow.get_or_none(member_id=member_id)
        return _binding(row) if row else None

    async def bindings(self, member_ids: Sequence[UUID]) -> list[GuideBinding]:
        if not member_ids:
            return []
        return [_binding(r) for r in await GuideBindingRow.filter(member_id__in=list(member_ids))]

    async def bind_first(self, binding: GuideBinding) -> bool:
        # ON CONFLICT, not a caught IntegrityError: a failed insert aborts PostgreSQL's
        # transaction (the login's). Two first touches racing: the second keeps the first's.
        inserted = await sql.fetch(
            f"INSERT INTO guide_binding ({', '.join(BINDING_COLUMNS)}) "
            f"VALUES ({sql.placeholders(len(BINDING_COLUMNS))}) "
            "ON CONFLICT (member_id) DO NOTHING RETURNING member_id",
            *_values(binding),
        )
        return bool(inserted)

    async def put_binding(self, binding: GuideBinding) -> None:
        changes = ", ".join(f"{c} = excluded.{c}" for c in BINDING_COLUMNS[1:])
        await sql.execute(
            f"INSERT INTO guide_binding ({', '.join(BINDING_COLUMNS)}) "
            f"VALUES ({sql.placeholders(len(BINDING_COLUMNS))}) "
            f"ON CONFLICT (member_id) DO UPDATE SET {changes}",
            *_values(binding),
        )

    async def clear(self, member_id: UUID) -> bool:
        return await GuideBindingRow.filter(member_id=member_id).delete() > 0

    async def attribute(self, order_id: UUID, member_id: UUID, placed_at: datetime) -> None:
        # One statement whether or not the member has a guide: it runs in every checkout.
        await sql.execute(
            "INSERT INTO guide_order (order_id, member_id, staff_id, store_id, placed_at) "
            "SELECT $1, member_id, staff_id, store_id, $2 FROM guide_binding "
            "WHERE member_id = $3 ON CONFLICT (order_id) DO NOTHING",
            order_id,
            placed_at,
            member_id,
        )

    async def attributed(
        self, store_id: UUID, start: datetime, end: datetime
    ) -> list[tuple[UUID, UUID, UUID]]:
        rows = await sql.fetch(
            "SELECT order_id, member_id, staff_id FROM guide_order "
            "WHERE store_id = $1 AND placed_at >= $2 AND placed_at < $3",
            store_id,
            start,
            end,
        )
        return [
            (sql.as_uuid(r["order_id"]), sql.as_uuid(r["member_id"]), sql.as_uuid(r["staff_id"]))
            for r in rows
        ]

    async def bound_counts(self, store_id: UUID, start: datetime, end: datetime) -> dict[UUID, int]:
        rows = await sql.fetch(
            "SELECT staff_id, COUNT(*) AS n FROM guide_binding "
            "WHERE store_id = $1 AND bound_at >= $2 AND bound_at < $3 GROUP BY staff_id",
            store_id,
            start,
            end,
        )
        return {sql.as_uuid(r["staff_id"]): int(r["n"]) for r in rows}

    async def move_member(self, source: UUID, target: UUID) -> None:
        await sql.execute(
            "UPDATE guide_binding SET member_id = $2 WHERE member_id = $1 "
            "AND NOT EXISTS (SELECT 1 FROM guide_binding WHERE member_id = $2)",
            source,
            target,
        )
        await GuideBindingRow.filter(member_id=source).delete()
        await sql.execute(
            "UPDATE guide_order SET member_id = $2 WHERE member_id = $1", source, target
        )
