"""Shared wiring and steps of the ordering use cases: transitions with a timeline,
notifications through the outbox, live events after commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from domain.errors import OrderError, OrderErrorCode
from domain.events import OrderAdvancing
from domain.identity.model import ApiScope, DeviceKind, Principal, PrincipalKind, StaffRole
from domain.ids import new_id
from domain.live import LiveEvent, LiveEvents, order_update_event
from domain.members.model import ConsentPurpose
from domain.ordering.board import board_event_in_uow, moves_on_board
from domain.ordering.deps import OrderingDeps
from domain.ordering.model import (
    Order,
    OrderEvent,
    OrderStatus,
    PaymentKind,
    PaymentStatus,
    check_transition,
)
from domain.outbox import Notification, enqueue
from domain.uow import UnitOfWork

# The steps that start work on a paid order's goods (another context may hold them back).
ADVANCES = frozenset({OrderStatus.PREPARING, OrderStatus.READY_FOR_PICKUP, OrderStatus.SHIPPED})


@dataclass
class Effects:
    """What to publish once the transaction has committed."""

    events: list[LiveEvent] = field(default_factory=list)

    async def publish(self, live: LiveEvents) -> None:
        for event in self.events:
            await live.publish(event)


def not_found() -> OrderError:
    return OrderError(OrderErrorCode.NOT_FOUND, "Unknown order.", ["orderId"])


async def load(uow: UnitOfWork, order_id: UUID, *, lock: bool = True) -> Order:
    order = await uow.orders.get(order_id, lock=lock)
    if order is None:
        raise not_found()
    return order


def pickup_lock_key(location_id: UUID) -> str:
    """The rate-limit key of a store's wrong pickup codes (every till of the store)."""
    return f"pickup-wrong:{location_id}"


def is_store_staff(actor: Principal, location_id: UUID) -> bool:
    """Staff or devices who may work the orders of this store (ADMIN everywhere)."""
    if actor.is_admin:
        return True
    if actor.kind is PrincipalKind.DEVICE:  # the till works orders; a kiosk only shows them
        return actor.device_kind is DeviceKind.POS and location_id in actor.store_ids
    return (
        actor.kind is PrincipalKind.STAFF
        and actor.role is not None
        and actor.role.is_store_scoped
        and location_id in actor.store_ids
    )


def sees_store_orders(actor: Principal, location_id: UUID) -> bool:
    """Who may watch a store's pickup board and read its pickup queue: ADMIN, and the store's
    own staff (manager, clerk) and devices, the kiosk included (it shows the queue; it does
    not work it: `is_store_staff`)."""
    if actor.is_admin:
        return True
    if actor.kind is PrincipalKind.DEVICE or (
        actor.kind is PrincipalKind.STAFF and actor.role is not None and actor.role.is_store_scoped
    ):
        return location_id in actor.store_ids
    return False


def is_cs(actor: Principal) -> bool:
    return actor.has_role(StaffRole.ADMIN, StaffRole.CS_AGENT)


def may_read(actor: Principal | None, order: Order) -> bool:
    if actor is None:
        return False
    if actor.is_member:
        return order.member_id == actor.id
    return is_cs(actor) or is_store_staff(actor, order.location_id) or reads_all_orders(actor)


async def order_by_number(deps: OrderingDeps, actor: Principal, number: str) -> Order | None:
    """The order printed with this number: CS and ADMIN find any, store staff (and the till)
    only their stores' orders; any other is None, as if there were none."""
    text = number.strip().upper()
    if not 1 <= len(text) <= 20 or not text.isalnum():
        raise OrderError(
            OrderErrorCode.INVALID_INPUT, "An order number is 1-20 letters and digits.", ["number"]
        )
    async with deps.uow() as uow:
        order = await uow.orders.by_number(text)
    if order is None or not (is_cs(actor) or is_store_staff(actor, order.location_id)):
        return None
    return order


def reads_all_orders(actor: Principal) -> bool:
    """An integration (ERP) pulling every store's orders: lines, payments and timeline, never
    the pickup code or the customer's messages."""
    return actor.has_scope(ApiScope.ORDERS_READ)


async def move(
    deps: OrderingDeps,
    uow: UnitOfWork,
    order: Order,
    target: OrderStatus,
    actor: str,
    reason: str = "",
    effects: Effects | None = None,
    **changes: Any,
) -> Order:
    """One legal transition: conditional on the current status, recorded in the timeline."""
    check_transition(order.fulfilment, order.status, target)
    if order.status is OrderStatus.PAID and target in ADVANCES:
        advancing = OrderAdvancing(order.id)  # e.g. a group-buy that is not complete yet
        await deps.events.dispatch(uow, advancing)
        if advancing.blockers:
            raise OrderError(
                OrderErrorCode.ILLEGAL_TRANSITION, " ".join(advancing.blockers), ["orderId"]
            )
    now = deps.clock.now()
    if not await uow.orders.transition(
        order.id, order.status, target, {"updated_at": now, **changes}
    ):
        raise OrderError(
            OrderErrorCode.ILLEGAL_TRANSITION,
            "The order changed while you were working on it; reload it.",
            ["orderId"],
        )
    await uow.orders.add_events(
        [OrderEvent(new_id(), order.id, order.status, target, actor, reason, now)]
    )
    previous = order.status
    order.status, order.updated_at = target, now
    for name, value in changes.items():
        setattr(order, name, value)
    if effects is not None:
        effects.events.append(
            order_update_event(
                order.id, status=target.value, previous=previous.value, at=order.updated_at
            )
        )
        if moves_on_board(order, previous):
            effects.events.append(await board_event_in_uow(uow, order))
    return order


def _pickup_number(order: Order) -> dict[str, str]:
    """A pickup order's messages name the number the store will call (A023)."""
    return {"pickup_number": order.pickup_number} if order.pickup_number else {}


async def notify(
    deps: OrderingDeps,
    uow: UnitOfWork,
    order: Order,
    kind: str,
    suffix: str,
    *,
    consent: ConsentPurpose | None = None,
    **data: str,
) -> None:
    """A message to the order's member through the outbox; `consent` names the purpose a
    marketing message needs (the outbox drops it for a member who has not granted it)."""
    if order.member_id is None:
        return  # walk-in: nobody to notify
    await enqueue(
        uow,
        deps.clock,
        [
            Notification(
                kind=kind,
                member_id=order.member_id,
                order_id=order.id,
                data={"order_number": order.number, **_pickup_number(order), **data},
                dedupe_key=f"order:{order.id}:{suffix}",
                consent=consent,
            )
        ],
    )


async def orders_in_uow(uow: UnitOfWork, order_ids: Sequence[UUID]) -> dict[UUID, Order]:
    """These orders by id (the unknown left out), in a constant number of statements: what
    another context shows of its orders (growth's export: a group-buy seat's order number)."""
    if not order_ids:
        return {}
    return {o.id: o for o in await uow.orders.get_many(list(dict.fromkeys(order_ids)))}


@dataclass(frozen=True)
class PaidOrder:
    member_id: UUID | None
    net_paid: int  # fen paid in money, less refunds (not failed ones)


async def paid_orders_in_uow(uow: UnitOfWork, order_ids: Sequence[UUID]) -> dict[UUID, PaidOrder]:
    """Of these orders, those paid and not cancelled (nor unclaimed), with what they brought in
    money, in a constant number of statements (growth's guide performance reads them so)."""
    if not order_ids:
        return {}
    orders = [
        o
        for o in await uow.orders.get_many(list(order_ids))
        if o.paid_at is not None and o.status not in (OrderStatus.CANCELLED, OrderStatus.UNCLAIMED)
    ]
    refunded: dict[UUID, int] = {}
    for payment in await uow.orders.payments_of([o.id for o in orders]):
        if payment.kind is PaymentKind.REFUND and payment.status is not PaymentStatus.REFUND_FAILED:
            refunded[payment.order_id] = refunded.get(payment.order_id, 0) + payment.amount
    return {
        o.id: PaidOrder(o.member_id, max(o.amount_due - refunded.get(o.id, 0), 0)) for o in orders
    }
