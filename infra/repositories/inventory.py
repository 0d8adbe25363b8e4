from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.ids import new_id
from domain.inventory.model import (
    Discrepancy,
    Movement,
    MovementFilter,
    Reservation,
    ReservationState,
    StockLevel,
    Transfer,
    TransferLine,
)
from domain.pagination import Page, PageRequest
from infra.db import sql
from infra.db.models.inventory import (
    DiscrepancyRow,
    IdempotencyRow,
    MovementRow,
    ReservationRow,
    StockLevelRow,
    TransferRow,
)
from infra.repositories.paging import after_uuid

WHERE = "WHERE location_id = $1 AND variant_id = $2"


MOVEMENT_COLUMNS = (
    "id",
    "location_id",
    "variant_id",
    "kind",
    "on_hand_delta",
    "reserved_delta",
    "reason",
    "reference",
    "actor",
    "created_at",
)
RESERVATION_COLUMNS = (
    "id",
    "owner",
    "location_id",
    "variant_id",
    "quantity",
    "state",
    "expires_at",
    "created_at",
)
RETURNING = "RETURNING location_id, variant_id, on_hand, reserved, safety_stock"


def _level(row: Any) -> StockLevel:
    def get(name: str) -> Any:
        return row[name] if isinstance(row, dict) else getattr(row, name)

    return StockLevel(
        location_id=sql.as_uuid(get("location_id")),
        variant_id=sql.as_uuid(get("variant_id")),
        on_hand=int(get("on_hand")),
        reserved=int(get("reserved")),
        safety_stock=int(get("safety_stock")),
    )


def _reservation(row: ReservationRow) -> Reservation:
    return Reservation(
        id=row.id,
        owner=row.owner,
        location_id=row.location_id,
        variant_id=row.variant_id,
        quantity=row.quantity,
        state=row.state,
        expires_at=row.expires_at,
        created_at=row.created_at,
    )


def _movement(row: MovementRow) -> Movement:
    return Movement(
        id=row.id,
        location_id=row.location_id,
        variant_id=row.variant_id,
        kind=row.kind,
        on_hand_delta=row.on_hand_delta,
        reserved_delta=row.reserved_delta,
        reason=row.reason,
        reference=row.reference,
        actor=row.actor,
        created_at=row.created_at,
    )


def _transfer(row: TransferRow) -> Transfer:
    return Transfer(
        id=row.id,
        from_location_id=row.from_location_id,
        to_location_id=row.to_location_id,
        state=row.state,
        lines=[
            TransferLine(UUID(v), int(q), None if r is None else int(r)) for v, q, r in row.lines
        ],
        created_at=row.created_at,
        actor=row.actor,
        shipped_at=row.shipped_at,
        received_at=row.received_at,
    )


def _movement_values(movements: Sequence[Movement]) -> list[tuple[Any, ...]]:
    return [
        (
            m.id,
            m.location_id,
            m.variant_id,
            m.kind.value,
            m.on_hand_delta,
            m.reserved_delta,
            m.reason,
            m.reference,
            m.actor,
            m.created_at,
        )
        for m in movements
    ]


class TortoiseInventoryRepository:
    async def levels(
        self, variant_ids: Sequence[UUID], location_ids: Sequence[UUID] | None = None
    ) -> list[StockLevel]:
        variants = list(variant_ids)
        if not variants or (location_ids is not None and not location_ids):
            return []
        where = f"variant_id IN ({sql.placeholders(len(variants))})"
        values: list[Any] = variants
        if location_ids is not None:
            where += f" AND location_id IN ({sql.placeholders(len(location_ids), len(values) + 1)})"
            values = [*values, *location_ids]
        rows = await sql.fetch(
            "SELECT location_id, variant_id, on_hand, reserved, safety_stock FROM stock_level "
            f"WHERE {where}",
            *values,
        )
        return [_level(r) for r in rows]

    async def available_totals(
        self, variant_ids: Sequence[UUID], location_ids: Sequence[UUID]
    ) -> dict[UUID, int]:
        variants = list(variant_ids)
        totals = dict.fromkeys(variants, 0)
        if not variants or not location_ids:
            return totals
        at = len(variants) + 1
        rows = await sql.fetch_rows(
            # StockLevel.available, summed: never below 0 per level
            "SELECT variant_id, SUM(CASE WHEN on_hand - reserved - safety_stock > 0 "
            "THEN on_hand - reserved - safety_stock ELSE 0 END) FROM stock_level "
            f"WHERE variant_id IN ({sql.placeholders(len(variants))}) "
            f"AND location_id IN ({sql.placeholders(len(location_ids), at)}) GROUP BY variant_id",
            *variants,
            *location_ids,
        )
        for variant, total in rows:
            totals[sql.as_uuid(variant)] = int(total)
        return totals

    async def levels_at(self, location_id: UUID, page: PageRequest) -> Page[StockLevel]:
        query = StockLevelRow.filter(location_id=location_id)
        if page.after is not None:
            query = query.filter(variant_id__gt=after_uuid(page.after))
        rows = await query.order_by("variant_id").limit(page.first + 1)
        return Page.from_rows([_level(r) for r in rows], [str(r.variant_id) for r in rows], page)

    async def level(self, location_id: UUID, variant_id: UUID) -> StockLevel | None:
        rows = await sql.fetch(
            f"SELECT location_id, variant_id, on_hand, reserved, safety_stock FROM stock_level "
            f"{WHERE}",
            location_id,
            variant_id,
        )
        return _level(rows[0]) if rows else None

    async def ensure_level(self, location_id: UUID, variant_id: UUID) -> None:
        await sql.execute(
            "INSERT INTO stock_level (id, location_id, variant_id, on_hand, reserved, "
            "safety_stock) VALUES ($3, $1, $2, 0, 0, 0) "
            "ON CONFLICT (location_id, variant_id) DO NOTHING",
            location_id,
            variant_id,
            new_id(),
        )

    async def lock_levels(
        self, keys: Sequence[tuple[UUID, UUID]], *, skip_locked: bool = False
    ) -> set[tuple[UUID, UUID]]:
        wanted = sorted(set(keys))
        if not wanted or sql.is_sqlite():  # SQLite serialises writers: nothing to lock
            return set(wanted)
        skip = " SKIP LOCKED" if skip_locked else ""
        rows = await sql.fetch(  # LockRows runs after the sort: locked in this order
            "SELECT location_id, variant_id FROM stock_level WHERE (location_id, variant_id) "
            "IN (SELECT * FROM unnest($1::uuid[], $2::uuid[])) "
            f"ORDER BY location_id, variant_id FOR UPDATE{skip}",
            [location for location, _ in wanted],
            [variant for _, variant in wanted],
        )
        return {(sql.as_uuid(r["location_id"]), sql.as_uuid(r["variant_id"])) for r in rows}

    async def try_reserve(self, location_id: UUID, variant_id: UUID, quantity: int) -> bool:
        changed = await sql.execute(
            f"UPDATE stock_level SET reserved = reserved + $3 {WHERE} "
            "AND on_hand - reserved - safety_stock >= $3",
            location_id,
            variant_id,
            quantity,
        )
        return changed == 1

    async def unreserve(self, location_id: UUID, variant_id: UUID, quantity: int) -> None:
        await sql.execute(
            f"UPDATE stock_level SET reserved = reserved - $3 {WHERE}",
            location_id,
            variant_id,
            quantity,
        )

    async def try_commit(self, location_id: UUID, variant_id: UUID, quantity: int) -> bool:
        changed = await sql.execute(
            f"UPDATE stock_level SET on_hand = on_hand - $3, reserved = reserved - $3 {WHERE} "
            "AND on_hand >= $3 AND reserved >= $3",
            location_id,
            variant_id,
            quantity,
        )
        return changed == 1

    async def try_change_on_hand(
        self, location_id: UUID, variant_id: UUID, delta: int, *, keep_available: bool = False
    ) -> StockLevel | None:
        guard = " AND on_hand - reserved - safety_stock + $3 >= 0" if keep_available else ""
        rows = await sql.fetch(
            f"UPDATE stock_level SET on_hand = on_hand + $3 {WHERE} AND on_hand + $3 >= 0"
            f"{guard} {RETURNING}",
            location_id,
            variant_id,
            delta,
        )
        return _level(rows[0]) if rows else None

    async def compare_and_set(
        self, location_id: UUID, variant_id: UUID, on_hand: int, expected: int
    ) -> StockLevel | None:
        rows = await sql.fetch(
            f"UPDATE stock_level SET on_hand = $3 {WHERE} AND on_hand = $4 {RETURNING}",
            location_id,
            variant_id,
            on_hand,
            expected,
        )
        return _level(rows[0]) if rows else None

    async def take_for_sale(
        self, location_id: UUID, variant_id: UUID, quantity: int
    ) -> tuple[int, StockLevel]:
        # The level, made if missing and locked (the no-op DO UPDATE takes the row lock),
        # with its on-hand count: one statement instead of an upsert and a SELECT FOR UPDATE.
        before = await sql.fetch(
            "INSERT INTO stock_level (id, location_id, variant_id, on_hand, reserved, "
            "safety_stock) VALUES ($3, $1, $2, 0, 0, 0) ON CONFLICT (location_id, variant_id) "
            "DO UPDATE SET on_hand = stock_level.on_hand RETURNING on_hand",
            location_id,
            variant_id,
            new_id(),
        )
        taken = min(quantity, int(before[0]["on_hand"]))
        rows = await sql.fetch(
            f"UPDATE stock_level SET on_hand = on_hand - $3 {WHERE} {RETURNING}",
            location_id,
            variant_id,
            taken,
        )
        return taken, _level(rows[0])

    async def set_safety_stock(
        self, location_id: UUID, variant_id: UUID, quantity: int
    ) -> StockLevel:
        rows = await sql.fetch(
            f"UPDATE stock_level SET safety_stock = $3 {WHERE} {RETURNING}",
            location_id,
            variant_id,
            quantity,
        )
        return _level(rows[0])

    async def add_movements(self, movements: Sequence[Movement]) -> None:
        await sql.insert("stock_movement", MOVEMENT_COLUMNS, _movement_values(movements))

    async def movements(self, where: MovementFilter, page: PageRequest) -> Page[Movement]:
        query = MovementRow.all()
        if where.location_id is not None:
            query = query.filter(location_id=where.location_id)
        if where.variant_id is not None:
            query = query.filter(variant_id=where.variant_id)
        if where.kinds:
            query = query.filter(kind__in=list(where.kinds))
        if where.reference:
            query = query.filter(reference=where.reference)
        if page.after is not None:
            query = query.filter(id__lt=after_uuid(page.after))
        rows = await query.order_by("-id").limit(page.first + 1)
        return Page.from_rows([_movement(r) for r in rows], [str(r.id) for r in rows], page)

    async def ledger_sums(self) -> dict[tuple[UUID, UUID], tuple[int, int]]:
        rows = await sql.fetch(
            "SELECT location_id, variant_id, SUM(on_hand_delta) AS on_hand, "
            "SUM(reserved_delta) AS reserved FROM stock_movement GROUP BY location_id, variant_id"
        )
        return {
            (sql.as_uuid(r["location_id"]), sql.as_uuid(r["variant_id"])): (
                int(r["on_hand"]),
                int(r["reserved"]),
            )
            for r in rows
        }

    async def add_reservations(
        self, reservations: Sequence[Reservation], movements: Sequence[Movement] = ()
    ) -> None:
        await sql.insert_all(
            [
                (
                    "stock_reservation",
                    RESERVATION_COLUMNS,
                    [
                        (
                            r.id,
                            r.owner,
                            r.location_id,
                            r.variant_id,
                            r.quantity,
                            r.state.value,
                            r.expires_at,
                            r.created_at,
                        )
                        for r in reservations
                    ],
                ),
                ("stock_movement", MOVEMENT_COLUMNS, _movement_values(movements)),
            ]
        )

    async def reservations_of(
        self, owner: str, states: Sequence[ReservationState]
    ) -> list[Reservation]:
        rows = await ReservationRow.filter(owner=owner, state__in=list(states))
        return [_reservation(r) for r in rows]

    async def holding_at(self, location_id: UUID, variant_id: UUID) -> list[Reservation]:
        rows = await ReservationRow.filter(
            location_id=location_id,
            variant_id=variant_id,
            state__in=[ReservationState.ACTIVE, ReservationState.AT_RISK],
        ).order_by("-created_at", "-id")
        return [_reservation(r) for r in rows]

    async def move_reservations(
        self, ids: Sequence[UUID], frm: Sequence[ReservationState], to: ReservationState
    ) -> int:
        return await ReservationRow.filter(id__in=list(ids), state__in=list(frm)).update(state=to)

    async def extend_reservations(self, owner: str, expires_at: datetime) -> int:
        return await ReservationRow.filter(
            owner=owner, state__in=[ReservationState.ACTIVE, ReservationState.AT_RISK]
        ).update(expires_at=expires_at)

    async def claim_expired(self, now: datetime, limit: int) -> list[Reservation]:
        rows = (
            await ReservationRow.filter(
                state__in=[ReservationState.ACTIVE, ReservationState.AT_RISK], expires_at__lte=now
            )
            .order_by("expires_at")
            .limit(limit)
            .select_for_update(skip_locked=True)
        )
        return [_reservation(r) for r in rows]

    async def add_transfer(self, transfer: Transfer) -> None:
        await TransferRow.create(
            id=transfer.id,
            from_location_id=transfer.from_location_id,
            to_location_id=transfer.to_location_id,
            state=transfer.state,
            lines=[[str(x.variant_id), x.quantity, x.received] for x in transfer.lines],
            actor=transfer.actor,
            created_at=transfer.created_at,
        )

    async def get_transfer(self, transfer_id: UUID, *, lock: bool = False) -> Transfer | None:
        query = TransferRow.filter(id=transfer_id)
        if lock:
            query = query.select_for_update()
        row = await query.first()
        return _transfer(row) if row else None

    async def save_transfer(self, transfer: Transfer) -> None:
        await TransferRow.filter(id=transfer.id).update(
            state=transfer.state,
            lines=[[str(x.variant_id), x.quantity, x.received] for x in transfer.lines],
            shipped_at=transfer.shipped_at,
            received_at=transfer.received_at,
        )

    async def record_pos_transaction(
        self, location_id: UUID, transaction_id: str, at: datetime, summary: dict[str, Any]
    ) -> dict[str, Any] | None:
        inserted = await sql.fetch(
            "INSERT INTO pos_transaction (id, location_id, transaction_id, summary, created_at) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (location_id, transaction_id) DO NOTHING "
            "RETURNING id",
            new_id(),
            location_id,
            transaction_id,
            json.dumps(summary),
            at,
        )
        if inserted:
            return None
        [row] = await sql.fetch(
            "SELECT summary FROM pos_transaction WHERE location_id = $1 AND transaction_id = $2",
            location_id,
            transaction_id,
        )
        return dict(sql.as_json(row["summary"]))

    async def complete_pos_transaction(
        self, location_id: UUID, transaction_id: str, summary: dict[str, Any]
    ) -> None:
        await sql.execute(
            "UPDATE pos_transaction SET summary = $3 "
            "WHERE location_id = $1 AND transaction_id = $2",
            location_id,
            transaction_id,
            sql.as_json_text(summary),
        )

    async def add_discrepancies(self, items: Sequence[Discrepancy]) -> None:
        if items:
            await DiscrepancyRow.bulk_create(
                [
                    DiscrepancyRow(
                        id=d.id,
                        location_id=d.location_id,
                        variant_id=d.variant_id,
                        kind=d.kind,
                        quantity=d.quantity,
                        reference=d.reference,
                        created_at=d.created_at,
                    )
                    for d in items
                ]
            )

    async def discrepancies(self, location_id: UUID | None, page: PageRequest) -> Page[Discrepancy]:
        query = DiscrepancyRow.all()
        if location_id is not None:
            query = query.filter(location_id=location_id)
        if page.after is not None:
            query = query.filter(id__lt=after_uuid(page.after))
        rows = await query.order_by("-id").limit(page.first + 1)
        items = [
            Discrepancy(
                id=r.id,
                location_id=r.location_id,
                variant_id=r.variant_id,
                kind=r.kind,
                quantity=r.quantity,
                reference=r.reference,
                created_at=r.created_at,
            )
            for r in rows
        ]
        return Page.from_rows(items, [str(r.id) for r in rows], page)


class TortoiseIdempotencyStore:
    async def claim(
        self,
        scope: str,
        key: str,
        fingerprint: str,
        at: datetime,
        result: dict[str, Any] | None = None,
    ) -> tuple[str, dict[str, Any] | None] | None:
        inserted = await sql.fetch(  # RETURNING: asyncpg's INSERT status has no row count
            "INSERT INTO idempotency_record (id, scope, key, fingerprint, created_at, result) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (scope, key) DO NOTHING RETURNING id",
            new_id(),
            scope,
            key,
            fingerprint,
            at,
            None if result is None else sql.as_json_text(result),
        )
        if inserted:
            return None
        row = await IdempotencyRow.get(scope=scope, key=key)
        return row.fingerprint, row.result

    async def complete(self, scope: str, key: str, result: dict[str, Any]) -> None:
        await sql.execute(
            "UPDATE idempotency_record SET result = $3 WHERE scope = $1 AND key = $2",
            scope,
            key,
            sql.as_json_text(result),
        )
