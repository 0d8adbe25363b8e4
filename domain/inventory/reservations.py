"""Reservations: stock held for an owner (an order, a subscription cycle) until it is
committed (goods leave), released, or expires. Used inside the owner's transaction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta
from uuid import UUID

from domain.errors import InventoryError, InventoryErrorCode
from domain.events import ReservationExpired, ReservationsExpiring
from domain.ids import new_id
from domain.inventory.deps import InventoryDeps
from domain.inventory.model import (
    HOLDING,
    InsufficientStock,
    Movement,
    MovementKind,
    Reservation,
    ReservationState,
    Shortage,
    StockLine,
    clean_lines,
)
from domain.uow import UnitOfWork

# The longest a reservation is held from now. Paid goods wait out the longest pickup window
# (30 days, PICKUP_WINDOW in infra/settings.py) plus the ordering context's grace after it.
MAX_TTL = timedelta(days=60)


def _movement(
    deps: InventoryDeps,
    r: Reservation,
    kind: MovementKind,
    on_hand: int,
    reserved: int,
    reason: str,
    actor: str,
) -> Movement:
    return Movement(
        id=new_id(),
        location_id=r.location_id,
        variant_id=r.variant_id,
        kind=kind,
        on_hand_delta=on_hand,
        reserved_delta=reserved,
        reason=reason,
        reference=r.owner,
        actor=actor,
        created_at=deps.clock.now(),
    )


def _check_owner_ttl(owner: str, ttl: timedelta) -> None:
    if not owner or len(owner) > 100:
        raise InventoryError(InventoryErrorCode.INVALID_INPUT, "Owner is 1-100 characters.")
    if not timedelta(0) < ttl <= MAX_TTL:
        raise InventoryError(InventoryErrorCode.INVALID_INPUT, "TTL must be within 60 days.")


async def reserve_in_uow(
    deps: InventoryDeps,
    uow: UnitOfWork,
    lines: Sequence[StockLine],
    location_id: UUID,
    owner: str,
    ttl: timedelta,
    actor: str = "SYSTEM",
) -> list[Reservation]:
    """All or nothing: each line is one conditional update, taken in variant-id order."""
    _check_owner_ttl(owner, ttl)
    ordered = clean_lines(lines)
    held: list[StockLine] = []
    short: list[StockLine] = []
    for line in ordered:
        ok = await uow.inventory.try_reserve(location_id, line.variant_id, line.quantity)
        (held if ok else short).append(line)
    if short:
        # Undo the lines that did fit, so a caller may catch this and try another location.
        for line in held:
            await uow.inventory.unreserve(location_id, line.variant_id, line.quantity)
        raise await shortage_in_uow(uow, short, location_id)
    return await _record(deps, uow, ordered, location_id, owner, ttl, actor)


async def take_stock_in_uow(
    uow: UnitOfWork, location_id: UUID, variant_id: UUID, units: int
) -> bool:
    """A level's `reserved`, taken by a caller that recorded its reservations first
    (`record_reservations_in_uow`): one conditional update; False when it does not fit."""
    return await uow.inventory.try_reserve(location_id, variant_id, units)


async def record_reservations_in_uow(
    deps: InventoryDeps,
    uow: UnitOfWork,
    lines: Sequence[StockLine],
    location_id: UUID,
    owner: str,
    ttl: timedelta,
    actor: str = "SYSTEM",
) -> list[Reservation]:
    """The reservations and their movements without the levels' `reserved`, which the caller
    takes itself later in the same transaction (the hot SKU's checkout takes its hot rows
    last: domain/ordering/hot_take.py), raising `shortage_in_uow` when they do not fit."""
    _check_owner_ttl(owner, ttl)
    return await _record(deps, uow, clean_lines(lines), location_id, owner, ttl, actor)


async def shortage_in_uow(
    uow: UnitOfWork, short: Sequence[StockLine], location_id: UUID
) -> InsufficientStock:
    """The error for lines the location could not cover, with what it has available."""
    levels = {
        level.variant_id: level
        for level in await uow.inventory.levels([s.variant_id for s in short], [location_id])
    }
    return InsufficientStock(
        [
            Shortage(
                s.variant_id,
                s.quantity,
                levels[s.variant_id].available if s.variant_id in levels else 0,
            )
            for s in short
        ],
        location_id,
    )


async def _record(
    deps: InventoryDeps,
    uow: UnitOfWork,
    ordered: Sequence[StockLine],
    location_id: UUID,
    owner: str,
    ttl: timedelta,
    actor: str,
) -> list[Reservation]:
    now = deps.clock.now()
    reservations = [
        Reservation(
            id=new_id(),
            owner=owner,
            location_id=location_id,
            variant_id=line.variant_id,
            quantity=line.quantity,
            state=ReservationState.ACTIVE,
            expires_at=now + ttl,
            created_at=now,
        )
        for line in ordered
    ]
    await uow.inventory.add_reservations(
        reservations,
        [
            _movement(deps, r, MovementKind.RESERVE, 0, r.quantity, "reserved", actor)
            for r in reservations
        ],
    )
    return reservations


async def reserve(
    deps: InventoryDeps,
    lines: Sequence[StockLine],
    location_id: UUID,
    owner: str,
    ttl: timedelta,
    actor: str = "SYSTEM",
) -> list[Reservation]:
    async with deps.uow() as uow:
        return await reserve_in_uow(deps, uow, lines, location_id, owner, ttl, actor)


async def _holding(uow: UnitOfWork, owner: str) -> list[Reservation]:
    found = await uow.inventory.reservations_of(owner, HOLDING)
    return sorted(found, key=lambda r: (r.location_id, r.variant_id))


async def _lock_levels_first(uow: UnitOfWork, held: Sequence[Reservation]) -> None:
    """Lock order is levels, then reservations: a till sale holds the level while it puts
    reservations AT_RISK, so moving a reservation before taking its level could deadlock."""
    await uow.inventory.lock_levels([(r.location_id, r.variant_id) for r in held])


async def release_in_uow(
    deps: InventoryDeps,
    uow: UnitOfWork,
    owner: str,
    actor: str = "SYSTEM",
    to: ReservationState = ReservationState.RELEASED,
    reason: str = "released",
) -> list[Reservation]:
    """Give the owner's held stock back. Safe to repeat: each reservation moves once."""
    released = []
    held = await _holding(uow, owner)
    await _lock_levels_first(uow, held)
    for r in held:
        if await uow.inventory.move_reservations([r.id], HOLDING, to):
            await uow.inventory.unreserve(r.location_id, r.variant_id, r.quantity)
            released.append(r)
    await uow.inventory.add_movements(
        [_movement(deps, r, MovementKind.RELEASE, 0, -r.quantity, reason, actor) for r in released]
    )
    return released


async def release(deps: InventoryDeps, owner: str, actor: str = "SYSTEM") -> list[Reservation]:
    async with deps.uow() as uow:
        return await release_in_uow(deps, uow, owner, actor)


async def commit_in_uow(
    deps: InventoryDeps, uow: UnitOfWork, owner: str, actor: str = "SYSTEM"
) -> list[Reservation]:
    """The goods leave: on_hand and reserved both drop. Fails if a till sale took them."""
    committed, short = [], []
    held = await _holding(uow, owner)
    await _lock_levels_first(uow, held)
    for r in held:
        if not await uow.inventory.move_reservations([r.id], HOLDING, ReservationState.COMMITTED):
            continue
        if await uow.inventory.try_commit(r.location_id, r.variant_id, r.quantity):
            committed.append(r)
        else:
            short.append(r)
    if short:
        levels = await uow.inventory.levels([r.variant_id for r in short], [short[0].location_id])
        on_hand = {level.variant_id: level.on_hand for level in levels}
        raise InsufficientStock(
            [Shortage(r.variant_id, r.quantity, on_hand.get(r.variant_id, 0)) for r in short],
            short[0].location_id,
        )
    await uow.inventory.add_movements(
        [
            _movement(deps, r, MovementKind.COMMIT, -r.quantity, -r.quantity, "committed", actor)
            for r in committed
        ]
    )
    return committed


async def commit(deps: InventoryDeps, owner: str, actor: str = "SYSTEM") -> list[Reservation]:
    async with deps.uow() as uow:
        return await commit_in_uow(deps, uow, owner, actor)


async def extend_in_uow(deps: InventoryDeps, uow: UnitOfWork, owner: str, ttl: timedelta) -> int:
    """Hold the owner's reservations `ttl` from now; returns how many are held (0: none)."""
    _check_owner_ttl(owner, ttl)
    return await uow.inventory.extend_reservations(owner, deps.clock.now() + ttl)


async def extend(deps: InventoryDeps, owner: str, ttl: timedelta) -> int:
    async with deps.uow() as uow:
        count = await extend_in_uow(deps, uow, owner, ttl)
    if not count:
        raise InventoryError(
            InventoryErrorCode.RESERVATION_NOT_FOUND, f"{owner!r} holds no reservations."
        )
    return count


async def sweep_expired(deps: InventoryDeps, batch: int = 500) -> int:
    """Job: release reservations past their expiry and tell their owners. Several sweepers
    can run at once: SKIP LOCKED gives each its own rows, and each row moves once. The
    claimed rows are locked before their levels, so the levels are taken without waiting
    (a till sale holding one may be waiting for these rows); the rest wait for the next run.
    Owners whose records are busy (ReservationsExpiring) wait for the next run too."""
    async with deps.uow() as uow:
        expired = []
        claimed = await uow.inventory.claim_expired(deps.clock.now(), batch)
        free = await uow.inventory.lock_levels(
            [(r.location_id, r.variant_id) for r in claimed], skip_locked=True
        )
        ready = [r for r in claimed if (r.location_id, r.variant_id) in free]
        expiring = ReservationsExpiring(frozenset(r.owner for r in ready))
        await deps.events.dispatch(uow, expiring)
        for r in sorted(ready, key=lambda r: (r.location_id, r.variant_id)):
            if r.owner in expiring.busy:
                continue
            if await uow.inventory.move_reservations([r.id], HOLDING, ReservationState.EXPIRED):
                await uow.inventory.unreserve(r.location_id, r.variant_id, r.quantity)
                expired.append(r)
        await uow.inventory.add_movements(
            [
                _movement(deps, r, MovementKind.RELEASE, 0, -r.quantity, "expired", "SYSTEM")
                for r in expired
            ]
        )
        by_owner: dict[str, list[UUID]] = defaultdict(list)
        for r in expired:
            by_owner[r.owner].append(r.id)
        for owner, ids in by_owner.items():
            await deps.events.dispatch(uow, ReservationExpired(owner, tuple(ids)))
    return len(expired)
