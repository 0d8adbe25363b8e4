"""Goods a customer brought back: resaleable units go back on the shelf, damaged ones are
received and written off at once. Both are in the ledger (RETURN in, ADJUSTMENT out), under
the reference of what they came back for, so the books show every unit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from domain.ids import new_id
from domain.inventory.deps import InventoryDeps
from domain.inventory.model import Movement, MovementKind
from domain.uow import UnitOfWork

WRITE_OFF_REASON = "returned damaged: written off"


@dataclass(frozen=True)
class ReturnedGoods:
    variant_id: UUID
    resaleable: int
    damaged: int


async def receive_return_in_uow(
    deps: InventoryDeps,
    uow: UnitOfWork,
    location_id: UUID,
    goods: Sequence[ReturnedGoods],
    reference: str,
    actor: str,
) -> list[Movement]:
    """Book returned goods at `location_id` in the caller's transaction; levels are changed
    in variant order (the lock order) and created when the location never held the item."""
    now = deps.clock.now()
    movements = []
    for item in sorted(goods, key=lambda g: g.variant_id):
        received = item.resaleable + item.damaged
        if received <= 0:
            continue
        await uow.inventory.ensure_level(location_id, item.variant_id)
        level = await uow.inventory.try_change_on_hand(location_id, item.variant_id, received)
        assert level is not None  # adding never goes below zero
        movements.append(
            _movement(
                now, location_id, item.variant_id, MovementKind.RETURN, received, reference, actor
            )
        )
        if item.damaged:
            level = await uow.inventory.try_change_on_hand(
                location_id, item.variant_id, -item.damaged
            )
            assert level is not None  # the units were added a statement ago, row held since
            movements.append(
                _movement(
                    now,
                    location_id,
                    item.variant_id,
                    MovementKind.ADJUSTMENT,
                    -item.damaged,
                    reference,
                    actor,
                    WRITE_OFF_REASON,
                )
            )
    await uow.inventory.add_movements(movements)
    return movements


def _movement(
    at: datetime,
    location_id: UUID,
    variant_id: UUID,
    kind: MovementKind,
    delta: int,
    reference: str,
    actor: str,
    reason: str = "returned by the customer",
) -> Movement:
    return Movement(
        id=new_id(),
        location_id=location_id,
        variant_id=variant_id,
        kind=kind,
        on_hand_delta=delta,
        reserved_delta=0,
        reason=reason,
        reference=reference,
        actor=actor,
        created_at=at,
    )
