"""Prepaid plans (周期购): the member pays N deliveries up front, with the normal `payOrder`.

sign-up ──▶ cycle 1's order, its lines at N x the locked price (the prepayment: the goods of
            one delivery, the money of N); the member pays it in the app
cycle 1 ──▶ the engine finds that order paid: one delivery used
cycle k ──▶ the renewal order is paid from the prepayment (provider `prepaid`, no charge):
            one delivery used; the N-th ends the subscription
skip    ──▶ a SKIPPED cycle uses nothing: the run extends
cancel  ──▶ the unused deliveries x the locked price are refunded from the prepayment's
            payment (REFUND_PENDING, the refund job submits it)
a renewal order cancelled or not collected ──▶ its delivery goes back to the run (its cycle
            SKIPPED); once the run is over, its money comes back from the prepayment

Every step holds the subscription row's lock, so a renewal and a cancel are serialised: a
delivery is either used or refunded, never both.
"""

from __future__ import annotations

from uuid import UUID

from domain.errors import DomainError, SubscriptionError, SubscriptionErrorCode
from domain.events import PaymentReturned
from domain.identity.model import Principal, PrincipalKind
from domain.ids import new_id
from domain.ordering.checkout import place_order
from domain.ordering.lifecycle import cancel_in_uow
from domain.ordering.model import Order, OrderStatus
from domain.ordering.payments import pay_in_uow
from domain.ordering.refunds import refund_part_in_uow
from domain.ordering.services import Effects, load
from domain.subscriptions.deps import SubscriptionDeps
from domain.subscriptions.model import (
    Cycle,
    CycleStatus,
    Subscription,
    SubscriptionChange,
    SubscriptionStatus,
)
from domain.subscriptions.orders import checkout_of
from domain.uow import Contended, UnitOfWork

PROVIDER = "prepaid"  # the payment of a renewal order the prepayment covers
METHOD = "PREPAID"
# The prepayment order can no longer be called off: its goods are on their way to the member.
_UNDER_WAY = frozenset(
    {
        OrderStatus.READY_FOR_PICKUP,
        OrderStatus.PICKED_UP,
        OrderStatus.SHIPPED,
        OrderStatus.DELIVERED,
        OrderStatus.UNCLAIMED,
    }
)


async def place_prepayment_in_uow(
    deps: SubscriptionDeps, uow: UnitOfWork, s: Subscription
) -> Order:
    """Cycle 1's order, priced for every prepaid delivery; claims cycle 1 with it."""
    member = Principal(kind=PrincipalKind.MEMBER, id=s.member_id)
    try:
        order = await place_order(
            deps.ordering,
            member,
            await checkout_of(deps, uow, s, s.prepaid_deliveries),
            f"subscription:{s.id}:1",
        )
    except DomainError as error:
        raise SubscriptionError(
            SubscriptionErrorCode.FIRST_ORDER_REFUSED,
            f"The first delivery cannot be ordered: {error.message}",
            ["lines"],
        ) from error
    now = deps.clock.now()
    cycle = Cycle(new_id(), s.id, 1, s.next_date, CycleStatus.PENDING, None, 0, "", now, now)
    claimed = await uow.subscriptions.claim_cycle(cycle)
    assert claimed, "a new subscription has no cycles"
    cycle.status, cycle.order_id, cycle.note = CycleStatus.ORDERED, order.id, "prepayment"
    cycle.location_id = order.location_id
    await uow.subscriptions.save_cycle(cycle)
    s.prepayment_order_id = order.id
    return order


# A paid order in these states was refunded whole by ordering (cancel, not collected).
_REFUNDED_WHOLE = frozenset({OrderStatus.CANCELLED, OrderStatus.UNCLAIMED})


async def prepayment_gone(uow: UnitOfWork, s: Subscription) -> str | None:
    """Why nothing is left to deliver from (None: the prepayment stands): its order was
    cancelled unpaid, or ordering refunded it whole (cancelled or left unclaimed once paid)."""
    assert s.prepayment_order_id is not None
    order = await load(uow, s.prepayment_order_id, lock=False)
    if order.status not in _REFUNDED_WHOLE:
        return None
    return "prepayment refunded" if order.paid_at is not None else "prepayment not paid"


def is_prepayment(s: Subscription, cycle: Cycle) -> bool:
    return s.prepaid and cycle.order_id is not None and cycle.order_id == s.prepayment_order_id


async def use_delivery_in_uow(
    deps: SubscriptionDeps, uow: UnitOfWork, s: Subscription, order: Order, effects: Effects
) -> None:
    """Pay a renewal order from the prepayment (the caller holds the subscription's lock and
    checked a delivery is left); the last one ends the subscription."""
    assert s.prepaid_left > 0
    await pay_in_uow(
        deps.ordering,
        uow,
        order,
        PROVIDER,
        f"{PROVIDER}:{s.id}:{order.id}",
        METHOD,
        "SYSTEM",
        effects,
    )
    used_one(s)


def used_one(s: Subscription) -> None:
    s.prepaid_used += 1
    if s.prepaid_left == 0:
        s.status = SubscriptionStatus.CANCELLED
        s.cancel_reason = f"all {s.prepaid_deliveries} prepaid deliveries ordered"


async def settle_cancelled_in_uow(
    deps: SubscriptionDeps,
    uow: UnitOfWork,
    s: Subscription,
    actor: str,
    why: str,
    effects: Effects,
) -> int:
    """A prepaid subscription was cancelled (the caller holds its lock): call off a first order
    not under way yet (ordering refunds it whole, if paid) or refund the unused deliveries
    from its payment. Returns the fen refunded here."""
    if s.prepayment_order_id is None:
        return 0
    [first] = [c for c in await uow.subscriptions.cycles_of([s.id]) if c.number == 1]
    order = await load(uow, s.prepayment_order_id)
    if first.status is CycleStatus.ORDERED:
        if order.status is OrderStatus.CANCELLED:
            return 0  # never paid, or refunded whole when it was cancelled
        if order.status not in _UNDER_WAY:
            await cancel_in_uow(deps.ordering, uow, order, actor, why, effects)
            first.status, first.note = CycleStatus.SKIPPED, "subscription cancelled"
            await uow.subscriptions.save_cycle(first)
            return 0
        # Its goods are under way: that delivery is used.
        first.status, first.note = CycleStatus.PAID, "prepayment"
        await uow.subscriptions.save_cycle(first)
        s.prepaid_used += 1
    unused = s.prepaid_deliveries - s.prepaid_used
    if unused <= 0 or order.paid_at is None or order.status in _REFUNDED_WHOLE:
        return 0
    amount = unused * s.total
    await refund_part_in_uow(deps.ordering, uow, order, amount, f"subscription:{s.id}", why)
    return amount


def register_handlers(deps: SubscriptionDeps) -> None:
    async def on_returned(uow: UnitOfWork, event: PaymentReturned) -> None:
        """A renewal order paid from the prepayment was cancelled or not collected. Ordering
        holds that order's lock (and stock's), which come after a subscription's in the lock
        order: a subscription someone holds is not waited for, the cancel runs again."""
        if event.provider != PROVIDER:
            return
        subscription_id = UUID(event.provider_ref.split(":")[1])
        s = await uow.subscriptions.get(subscription_id, lock=True, skip_locked=True)
        if s is None and await uow.subscriptions.get(subscription_id) is not None:
            raise Contended("the subscription is being renewed or changed")
        if s is None or not s.prepaid:
            return
        if s.status is not SubscriptionStatus.CANCELLED and s.prepaid_used > 0:
            s.prepaid_used -= 1  # the run extends by the delivery the member did not get
            for cycle in await uow.subscriptions.cycles_of_orders([event.order_id]):
                cycle.status, cycle.note = CycleStatus.SKIPPED, f"order called off: {event.why}"
                await uow.subscriptions.save_cycle(cycle)
            detail = f"delivery returned ({s.prepaid_left} left): {event.why}"
        elif s.prepayment_order_id is not None:
            # The run is over: the delivery's money comes back from the prepayment.
            prepayment = await load(uow, s.prepayment_order_id)
            try:
                await refund_part_in_uow(
                    deps.ordering, uow, prepayment, event.amount, event.order_id.hex, event.why
                )
            except DomainError:
                return  # nothing left to refund from: the refund waits, visible to CS
            detail = f"delivery refunded from the prepayment: {event.why}"
        else:
            return
        now = deps.clock.now()
        s.updated_at = now
        await uow.subscriptions.save(s)
        await uow.subscriptions.add_change(
            SubscriptionChange(new_id(), s.id, "DELIVERY_RETURNED", detail[:200], "SYSTEM", now)
        )
        event.settled.add(event.payment_id)

    deps.events.register(PaymentReturned, on_returned)
