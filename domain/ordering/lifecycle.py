"""After payment: preparing, ready with a pickup code, hand-over, delivery, cancellation,
and the jobs and event handlers that move orders along without a person."""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from uuid import UUID

from domain.errors import OrderError, OrderErrorCode
from domain.events import (
    ExportScope,
    MemberErased,
    MemberErasing,
    MembersMerged,
    OrderCancelled,
    OrderHandedOver,
    ReservationExpired,
    ReservationsAtRisk,
    ReservationsExpiring,
)
from domain.idempotency import once
from domain.identity.model import Principal
from domain.ids import new_id
from domain.inventory.reservations import commit_in_uow, release_in_uow
from domain.locations.model import local_time_text
from domain.loyalty.ledger import release_hold, reverse_redemption
from domain.loyalty.services import earn_for_purchase
from domain.members.model import ConsentPurpose
from domain.ordering.deps import OrderingDeps
from domain.ordering.model import (
    HOLDS_STOCK,
    MEMBER_MAY_CANCEL,
    PAID_STATES,
    Fulfilment,
    Order,
    OrderEvent,
    OrderStatus,
    PickupCode,
    order_id_of,
)
from domain.ordering.payments import close_attempts, close_cancelled, hold_paid_goods
from domain.ordering.refunds import refund_paid
from domain.ordering.services import (
    Effects,
    is_cs,
    is_store_staff,
    load,
    move,
    notify,
    pickup_lock_key,
)
from domain.pagination import MAX_PAGE_SIZE, PageRequest
from domain.promotions.coupons_checkout import give_back_in_uow
from domain.promotions.flash_sales import give_back_flash_sales_in_uow
from domain.uow import Contended, UnitOfWork

CODE_RE = re.compile(r"^[0-9]{6}$")
QR_PREFIX = "OSP1"


def _store_only(actor: Principal, order: Order) -> None:
    if not is_store_staff(actor, order.location_id):
        raise OrderError(
            OrderErrorCode.FORBIDDEN,
            "Only staff of the fulfilling store may do this.",
            ["orderId"],
        )


async def _step(
    deps: OrderingDeps, actor: Principal, order_id: UUID, target: OrderStatus, reason: str = ""
) -> Order:
    effects = Effects()
    async with deps.uow() as uow:
        order = await load(uow, order_id)
        _store_only(actor, order)
        await move(deps, uow, order, target, actor.label, reason, effects)
        if target is OrderStatus.SHIPPED:
            await commit_in_uow(deps.inventory, uow, order.reservation_owner, actor.label)
        if target is OrderStatus.DELIVERED:
            await _earn(deps, uow, order)
    await effects.publish(deps.live)
    return order


async def start_preparing(deps: OrderingDeps, actor: Principal, order_id: UUID) -> Order:
    return await _step(deps, actor, order_id, OrderStatus.PREPARING)


async def ship_order(deps: OrderingDeps, actor: Principal, order_id: UUID) -> Order:
    """Delivery orders: the goods leave (stock committed)."""
    return await _step(deps, actor, order_id, OrderStatus.SHIPPED)


async def mark_delivered(deps: OrderingDeps, actor: Principal, order_id: UUID) -> Order:
    return await _step(deps, actor, order_id, OrderStatus.DELIVERED)


def qr_payload(deps: OrderingDeps, code: PickupCode) -> str:
    message = f"{code.order_id}:{code.location_id}:{code.code}"
    return f"{QR_PREFIX}.{code.order_id}.{code.code}.{deps.signer.sign(message)}"


async def _issue_code(deps: OrderingDeps, uow: UnitOfWork, order: Order) -> PickupCode:
    """Six digits, unique among the store's open pickups (the database enforces it)."""
    assert order.pickup_deadline is not None
    for _ in range(20):
        code = PickupCode(
            order.id,
            order.location_id,
            f"{secrets.randbelow(1_000_000):06d}",
            order.pickup_deadline,
        )
        if await uow.orders.add_pickup_code(code):
            return code
    raise OrderError(OrderErrorCode.INVALID_INPUT, "Could not issue a pickup code; try again.")


async def mark_ready(deps: OrderingDeps, actor: Principal, order_id: UUID) -> Order:
    """Goods are packed: issue the pickup code, tell the shopper, light up the kiosk board."""
    effects = Effects()
    async with deps.uow() as uow:
        order = await load(uow, order_id)
        _store_only(actor, order)
        if order.fulfilment is not Fulfilment.PICKUP:
            raise OrderError(
                OrderErrorCode.ILLEGAL_TRANSITION, "Delivery orders ship instead.", ["orderId"]
            )
        deadline = deps.clock.now() + deps.policy.pickup_window
        await move(
            deps,
            uow,
            order,
            OrderStatus.READY_FOR_PICKUP,
            actor.label,
            "packed",
            effects,
            pickup_deadline=deadline,
        )
        # The goods stay held past the pickup deadline: the unclaimed-orders job releases them
        # (every few minutes); the reservation sweeper must not get there first.
        await hold_paid_goods(deps, uow, order, deadline)
        code = await _issue_code(deps, uow, order)
        location = await uow.locations.get(order.location_id)
        await notify(
            deps,
            uow,
            order,
            "ORDER_READY_FOR_PICKUP",
            "ready",
            code=code.code,
            store=location.name if location else "",
            deadline=local_time_text(deadline, location),
        )
    await effects.publish(deps.live)
    return order


async def _find_code(
    deps: OrderingDeps, uow: UnitOfWork, location_id: UUID, presented: str
) -> PickupCode | None:
    text = presented.strip()
    if CODE_RE.fullmatch(text):
        return await uow.orders.pickup_by_code(location_id, text)
    parts = text.split(".")
    if len(parts) != 4 or parts[0] != QR_PREFIX or not CODE_RE.fullmatch(parts[2]):
        return None
    try:
        order_id = UUID(parts[1])
    except ValueError:
        return None
    if not deps.signer.verify(f"{order_id}:{location_id}:{parts[2]}", parts[3]):
        return None
    found = await uow.orders.pickup_by_code(location_id, parts[2])
    return found if found is not None and found.order_id == order_id else None


async def complete_pickup(
    deps: OrderingDeps,
    actor: Principal,
    location_id: UUID,
    presented: str,
    idempotency_key: str | None = None,
) -> Order:
    """Staff scan or type the code: the goods are handed over and the stock committed.

    Each try is counted against the store's budget of wrong codes before the code is looked
    up (counted after, 300 concurrent guesses made 147 look-ups against a limit of 20); a
    right code gives its count back. A retry of a hand-over with the same idempotency key
    answers the same order and counts nothing."""
    if not is_store_staff(actor, location_id):
        raise OrderError(
            OrderErrorCode.FORBIDDEN,
            "Only staff or devices of this store hand over its orders.",
            ["locationId"],
        )
    key = pickup_lock_key(location_id)
    policy = deps.policy
    effects = Effects()
    now = deps.clock.now()
    handed: list[Order] = []
    async with deps.uow() as uow:

        async def hand_over() -> dict[str, Any]:
            if await deps.limiter.hit(
                key, policy.wrong_codes_per_store, policy.wrong_code_window_seconds
            ):
                raise OrderError(
                    OrderErrorCode.TOO_MANY_ATTEMPTS,
                    "Too many wrong pickup codes at this store; wait a few minutes or ask a "
                    "store manager to lift the lock.",
                    ["pickupCode"],
                )
            code = await _find_code(deps, uow, location_id, presented[:200])
            if code is None:
                raise OrderError(
                    OrderErrorCode.INVALID_PICKUP_CODE,
                    "No open pickup at this store has that code; check it with the customer.",
                    ["pickupCode"],
                )
            await deps.limiter.give_back(key)  # a right code is not a guess
            if code.deadline <= now:
                expired = local_time_text(code.deadline, await uow.locations.get(location_id))
                raise OrderError(
                    OrderErrorCode.PICKUP_CODE_EXPIRED,
                    f"This pickup code expired at {expired}; a store manager can hand the "
                    "order over after looking the member up.",
                    ["pickupCode"],
                )
            order = await load(uow, code.order_id)
            await hand_over_in_uow(deps, uow, order, actor.label, "handed over", effects)
            handed.append(order)
            return {"order_id": str(order.id)}

        result = await once(
            uow.idempotency,
            f"{actor.label}:completePickup",
            idempotency_key,
            {"l": str(location_id), "c": presented[:200]},
            now,
            hand_over,
        )
        order = handed[0] if handed else await load(uow, UUID(result["order_id"]))
    await effects.publish(deps.live)
    return order


async def hand_over_in_uow(
    deps: OrderingDeps, uow: UnitOfWork, order: Order, actor: str, why: str, effects: Effects
) -> None:
    await move(deps, uow, order, OrderStatus.PICKED_UP, actor, why, effects)
    await commit_in_uow(deps.inventory, uow, order.reservation_owner, actor)
    await uow.orders.delete_pickup(order.id)
    await _earn(deps, uow, order)
    # Marketing: only with the member's consent to WeChat marketing (the outbox checks it).
    await notify(
        deps, uow, order, "REVIEW_INVITATION", "review", consent=ConsentPurpose.MARKETING_WECHAT
    )


async def _earn(deps: OrderingDeps, uow: UnitOfWork, order: Order) -> None:
    """Goods handed over: the member earns on what they paid in money (and growth hears of
    it: an invitee's first order rewards a referral)."""
    if order.member_id is not None:
        await earn_for_purchase(
            deps.loyalty, uow, order.member_id, order.amount_due, order.reservation_owner
        )
        await deps.events.dispatch(
            uow, OrderHandedOver(order.id, order.member_id, order.amount_due)
        )


async def cancel_in_uow(
    deps: OrderingDeps,
    uow: UnitOfWork,
    order: Order,
    actor: str,
    reason: str,
    effects: Effects,
    target: OrderStatus = OrderStatus.CANCELLED,
) -> None:
    was_paid, was_unpaid = order.status in PAID_STATES, order.status is OrderStatus.PENDING_PAYMENT
    await move(deps, uow, order, target, actor, reason, effects, cancel_reason=reason)
    if was_unpaid:
        await uow.orders.close_payments(order.id)  # money that still lands is refunded
    # Flash-sale units go back before the stock: the checkout takes them in that order too.
    await give_back_flash_sales_in_uow(uow, order.id)
    if order.coupon_discount:  # back to the member while still valid
        await give_back_in_uow(uow, order.id, deps.clock.now())
    await release_in_uow(deps.inventory, uow, order.reservation_owner, actor)
    # Points: an unpaid order's hold comes back; a paid one's redemption is reversed.
    await release_hold(deps.loyalty, uow, order.reservation_owner, actor)
    await reverse_redemption(deps.loyalty, uow, order.reservation_owner, actor)
    await uow.orders.delete_pickup(order.id)
    if was_paid:
        await refund_paid(deps, uow, order, reason)
    cancelled = OrderCancelled(order.id, was_paid)  # a group-buy frees the seat
    await deps.events.dispatch(uow, cancelled)
    effects.events.extend(cancelled.live)
    kind = "ORDER_UNCLAIMED" if target is OrderStatus.UNCLAIMED else "ORDER_CANCELLED"
    await notify(deps, uow, order, kind, target.value.lower(), reason=reason)


async def cancel_order(deps: OrderingDeps, actor: Principal, order_id: UUID, reason: str) -> Order:
    why = reason.strip()
    if not 2 <= len(why) <= 200:
        raise OrderError(
            OrderErrorCode.INVALID_INPUT, "Give a reason (2-200 characters).", ["reason"]
        )
    effects = Effects()
    async with deps.uow() as uow:
        order = await load(uow, order_id)
        if actor.is_member:
            if order.member_id != actor.id:
                raise OrderError(OrderErrorCode.NOT_FOUND, "Unknown order.", ["orderId"])
            if order.status not in MEMBER_MAY_CANCEL:
                raise OrderError(
                    OrderErrorCode.ILLEGAL_TRANSITION,
                    f"The order is {order.status.value}; ask the store to cancel it.",
                    ["orderId"],
                )
        elif not (is_cs(actor) or is_store_staff(actor, order.location_id)):
            raise OrderError(
                OrderErrorCode.FORBIDDEN, "You may not cancel this order.", ["orderId"]
            )
        was_unpaid = order.status is OrderStatus.PENDING_PAYMENT
        await cancel_in_uow(deps, uow, order, actor.label, why, effects)
    await effects.publish(deps.live)
    if was_unpaid:
        await close_cancelled(deps, order.id)
    return order


async def cancel_by_system(deps: OrderingDeps, order_id: UUID, reason: str) -> bool:
    """Cancel an order another context gave up on (a failed group-buy), paid or not: a paid
    one is refunded. False: it is not pending payment or paid any more (or locked now: the
    caller tries again later)."""
    effects = Effects()
    async with deps.uow() as uow:
        if not await uow.orders.lock_if_free([order_id]):
            return False
        order = await uow.orders.get(order_id)
        if order is None or order.status not in (OrderStatus.PENDING_PAYMENT, OrderStatus.PAID):
            return False
        was_unpaid = order.status is OrderStatus.PENDING_PAYMENT
        await cancel_in_uow(deps, uow, order, "SYSTEM", reason, effects)
    await effects.publish(deps.live)
    if was_unpaid:
        await close_cancelled(deps, order.id)
    return True


# Jobs: each is idempotent (conditional transitions) and safe to run in several processes.


async def _sweep(
    deps: OrderingDeps,
    status: OrderStatus,
    field: str,
    target: OrderStatus,
    reason: str,
    batch: int = 200,
    before: Callable[[OrderingDeps, Sequence[Order]], Awaitable[Sequence[Order]]] | None = None,
) -> int:
    """Each due order in a transaction of its own: a batch cancelled in one transaction
    released many orders' stock out of the lock order (deadlocks with checkout). An order
    another transaction holds right now is left to the next run. `before` picks, outside any
    transaction, the due orders that may go now."""
    now = deps.clock.now()
    async with deps.uow() as uow:
        orders: Sequence[Order] = await uow.orders.due(status, field, now, batch, lock=False)
    if before is not None and orders:
        orders = await before(deps, orders)
    done = 0
    for order_id in [o.id for o in orders]:
        effects = Effects()
        async with deps.uow() as uow:
            if not await uow.orders.lock_if_free([order_id]):
                continue
            order = await uow.orders.get(order_id)
            deadline = getattr(order, field, None) if order is not None else None
            if order is None or order.status is not status or deadline is None or deadline >= now:
                continue  # paid, handed over or moved on meanwhile
            await cancel_in_uow(deps, uow, order, "SYSTEM", reason, effects, target)
            done += 1
        await effects.publish(deps.live)
    return done


async def cancel_unpaid(deps: OrderingDeps) -> int:
    return await _sweep(
        deps,
        OrderStatus.PENDING_PAYMENT,
        "payment_deadline",
        OrderStatus.CANCELLED,
        "payment timeout",
        before=close_attempts,  # closed at the provider before stock and points go back
    )


async def expire_unclaimed(deps: OrderingDeps) -> int:
    return await _sweep(
        deps,
        OrderStatus.READY_FOR_PICKUP,
        "pickup_deadline",
        OrderStatus.UNCLAIMED,
        "not collected by the deadline",
    )


async def send_reminders(deps: OrderingDeps, batch: int = 200) -> int:
    """Once per order, a day before the pickup deadline (dedupe key makes it once)."""
    soon = deps.clock.now() + deps.policy.reminder_before
    sent = 0
    async with deps.uow() as uow:
        due = await uow.orders.due(
            OrderStatus.READY_FOR_PICKUP, "pickup_deadline", soon, batch, unreminded=True
        )
        at = sorted({o.location_id for o in due})
        stores = {store.id: store for store in await uow.locations.get_many(at)}
        for order in due:
            if order.reminder_sent or (
                order.pickup_deadline is not None and order.pickup_deadline <= deps.clock.now()
            ):
                continue  # reminded already, or too late to remind
            assert order.pickup_deadline is not None
            await notify(
                deps,
                uow,
                order,
                "PICKUP_REMINDER",
                "reminder",
                deadline=local_time_text(order.pickup_deadline, stores.get(order.location_id)),
            )
            await uow.orders.set_flags(order.id, reminder_sent=True)
            sent += 1
    return sent


# Reactions to other contexts' events (registered by the runtime; run in their transaction).


def register_handlers(deps: OrderingDeps) -> None:
    events = deps.inventory.events

    async def on_expired(uow: UnitOfWork, event: ReservationExpired) -> None:
        """The sweeper released an unpaid order's stock: the order is cancelled the one way
        every cancellation goes (points hold back, the member told)."""
        order_id = order_id_of(event.owner)
        order = await uow.orders.get(order_id, lock=True) if order_id else None
        if order is not None and order.status is OrderStatus.PENDING_PAYMENT:
            await cancel_in_uow(deps, uow, order, "SYSTEM", "payment timeout", Effects())

    async def on_expiring(uow: UnitOfWork, event: ReservationsExpiring) -> None:
        wanted = {owner: order_id_of(owner) for owner in event.owners}
        ids = [order_id for order_id in wanted.values() if order_id is not None]
        locked = await uow.orders.lock_if_free(ids) if ids else set()
        for owner, order_id in wanted.items():
            if order_id is None or order_id in locked:
                continue
            if await uow.orders.get(order_id) is not None:
                event.busy.add(owner)  # being paid or cancelled right now

    async def on_at_risk(uow: UnitOfWork, event: ReservationsAtRisk) -> None:
        # The caller holds stock rows: waiting here for an order's lock would invert the
        # lock order (an order is locked before its stock). A busy order: run again.
        ids = [i for i in (order_id_of(owner) for owner in event.owners) if i is not None]
        missing = set(ids) - await uow.orders.lock_if_free(ids)
        if missing and await uow.orders.get_many(sorted(missing)):
            raise Contended("an order at risk is being changed")
        for owner in event.owners:
            order_id = order_id_of(owner)
            order = await uow.orders.get(order_id) if order_id else None
            if order is not None and order.status in HOLDS_STOCK and not order.at_risk:
                await uow.orders.set_flags(order.id, at_risk=True)
                await uow.orders.add_events(
                    [
                        OrderEvent(
                            new_id(),
                            order.id,
                            order.status,
                            order.status,
                            "SYSTEM",
                            "stock at risk: a till sale took the goods",
                            deps.clock.now(),
                        )
                    ]
                )

    async def on_merged(uow: UnitOfWork, event: MembersMerged) -> None:
        await uow.orders.move_member(event.source_member_id, event.target_member_id)

    async def on_erasing(uow: UnitOfWork, event: MemberErasing) -> None:
        """Paid goods not handed over would be orphaned: the erasure waits for them."""
        page = await uow.orders.search(
            PageRequest(MAX_PAGE_SIZE), member_id=event.member_id, statuses=tuple(PAID_STATES)
        )
        event.open_orders.extend(o.number for o in page.items)

    async def on_erased(uow: UnitOfWork, event: MemberErased) -> None:
        """Unpaid orders go with the account: cancelled, their stock and points released."""
        while True:
            page = await uow.orders.search(
                PageRequest(MAX_PAGE_SIZE),
                member_id=event.member_id,
                statuses=(OrderStatus.PENDING_PAYMENT,),
            )
            for found in page.items:
                order = await load(uow, found.id)
                if order.status is OrderStatus.PENDING_PAYMENT:
                    await cancel_in_uow(deps, uow, order, "SYSTEM", "account deleted", Effects())
            if not page.has_next:
                return

    events.register(ReservationsExpiring, on_expiring)
    events.register(ReservationExpired, on_expired)
    events.register(ReservationsAtRisk, on_at_risk)
    events.register(MembersMerged, on_merged)
    events.register(MemberErasing, on_erasing)
    events.register(MemberErased, on_erased)


EXPORT_PAGE = MAX_PAGE_SIZE


async def export_orders(
    uow: UnitOfWork, scope: ExportScope, after: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the orders section of a member's data export, delivery addresses read."""
    page = await uow.orders.search(PageRequest(EXPORT_PAGE, after), member_id=scope.member_id)
    items = [
        {
            "number": o.number,
            "status": o.status.value,
            "fulfilment": o.fulfilment.value,
            "total": o.total,
            "currency": o.currency,
            "createdAt": o.created_at.isoformat(),
            "deliveryAddress": scope.reveal(o.delivery_address) if o.delivery_address else None,
            "lines": [
                {"sku": x.sku, "name": x.name, "quantity": x.quantity, "unitPrice": x.unit_price}
                for x in o.lines
            ],
        }
        for o in page.items
    ]
    return items, page.keys[-1] if page.has_next else None
