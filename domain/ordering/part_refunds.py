"""Giving back part of what an order's payment took: a prepaid subscription cancelled with
deliveries left (the prepayment paid for N, fewer were delivered). Recorded as a refund of the
payment, REFUND_PENDING, like every refund; the provider call is the refund job's."""

from __future__ import annotations

from domain.errors import OrderError, OrderErrorCode
from domain.ids import new_id
from domain.ordering.deps import OrderingDeps
from domain.ordering.model import Order, Payment, PaymentKind, PaymentStatus
from domain.ordering.services import notify
from domain.uow import UnitOfWork


async def refund_part_in_uow(
    deps: OrderingDeps, uow: UnitOfWork, order: Order, amount: int, reference: str, why: str
) -> Payment:
    """Refund `amount` of the order's successful payment, once per `reference` (the unique
    provider reference makes a repeat fail rather than refund twice); never more than the
    payment less what was refunded of it already."""
    payments = await uow.orders.payments_of([order.id])
    paid = [
        p for p in payments if p.kind is PaymentKind.PAYMENT and p.status is PaymentStatus.SUCCEEDED
    ]
    if len(paid) != 1:
        raise OrderError(
            OrderErrorCode.PAYMENT_NOT_ALLOWED, "The order has no single payment to refund."
        )
    [payment] = paid
    prefix = f"refund:{payment.provider_ref}"
    refunded = sum(
        p.amount
        for p in payments
        if p.kind is PaymentKind.REFUND and p.provider_ref.startswith(prefix)
    )
    if not 0 < amount <= payment.amount - refunded:
        raise OrderError(
            OrderErrorCode.AMOUNT_MISMATCH,
            f"{amount} fen is more than the {payment.amount - refunded} fen left to refund.",
        )
    refund = Payment(
        new_id(),
        order.id,
        PaymentKind.REFUND,
        payment.provider,
        f"{prefix}:{reference}"[:100],
        payment.method,
        amount,
        payment.currency,
        PaymentStatus.REFUND_PENDING,
        deps.clock.now(),
    )
    await uow.orders.add_payment(refund)
    await notify(
        deps, uow, order, "ORDER_REFUNDED", f"refunded:{reference}", amount=str(amount), reason=why
    )
    return refund
