"""Storage the inventory context needs. Every stock change is a conditional update in the
database (never read-modify-write); the repository says whether the condition held."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from domain.inventory.model import (
    Discrepancy,
    Movement,
    MovementFilter,
    Reservation,
    ReservationState,
    StockLevel,
    Transfer,
)
from domain.pagination import Page, PageRequest


class InventoryRepository(Protocol):
    async def levels(
        self, variant_ids: Sequence[UUID], location_ids: Sequence[UUID] | None = None
    ) -> list[StockLevel]: ...
    async def available_totals(
        self, variant_ids: Sequence[UUID], location_ids: Sequence[UUID]
    ) -> dict[UUID, int]:
        """Per variant, the sum of `StockLevel.available` over the given locations (0 when
        it has no level there)."""
        ...

    async def levels_at(self, location_id: UUID, page: PageRequest) -> Page[StockLevel]: ...
    async def level(self, location_id: UUID, variant_id: UUID) -> StockLevel | None: ...
    async def ensure_level(self, location_id: UUID, variant_id: UUID) -> None: ...

    async def lock_levels(
        self, keys: Sequence[tuple[UUID, UUID]], *, skip_locked: bool = False
    ) -> set[tuple[UUID, UUID]]:
        """Lock these (location, variant) levels in that order and return them; with
        skip_locked, leave out those another transaction holds instead of waiting. Take
        levels before reservations, as a till sale does; holding reservations already,
        take them with skip_locked (waiting could deadlock)."""
        ...

    async def try_reserve(self, location_id: UUID, variant_id: UUID, quantity: int) -> bool:
        """reserved += q only if on_hand - reserved - safety_stock >= q."""
        ...

    async def unreserve(self, location_id: UUID, variant_id: UUID, quantity: int) -> None: ...
    async def try_commit(self, location_id: UUID, variant_id: UUID, quantity: int) -> bool:
        """on_hand -= q and reserved -= q only if on_hand >= q and reserved >= q."""
        ...

    async def try_change_on_hand(
        self, location_id: UUID, variant_id: UUID, delta: int, *, keep_available: bool = False
    ) -> StockLevel | None:
        """on_hand += delta only if it stays >= 0 (and, with keep_available, only if the
        units taken are available). None when the condition fails."""
        ...

    async def compare_and_set(
        self, location_id: UUID, variant_id: UUID, on_hand: int, expected: int
    ) -> StockLevel | None: ...
    async def take_for_sale(
        self, location_id: UUID, variant_id: UUID, quantity: int
    ) -> tuple[int, StockLevel]:
        """on_hand drops by min(q, on_hand), the level made first if there is none (a till
        may sell what the system never stocked); returns (units taken, level after)."""
        ...

    async def set_safety_stock(
        self, location_id: UUID, variant_id: UUID, quantity: int
    ) -> StockLevel: ...

    async def add_movements(self, movements: Sequence[Movement]) -> None: ...
    async def movements(self, where: MovementFilter, page: PageRequest) -> Page[Movement]: ...
    async def ledger_sums(self) -> dict[tuple[UUID, UUID], tuple[int, int]]: ...

    async def add_reservations(
        self, reservations: Sequence[Reservation], movements: Sequence[Movement] = ()
    ) -> None:
        """The reservations and, in the same round trip, their `movements` in the ledger."""
        ...

    async def reservations_of(
        self, owner: str, states: Sequence[ReservationState]
    ) -> list[Reservation]: ...
    async def holding_at(self, location_id: UUID, variant_id: UUID) -> list[Reservation]: ...
    async def move_reservations(
        self, ids: Sequence[UUID], frm: Sequence[ReservationState], to: ReservationState
    ) -> int:
        """Change the state of those still in one of `frm`; returns how many changed."""
        ...

    async def extend_reservations(self, owner: str, expires_at: datetime) -> int: ...
    async def claim_expired(self, now: datetime, limit: int) -> list[Reservation]:
        """Holding reservations past expiry, locked with SKIP LOCKED (one sweeper wins)."""
        ...

    async def add_transfer(self, transfer: Transfer) -> None: ...
    async def get_transfer(self, transfer_id: UUID, *, lock: bool = False) -> Transfer | None: ...
    async def save_transfer(self, transfer: Transfer) -> None: ...

    async def record_pos_transaction(
        self, location_id: UUID, transaction_id: str, at: datetime, summary: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Insert; if this till transaction was recorded before, return its summary."""
        ...

    async def complete_pos_transaction(
        self, location_id: UUID, transaction_id: str, summary: dict[str, Any]
    ) -> None:
        """Replace the summary with the outcome, so a replay reports what the sale did."""
        ...

    async def add_discrepancies(self, items: Sequence[Discrepancy]) -> None: ...
    async def discrepancies(
        self, location_id: UUID | None, page: PageRequest
    ) -> Page[Discrepancy]: ...
