"""An in-memory `InventoryRepository`: every conditional update keeps the condition the SQL
repository writes in its WHERE clause (infra/repositories/inventory.py), so a use case that
relies on one (reserve only what is available above the safety stock) is tested for real."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.inventory.model import (
    HOLDING,
    Discrepancy,
    Movement,
    MovementFilter,
    Reservation,
    ReservationState,
    StockLevel,
    Transfer,
)
from domain.inventory.ports import InventoryRepository
from domain.pagination import Page, PageRequest
from tests.fakes.tables import Tables, page_of


class FakeInventory(InventoryRepository):
    def __init__(self, tables: Tables):
        self._t = tables
        self.locked: list[list[tuple[UUID, UUID]]] = []  # the keys of every lock_levels call

    def _get(self, location_id: UUID, variant_id: UUID) -> StockLevel | None:
        return self._t.levels.get((location_id, variant_id))

    def _made(self, location_id: UUID, variant_id: UUID) -> StockLevel:
        key = (location_id, variant_id)
        if key not in self._t.levels:
            self._t.levels[key] = StockLevel(location_id, variant_id, 0, 0, 0)
        return self._t.levels[key]

    # ------------------------------------------------------------ levels

    async def levels(
        self, variant_ids: Sequence[UUID], location_ids: Sequence[UUID] | None = None
    ) -> list[StockLevel]:
        return [
            replace(level)
            for (location, variant), level in sorted(self._t.levels.items())
            if variant in variant_ids and (location_ids is None or location in location_ids)
        ]

    async def available_totals(
        self, variant_ids: Sequence[UUID], location_ids: Sequence[UUID]
    ) -> dict[UUID, int]:
        totals = dict.fromkeys(variant_ids, 0)
        for (location, variant), level in self._t.levels.items():
            if variant in totals and location in location_ids:
                totals[variant] += level.available
        return totals

    async def levels_at(self, location_id: UUID, page: PageRequest) -> Page[StockLevel]:
        here = [replace(lv) for lv in self._t.levels.values() if lv.location_id == location_id]
        return page_of(here, lambda lv: str(lv.variant_id), page)

    async def level(self, location_id: UUID, variant_id: UUID) -> StockLevel | None:
        found = self._get(location_id, variant_id)
        return replace(found) if found else None

    async def ensure_level(self, location_id: UUID, variant_id: UUID) -> None:
        self._made(location_id, variant_id)

    async def lock_levels(
        self, keys: Sequence[tuple[UUID, UUID]], *, skip_locked: bool = False
    ) -> set[tuple[UUID, UUID]]:
        self.locked.append(list(keys))
        return {key for key in keys if key in self._t.levels}

    async def try_reserve(self, location_id: UUID, variant_id: UUID, quantity: int) -> bool:
        level = self._get(location_id, variant_id)
        if level is None or level.on_hand - level.reserved - level.safety_stock < quantity:
            return False
        level.reserved += quantity
        return True

    async def unreserve(self, location_id: UUID, variant_id: UUID, quantity: int) -> None:
        level = self._get(location_id, variant_id)
        if level is not None:
            level.reserved -= quantity

    async def try_commit(self, location_id: UUID, variant_id: UUID, quantity: int) -> bool:
        level = self._get(location_id, variant_id)
        if level is None or level.on_hand < quantity or level.reserved < quantity:
            return False
        level.on_hand -= quantity
        level.reserved -= quantity
        return True

    async def try_change_on_hand(
        self, location_id: UUID, variant_id: UUID, delta: int, *, keep_available: bool = False
    ) -> StockLevel | None:
        level = self._get(location_id, variant_id)
        if level is None or level.on_hand + delta < 0:
            return None
        if keep_available and level.on_hand - level.reserved - level.safety_stock + delta < 0:
            return None
        level.on_hand += delta
        return replace(level)

    async def compare_and_set(
        self, location_id: UUID, variant_id: UUID, on_hand: int, expected: int
    ) -> StockLevel | None:
        level = self._get(location_id, variant_id)
        if level is None or level.on_hand != expected:
            return None
        level.on_hand = on_hand
        return replace(level)

    async def take_for_sale(
        self, location_id: UUID, variant_id: UUID, quantity: int
    ) -> tuple[int, StockLevel]:
        level = self._made(location_id, variant_id)
        taken = min(quantity, level.on_hand)
        level.on_hand -= taken
        return taken, replace(level)

    async def set_safety_stock(
        self, location_id: UUID, variant_id: UUID, quantity: int
    ) -> StockLevel:
        level = self._made(location_id, variant_id)
        level.safety_stock = quantity
        return replace(level)

    # ------------------------------------------------------------ the ledger

    async def add_movements(self, movements: Sequence[Movement]) -> None:
        self._t.movements.extend(movements)  # frozen: no copy needed

    async def movements(self, where: MovementFilter, page: PageRequest) -> Page[Movement]:
        found = [
            m
            for m in self._t.movements
            if (where.location_id is None or m.location_id == where.location_id)
            and (where.variant_id is None or m.variant_id == where.variant_id)
            and (not where.kinds or m.kind in where.kinds)
            and (not where.reference or m.reference == where.reference)
        ]
        return page_of(found, lambda m: str(m.id), page, newest_first=True)

    async def ledger_sums(self) -> dict[tuple[UUID, UUID], tuple[int, int]]:
        sums: dict[tuple[UUID, UUID], tuple[int, int]] = {}
        for m in self._t.movements:
            on_hand, reserved = sums.get((m.location_id, m.variant_id), (0, 0))
            sums[(m.location_id, m.variant_id)] = (
                on_hand + m.on_hand_delta,
                reserved + m.reserved_delta,
            )
        return sums

    # ------------------------------------------------------------ reservations

    async def add_reservations(
        self, reservations: Sequence[Reservation], movements: Sequence[Movement] = ()
    ) -> None:
        for r in reservations:
            assert r.id not in self._t.reservations, "duplicate primary key"
            self._t.reservations[r.id] = replace(r)
        await self.add_movements(movements)

    async def reservations_of(
        self, owner: str, states: Sequence[ReservationState]
    ) -> list[Reservation]:
        return [
            replace(r)
            for r in self._t.reservations.values()
            if r.owner == owner and r.state in states
        ]

    async def holding_at(self, location_id: UUID, variant_id: UUID) -> list[Reservation]:
        return [
            replace(r)
            for r in self._t.reservations.values()
            if (r.location_id, r.variant_id) == (location_id, variant_id) and r.state in HOLDING
        ]

    async def move_reservations(
        self, ids: Sequence[UUID], frm: Sequence[ReservationState], to: ReservationState
    ) -> int:
        moved = 0
        for reservation_id in ids:
            r = self._t.reservations.get(reservation_id)
            if r is not None and r.state in frm:
                r.state = to
                moved += 1
        return moved

    async def extend_reservations(self, owner: str, expires_at: datetime) -> int:
        holding = [r for r in self._t.reservations.values() if r.owner == owner]
        holding = [r for r in holding if r.state in HOLDING]
        for r in holding:
            r.expires_at = expires_at
        return len(holding)

    async def claim_expired(self, now: datetime, limit: int) -> list[Reservation]:
        due = [r for r in self._t.reservations.values() if r.state in HOLDING]
        due = [r for r in due if r.expires_at <= now]
        return [replace(r) for r in sorted(due, key=lambda r: r.expires_at)[:limit]]

    # ------------------------------------------------------------ transfers

    async def add_transfer(self, transfer: Transfer) -> None:
        self._t.transfers[transfer.id] = copy.deepcopy(transfer)

    async def get_transfer(self, transfer_id: UUID, *, lock: bool = False) -> Transfer | None:
        found = self._t.transfers.get(transfer_id)
        return copy.deepcopy(found) if found else None

    async def save_transfer(self, transfer: Transfer) -> None:
        self._t.transfers[transfer.id] = copy.deepcopy(transfer)

    # ------------------------------------------------------------ till sales

    async def record_pos_transaction(
        self, location_id: UUID, transaction_id: str, at: datetime, summary: dict[str, Any]
    ) -> dict[str, Any] | None:
        key = (location_id, transaction_id)
        if key in self._t.pos_transactions:
            return copy.deepcopy(self._t.pos_transactions[key])
        self._t.pos_transactions[key] = copy.deepcopy(summary)
        return None

    async def complete_pos_transaction(
        self, location_id: UUID, transaction_id: str, summary: dict[str, Any]
    ) -> None:
        self._t.pos_transactions[(location_id, transaction_id)] = copy.deepcopy(summary)

    async def add_discrepancies(self, items: Sequence[Discrepancy]) -> None:
        self._t.discrepancies.extend(items)

    async def discrepancies(self, location_id: UUID | None, page: PageRequest) -> Page[Discrepancy]:
        found = [
            d for d in self._t.discrepancies if location_id is None or d.location_id == location_id
        ]
        return page_of(found, lambda d: str(d.id), page, newest_first=True)


def stock(
    tables: Tables, location_id: UUID, variant_id: UUID, on_hand: int, safety: int = 0
) -> None:
    """Put a level straight into the tables (what a receipt would have left)."""
    tables.levels[(location_id, variant_id)] = StockLevel(
        location_id, variant_id, on_hand, 0, safety
    )
