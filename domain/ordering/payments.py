"""Paying for orders: start a payment with a provider, accept its signed notification once,
refund what arrives for an order that is no longer open, and take payment at the till."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from uuid import UUID

from domain.errors import OrderError, OrderErrorCode
from domain.events import OrderPaid
from domain.identity.model import DeviceKind, Principal, PrincipalKind
from domain.ids import new_id
from domain.inventory.reservations import extend_in_uow
from domain.loyalty.ledger import post_hold
from domain.ordering.deps import OrderingDeps
from domain.ordering.model import (
    Order,
    OrderStatus,
    Payment,
    PaymentKind,
    PaymentStatus,
)
from domain.ordering.ports import (
    PayChannel,
    PaymentNotice,
    PaymentProvider,
    PaymentQueryFailed,
    PaymentRequest,
    RefundNotice,
    WebhookRejected,
)
from domain.ordering.refunds import IN_STORE, apply_refund_notice, refund_in_uow
from domain.ordering.services import Effects, is_store_staff, load, move, notify
from domain.promotions.coupons_checkout import spend_in_uow
from domain.uow import UnitOfWork

log = logging.getLogger("omnishelf.payments")
PAID_HOLD = timedelta(days=30)  # paid goods stay held this long past their last deadline
IN_STORE_METHODS = frozenset({"CASH", "CARD", "WECHAT_PAY_QR", "ALIPAY_QR"})
LOST_AFTER = timedelta(minutes=3)  # a payment pending this long is asked about
# An unpaid order's stock waits this long past its payment deadline for the provider to close
# the payment attempt; after that the order is cancelled anyway (money that lands is refunded).
CLOSE_GRACE = timedelta(minutes=10)


async def pay_order(
    deps: OrderingDeps, actor: Principal, order_id: UUID, provider: str | None = None
) -> tuple[Order, PaymentRequest]:
    """What the client needs to pay, from `provider` (default: the first one enabled). The
    provider call happens outside any transaction."""
    name = provider if provider is not None else next(iter(deps.payments), "")
    gateway = deps.payments.get(name)
    if gateway is None:
        enabled = ", ".join(deps.payments) or "none: pay in store"
        raise OrderError(
            OrderErrorCode.INVALID_INPUT,
            f"Unknown payment provider {name!r}; this server takes {enabled}.",
            ["provider"],
        )
    async with deps.uow() as uow:
        order = await load(uow, order_id, lock=False)
        channel = _channel(actor, order)
        if order.status is not OrderStatus.PENDING_PAYMENT:
            raise OrderError(
                OrderErrorCode.PAYMENT_NOT_ALLOWED,
                f"The order is {order.status.value}; nothing to pay.",
                ["orderId"],
            )
        pending = await _resumable(deps, uow, order, gateway, channel)
    if pending is not None:
        return order, replace(await gateway.start(order, pending.id, channel), provider=name)
    payment_id = new_id()
    request = replace(await gateway.start(order, payment_id, channel), provider=name)
    async with deps.uow() as uow:
        # The goods stay held until the attempt is closed at the provider (cancel_unpaid),
        # not only until the deadline: nobody can pay for goods already released.
        if order.payment_deadline is not None:
            hold = order.payment_deadline + CLOSE_GRACE - deps.clock.now()
            await extend_in_uow(
                deps.inventory, uow, order.reservation_owner, max(hold, CLOSE_GRACE)
            )
        await uow.orders.add_payment(
            Payment(
                payment_id,
                order.id,
                PaymentKind.PAYMENT,
                gateway.name,
                request.provider_ref,
                channel.value,
                order.amount_due,
                order.currency,
                PaymentStatus.PENDING,
                deps.clock.now(),
            )
        )
    return order, request


def _channel(actor: Principal, order: Order) -> PayChannel:
    """The member pays their own order in the mini-program; a store's kiosk shows a QR code
    for the orders of its store. To anyone else the order does not exist."""
    if actor.is_member and order.member_id == actor.id:
        return PayChannel.MINI_PROGRAM
    if (
        actor.kind is PrincipalKind.DEVICE
        and actor.device_kind is DeviceKind.KIOSK
        and order.location_id in actor.store_ids
    ):
        return PayChannel.KIOSK_QR
    raise OrderError(OrderErrorCode.NOT_FOUND, "Unknown order.", ["orderId"])


async def _resumable(
    deps: OrderingDeps,
    uow: UnitOfWork,
    order: Order,
    gateway: PaymentProvider,
    channel: PayChannel,
) -> Payment | None:
    """The order's newest pending attempt with this provider through this channel, if it is
    recent enough to be resumed (a repeated payOrder then asks the provider for the same
    transaction again)."""
    if not gateway.resume_within:
        return None
    since = deps.clock.now() - gateway.resume_within
    attempts = [
        p
        for p in await uow.orders.payments_of([order.id])
        if p.kind is PaymentKind.PAYMENT
        and p.provider == gateway.name
        and p.method == channel.value
        and p.status is PaymentStatus.PENDING
        and p.created_at > since
        and p.amount == order.amount_due
    ]
    return max(attempts, key=lambda p: p.created_at, default=None)


async def handle_notification(
    deps: OrderingDeps, provider: str, headers: Mapping[str, str], body: bytes
) -> str:
    """The provider's webhook. Returns what happened: paid, duplicate, refunded, mismatch;
    for a refund's notice: refund_completed, refund_failed, duplicate."""
    gateway = deps.payments.get(provider)
    if gateway is None:
        raise WebhookRejected(f"unknown provider {provider}")
    notice = gateway.parse_notification(headers, body)  # raises WebhookRejected
    if isinstance(notice, RefundNotice):
        return await apply_refund_notice(deps, gateway.name, notice)
    return await apply_notice(deps, gateway.name, notice)


async def recover_lost_notices(deps: OrderingDeps, batch: int = 500) -> int:
    """Ask the provider about online payments pending for more than LOST_AFTER (the
    notification may never come) and apply each answer as its notification would be; returns
    how many were paid. Reads first, so no transaction is open while the provider is asked."""
    now = deps.clock.now()
    async with deps.uow() as uow:
        # Orders placed more than LOST_AFTER ago: their deadline is that much nearer than a
        # new order's (the index of the payment-timeout job serves this read).
        orders = await uow.orders.due(
            OrderStatus.PENDING_PAYMENT,
            "payment_deadline",
            now + deps.policy.payment_timeout - LOST_AFTER,
            batch,
            lock=False,
        )
        payments = await uow.orders.payments_of([o.id for o in orders])
    paid = 0
    for payment in payments:
        gateway = deps.payments.get(payment.provider)
        if (
            gateway is None
            or payment.kind is not PaymentKind.PAYMENT
            or payment.status is not PaymentStatus.PENDING
            or payment.created_at > now - LOST_AFTER
        ):
            continue
        try:
            notice = await gateway.query(payment.provider_ref)
        except PaymentQueryFailed as error:
            log.warning(
                "payment query failed",
                extra={"provider": gateway.name, "payment_id": str(payment.id), "why": str(error)},
            )
            continue
        if notice is not None and await apply_notice(deps, gateway.name, notice) == "paid":
            paid += 1
    return paid


async def close_attempts(deps: OrderingDeps, orders: Sequence[Order]) -> list[Order]:
    """Before unpaid orders are cancelled, close their pending payment attempts at the
    provider, so that nobody pays for goods and points already released. Returns the orders to
    cancel now: everything closed, or past CLOSE_GRACE with a provider that could not close
    (money that lands later is refunded). An attempt paid before it could be closed is applied
    as its notification would be: that order is paid, not cancelled. No transaction is open
    while a provider is asked."""
    async with deps.uow() as uow:
        payments = await uow.orders.payments_of([o.id for o in orders])
    attempts: dict[UUID, list[Payment]] = defaultdict(list)
    for payment in payments:
        if payment.kind is PaymentKind.PAYMENT and payment.status is PaymentStatus.PENDING:
            attempts[payment.order_id].append(payment)
    now, ready = deps.clock.now(), []
    for order in orders:
        outcome = await _close(deps, attempts[order.id])
        late = order.payment_deadline is None or order.payment_deadline + CLOSE_GRACE <= now
        if outcome == "closed" or (outcome == "open" and late):
            ready.append(order)
    return ready


async def close_cancelled(deps: OrderingDeps, order_id: UUID) -> None:
    """After an unpaid order was cancelled by someone, close its attempts at the provider
    (the cancel marked them CLOSED on our side); a payment that landed meanwhile is
    refunded as it is applied."""
    async with deps.uow() as uow:
        payments = await uow.orders.payments_of([order_id])
    await _close(
        deps,
        [p for p in payments if p.kind is PaymentKind.PAYMENT and p.status is PaymentStatus.CLOSED],
    )


async def _close(deps: OrderingDeps, attempts: Sequence[Payment]) -> str:
    """closed: none can be paid any more; paid: one was (applied); open: a provider could not
    close one (asked again on the next run)."""
    outcome = "closed"
    for attempt in attempts:
        gateway = deps.payments.get(attempt.provider)
        if gateway is None:
            continue
        try:
            notice = await gateway.close(attempt.provider_ref)
        except PaymentQueryFailed as error:
            log.warning(
                "payment close failed",
                extra={"provider": gateway.name, "payment_id": str(attempt.id), "why": str(error)},
            )
            outcome = "open" if outcome == "closed" else outcome
            continue
        if notice is not None:
            await apply_notice(deps, gateway.name, notice)
            outcome = "paid"
    return outcome


async def apply_notice(deps: OrderingDeps, provider: str, notice: PaymentNotice) -> str:
    """What the provider reported (by notification or when asked), applied once. Returns what
    happened: paid, duplicate, refunded, ignored, unknown, mismatch."""
    effects = Effects()
    async with deps.uow() as uow:
        payment = await uow.orders.payment_by_ref(provider, notice.provider_ref)
        if payment is None or payment.kind is not PaymentKind.PAYMENT:
            log.warning("payment notice for unknown payment", extra={"ref": notice.provider_ref})
            return "unknown"
        if not notice.succeeded:
            return "ignored"
        if notice.amount != payment.amount or notice.currency != payment.currency:
            log.error(
                "payment amount differs from the order; refused",
                extra={
                    "order_id": str(payment.order_id),
                    "expected": payment.amount,
                    "notified": notice.amount,
                },
            )
            return "mismatch"
        if not await uow.orders.complete_payment(payment.id, deps.clock.now()):
            return "duplicate"
        order = await load(uow, payment.order_id)
        if order.status is not OrderStatus.PENDING_PAYMENT:
            # Paid after it was cancelled (or paid twice): keep the order, give the money back.
            why = f"payment arrived when order was {order.status.value}"
            await refund_in_uow(deps, uow, order, payment, payment.amount, why, suffix="refunded")
            return "refunded"
        await mark_paid(deps, uow, order, "PROVIDER:" + provider, effects)
    await effects.publish(deps.live)
    return "paid"


async def mark_paid(
    deps: OrderingDeps, uow: UnitOfWork, order: Order, actor: str, effects: Effects
) -> None:
    now = deps.clock.now()
    deadline = now + deps.policy.pickup_window
    await move(deps, uow, order, OrderStatus.PAID, actor, "payment received", effects, paid_at=now)
    # Paid goods stay held while the store prepares or ships them (however long that
    # takes); marking the order ready re-sets the hold to its pickup deadline.
    await hold_paid_goods(deps, uow, order, deadline)
    await post_hold(deps.loyalty, uow, order.reservation_owner, actor)  # points, phase two
    if order.coupon_discount:
        await spend_in_uow(uow, order.id, now)  # its coupons are used
    await notify(deps, uow, order, "ORDER_PAID", "paid", total=str(order.amount_due))
    paid = OrderPaid(order.id)  # a group-buy counts the seat paid
    await deps.events.dispatch(uow, paid)
    effects.events.extend(paid.live)


async def hold_paid_goods(
    deps: OrderingDeps, uow: UnitOfWork, order: Order, deadline: datetime
) -> None:
    """Keep the order's stock held PAID_HOLD past its deadline, so the reservation sweeper
    never releases paid goods before the order's own jobs (unclaimed, cancel) do."""
    ttl = deadline + PAID_HOLD - deps.clock.now()
    await extend_in_uow(deps.inventory, uow, order.reservation_owner, ttl)


async def record_in_store_payment(
    deps: OrderingDeps, actor: Principal, order_id: UUID, method: str, amount: int
) -> Order:
    if method not in IN_STORE_METHODS:
        raise OrderError(
            OrderErrorCode.INVALID_INPUT,
            f"`method` is one of {', '.join(sorted(IN_STORE_METHODS))}.",
            ["method"],
        )
    effects = Effects()
    async with deps.uow() as uow:
        order = await load(uow, order_id)
        if not is_store_staff(actor, order.location_id):
            raise OrderError(
                OrderErrorCode.FORBIDDEN, "Only the fulfilling store takes payment.", ["orderId"]
            )
        if order.status is not OrderStatus.PENDING_PAYMENT:
            raise OrderError(
                OrderErrorCode.PAYMENT_NOT_ALLOWED,
                f"The order is {order.status.value}.",
                ["orderId"],
            )
        if amount != order.amount_due:
            raise OrderError(
                OrderErrorCode.AMOUNT_MISMATCH,
                f"The order's amount due is {order.amount_due} fen; {amount} was entered.",
                ["amount"],
            )
        await pay_in_uow(
            deps, uow, order, IN_STORE, f"store:{new_id()}", method, actor.label, effects
        )
    await effects.publish(deps.live)
    return order


async def pay_in_uow(
    deps: OrderingDeps,
    uow: UnitOfWork,
    order: Order,
    provider: str,
    provider_ref: str,
    method: str,
    actor: str,
    effects: Effects,
) -> None:
    """Money for the whole amount due was taken (at the till, or by a subscription's
    agreement): record the payment and mark the order paid."""
    now = deps.clock.now()
    await uow.orders.add_payment(
        Payment(
            new_id(),
            order.id,
            PaymentKind.PAYMENT,
            provider,
            provider_ref,
            method,
            order.amount_due,
            order.currency,
            PaymentStatus.SUCCEEDED,
            now,
            now,
        )
    )
    await mark_paid(deps, uow, order, actor, effects)
