"""A store's pickup board: which orders it shows (`ON_BOARD`), the one event that moves an
order on it, and the state a kiosk starts from. Live changes and the starting state are built
by the same function, so a restarted kiosk shows what a running one does."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from uuid import UUID

from domain.live import LiveEvent, pickup_board_event
from domain.ordering.deps import OrderingDeps
from domain.ordering.model import ON_BOARD, Fulfilment, Order, OrderStatus
from domain.uow import UnitOfWork

BOARD_LIMIT = 500  # more orders than a screen shows; a larger board is a store in trouble


@dataclass(frozen=True)
class BoardEntry:
    """An order on the board now, and the event that shows it."""

    order: Order
    event: LiveEvent


def moves_on_board(order: Order, previous: OrderStatus) -> bool:
    """The transition puts a pickup order on the board, changes it there, or takes it off."""
    return order.fulfilment is Fulfilment.PICKUP and (
        previous in ON_BOARD or order.status in ON_BOARD
    )


def board_event(order: Order, customer_name: str | None) -> LiveEvent:
    """The order on its store's pickup board: its pickup number, status and the customer's
    masked name (王**)."""
    return pickup_board_event(
        order.location_id,
        order_id=order.id,
        order_number=order.number,
        pickup_number=order.pickup_number,
        status=order.status.value,
        customer_name=customer_name,
        at=order.updated_at,
    )


async def board_event_in_uow(uow: UnitOfWork, order: Order) -> LiveEvent:
    member = await uow.members.get(order.member_id) if order.member_id else None
    return board_event(order, member.display_name if member else None)


async def board_state(deps: OrderingDeps, location_id: UUID) -> list[BoardEntry]:
    """Every pickup order on the store's board now, oldest first (the pickup numbers' order)."""
    async with deps.uow() as uow:
        orders = await uow.orders.on_board(location_id, sorted(ON_BOARD), BOARD_LIMIT)
        member_ids = sorted({o.member_id for o in orders if o.member_id is not None})
        members = await uow.members.get_many(member_ids) if member_ids else []
    names: Mapping[UUID, str] = {m.id: m.display_name for m in members}
    return [
        BoardEntry(o, board_event(o, names.get(o.member_id) if o.member_id else None))
        for o in orders
    ]
