"""Refunds that complete. A refund is a REFUND row of the order's payments, one per refund
(several partial refunds of one payment each have their own row and out_refund_no):

    REFUND_PENDING -> REFUND_SUBMITTED -> REFUNDED
          |  (failed: retried with backoff)   \\-> REFUND_FAILED (ABNORMAL, CLOSED)
          \\-> REFUND_FAILED (refused, or retries ran out; CS sees the provider's reason)
    REFUND_AT_TILL -> REFUNDED: money taken at the till goes back at the till, a task for the
          store; its staff confirm it (`confirm_till_refund`).
    REFUND_FAILED: CS records it again (`retry_refund`): a new refund of its amount, once.

Recording a refund joins the caller's transaction; `process_refunds` (a job) submits pending
ones and asks about submitted ones outside any transaction, after claiming each with a
conditional update, so two workers never submit one refund twice."""

from __future__ import annotations

import logging
from datetime import timedelta
from uuid import UUID

from domain.errors import OrderError, OrderErrorCode
from domain.events import PaymentReturned, RefundCompleted, RefundRetried
from domain.identity.model import Principal
from domain.ids import new_id
from domain.ordering.deps import OrderingDeps
from domain.ordering.model import (
    REFUND_OWED,
    Order,
    Payment,
    PaymentKind,
    PaymentStatus,
)
from domain.ordering.ports import RefundFailed, RefundNotice, RefundState, RefundSubmitted
from domain.ordering.services import is_cs, is_store_staff, load, notify
from domain.uow import UnitOfWork

log = logging.getLogger("omnishelf.refunds")
IN_STORE = "IN_STORE"  # the provider of payments taken at the till
# After a failed submission, the next one waits this long (then the refund is REFUND_FAILED).
RETRY_BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
)
MAX_SUBMISSIONS = len(RETRY_BACKOFF) + 1
POLL_AFTER = timedelta(minutes=1)  # a submitted refund not notified is asked about this often
LEASE = timedelta(minutes=5)  # a claimed refund waits this long if its worker dies
BATCH = 100
SUBMIT_REASON = "order refund"


def out_refund_no(refund_id: UUID) -> str:
    """The refund's number at the provider (WeChat: 6-64 of [0-9A-Za-z_-|*@])."""
    return f"rf_{refund_id.hex}"


def refundable(payment: Payment, payments: list[Payment]) -> int:
    """What is left to refund of `payment`: paid less every refund not failed."""
    owed = sum(
        p.amount
        for p in payments
        if p.kind is PaymentKind.REFUND and p.refund_of == payment.id and p.status in REFUND_OWED
    )
    return payment.amount - owed


async def refund_in_uow(
    deps: OrderingDeps,
    uow: UnitOfWork,
    order: Order,
    payment: Payment,
    amount: int,
    why: str,
    *,
    suffix: str | None = None,
) -> Payment:
    """Record a refund of `amount` of `payment` (the order is locked by the caller, so two
    refunds of one payment cannot both pass the check). Till payments become a task for the
    store (REFUND_AT_TILL); the others wait for `process_refunds`."""
    payments = await uow.orders.payments_of([order.id])
    payment = next((p for p in payments if p.id == payment.id), payment)  # as stored now
    left = refundable(payment, payments)
    if (
        payment.kind is not PaymentKind.PAYMENT
        or payment.status is not PaymentStatus.SUCCEEDED
        or payment.order_id != order.id
    ):
        raise OrderError(OrderErrorCode.PAYMENT_NOT_ALLOWED, "Nothing was paid.", ["paymentId"])
    if not 0 < amount <= left:
        raise OrderError(
            OrderErrorCode.AMOUNT_MISMATCH,
            f"A refund of this payment is 1 to {left} fen; {amount} was asked.",
            ["amount"],
        )
    now = deps.clock.now()
    refund_id = new_id()
    at_till, settled = payment.provider == IN_STORE, False
    if not at_till and payment.provider not in deps.refunds:
        returned = PaymentReturned(
            order.id, payment.id, payment.provider, payment.provider_ref, amount, why
        )
        await deps.events.dispatch(uow, returned)
        settled = payment.id in returned.settled
    status = PaymentStatus.REFUND_PENDING
    if at_till or settled:
        status = PaymentStatus.REFUND_AT_TILL if at_till else PaymentStatus.REFUNDED
    refund = Payment(
        refund_id,
        order.id,
        PaymentKind.REFUND,
        payment.provider,
        out_refund_no(refund_id),
        payment.method,
        amount,
        payment.currency,
        status,
        now,
        completed_at=now if settled else None,
        refund_of=payment.id,
        attempts=1 if settled else 0,  # submitted once: to the context that took it
        next_attempt_at=None if at_till or settled else now,
    )
    await uow.orders.add_payment(refund)
    if settled:  # no money moved: the context that took the payment tells the member
        await deps.events.dispatch(uow, RefundCompleted(order.id, refund.id))
        return refund
    await notify(
        deps,
        uow,
        order,
        "ORDER_REFUNDED",
        suffix or f"refund:{refund_id.hex}",
        amount=str(amount),
        reason=why,
    )
    return refund


async def refund_paid(deps: OrderingDeps, uow: UnitOfWork, order: Order, why: str) -> None:
    """Refund what is left of every successful payment of the order (all of it, less any
    partial refund before); the provider call is a job."""
    payments = await uow.orders.payments_of([order.id])
    for payment in payments:
        if payment.kind is PaymentKind.PAYMENT and payment.status is PaymentStatus.SUCCEEDED:
            left = refundable(payment, payments)
            if left > 0:
                await refund_in_uow(deps, uow, order, payment, left, why, suffix="refunded")


async def refund_payment(
    deps: OrderingDeps, order_id: UUID, payment_id: UUID, amount: int, why: str
) -> Payment:
    """A (partial) refund of one payment of the order, in its own transaction."""
    async with deps.uow() as uow:
        order = await load(uow, order_id)
        payment = next(
            (p for p in await uow.orders.payments_of([order.id]) if p.id == payment_id), None
        )
        if payment is None:
            raise OrderError(OrderErrorCode.NOT_FOUND, "Unknown payment.", ["paymentId"])
        return await refund_in_uow(deps, uow, order, payment, amount, why)


async def process_refunds(deps: OrderingDeps, limit: int = BATCH) -> int:
    """The refund job: submit due REFUND_PENDING refunds, ask about REFUND_SUBMITTED ones
    not notified. Returns how many it handled."""
    now = deps.clock.now()
    async with deps.uow() as uow:
        due = await uow.orders.refunds_due(now, limit)
    handled = 0
    for refund in due:
        try:
            handled += await _attempt(deps, refund)
        except Exception:  # one provider error must not stop the batch; the lease retries it
            log.exception("refund attempt failed", extra={"refund_id": str(refund.id)})
    return handled


async def _attempt(deps: OrderingDeps, refund: Payment) -> int:
    now = deps.clock.now()
    async with deps.uow() as uow:
        if not await uow.orders.claim_refund(refund, now + LEASE):
            return 0  # another worker has it
        paid = next(
            (
                p
                for p in await uow.orders.payments_of([refund.order_id])
                if p.id == refund.refund_of
            ),
            None,
        )
    attempts = refund.attempts + 1
    gateway = deps.refunds.get(refund.provider)
    if gateway is None or paid is None:
        why = f"{refund.provider} cannot refund" if paid else "the refunded payment is missing"
        return await _settle(deps, refund, PaymentStatus.REFUND_FAILED, reason=why)
    if refund.status is PaymentStatus.REFUND_SUBMITTED:
        state, why = await gateway.refund_status(refund.provider_ref)
        return await _apply_state(deps, refund, state, why)
    result = await gateway.submit_refund(paid, refund.provider_ref, refund.amount, SUBMIT_REASON)
    if isinstance(result, RefundSubmitted):
        if result.done:
            return await _settle(deps, refund, PaymentStatus.REFUNDED)
        return await _settle(deps, refund, PaymentStatus.REFUND_SUBMITTED, poll=True)
    return await _failed(deps, refund, result, attempts)


async def _failed(deps: OrderingDeps, refund: Payment, result: RefundFailed, attempts: int) -> int:
    if result.retry and attempts < MAX_SUBMISSIONS:
        wait = RETRY_BACKOFF[attempts - 1]
        async with deps.uow() as uow:
            await uow.orders.settle_refund(
                refund.id,
                refund.status,
                refund.status,
                reason=result.reason,
                next_attempt_at=deps.clock.now() + wait,
            )
        return 1
    log.warning("refund failed", extra={"refund_id": str(refund.id), "why": result.reason})
    return await _settle(deps, refund, PaymentStatus.REFUND_FAILED, reason=result.reason)


async def _apply_state(deps: OrderingDeps, refund: Payment, state: RefundState, why: str) -> int:
    if state is RefundState.SUCCESS:
        return await _settle(deps, refund, PaymentStatus.REFUNDED)
    if state is RefundState.PROCESSING:
        return await _settle(deps, refund, refund.status, poll=True)
    return await _settle(deps, refund, PaymentStatus.REFUND_FAILED, reason=why or state.value)


async def _settle(
    deps: OrderingDeps,
    refund: Payment,
    to: PaymentStatus,
    *,
    reason: str = "",
    poll: bool = False,
) -> int:
    now = deps.clock.now()
    async with deps.uow() as uow:
        moved = await uow.orders.settle_refund(
            refund.id,
            refund.status,
            to,
            reason=reason,
            next_attempt_at=now + POLL_AFTER if poll else None,
            completed_at=now if to is PaymentStatus.REFUNDED else None,
        )
        if moved and to is PaymentStatus.REFUNDED:
            await deps.events.dispatch(uow, RefundCompleted(refund.order_id, refund.id))
    return int(moved)


async def apply_refund_notice(deps: OrderingDeps, provider: str, notice: RefundNotice) -> str:
    """A provider's refund notification: SUCCESS completes the refund, ABNORMAL and CLOSED
    fail it with the provider's reason. A repeat (or one the poll already applied) is a
    duplicate."""
    async with deps.uow() as uow:
        refund = await uow.orders.payment_by_ref(provider, notice.out_refund_no)
        if refund is None or refund.kind is not PaymentKind.REFUND:
            log.warning("refund notice for unknown refund", extra={"ref": notice.out_refund_no})
            return "unknown"
        if notice.state is RefundState.PROCESSING:
            return "ignored"
        success = notice.state is RefundState.SUCCESS
        to = PaymentStatus.REFUNDED if success else PaymentStatus.REFUND_FAILED
        now = deps.clock.now()
        # Submitted, or still pending when the notice overtook our record of the submission.
        for frm in (PaymentStatus.REFUND_SUBMITTED, PaymentStatus.REFUND_PENDING):
            if await uow.orders.settle_refund(
                refund.id,
                frm,
                to,
                reason="" if success else (notice.reason or notice.state.value),
                completed_at=now if success else None,
            ):
                if success:
                    await deps.events.dispatch(uow, RefundCompleted(refund.order_id, refund.id))
                return "refund_completed" if success else "refund_failed"
    return "duplicate"


async def refund_part_in_uow(
    deps: OrderingDeps, uow: UnitOfWork, order: Order, amount: int, reference: str, why: str
) -> Payment:
    """Give back `amount` of an order paid once: a prepaid subscription cancelled with
    deliveries left (the prepayment paid for N, fewer were delivered). The caller's lock (the
    subscription's) makes it once per `reference`; `refund_in_uow` keeps it within what is
    left of the payment."""
    payments = await uow.orders.payments_of([order.id])
    paid = [
        p for p in payments if p.kind is PaymentKind.PAYMENT and p.status is PaymentStatus.SUCCEEDED
    ]
    if len(paid) != 1:
        raise OrderError(
            OrderErrorCode.PAYMENT_NOT_ALLOWED, "The order has no single payment to refund."
        )
    return await refund_in_uow(
        deps, uow, order, paid[0], amount, why, suffix=f"refunded:{reference}"
    )


async def _refund_for(uow: UnitOfWork, refund_id: UUID) -> tuple[Order, Payment]:
    """The refund and its order, locked (the lock of the order's money)."""
    found = await uow.orders.get_payment(refund_id)
    if found is None or found.kind is not PaymentKind.REFUND:
        raise OrderError(OrderErrorCode.NOT_FOUND, "Unknown refund.", ["paymentId"])
    order = await load(uow, found.order_id)
    refund = await uow.orders.get_payment(refund_id)  # as it is now we hold the lock
    assert refund is not None
    return order, refund


async def confirm_till_refund(deps: OrderingDeps, actor: Principal, refund_id: UUID) -> Payment:
    """The store paid a REFUND_AT_TILL refund back over the counter (its staff or till say so):
    REFUNDED, and `RefundCompleted` like any refund whose money is back (an after-sale
    completes). A second confirmation is ILLEGAL_TRANSITION."""
    async with deps.uow() as uow:
        order, refund = await _refund_for(uow, refund_id)
        if not is_store_staff(actor, order.location_id):
            raise OrderError(OrderErrorCode.NOT_FOUND, "Unknown refund.", ["paymentId"])
        now = deps.clock.now()
        if refund.status is not PaymentStatus.REFUND_AT_TILL or not await uow.orders.settle_refund(
            refund.id, PaymentStatus.REFUND_AT_TILL, PaymentStatus.REFUNDED, completed_at=now
        ):
            raise OrderError(
                OrderErrorCode.ILLEGAL_TRANSITION,
                f"The refund is {refund.status.value}: only one given back at the till is "
                "confirmed there.",
                ["paymentId"],
            )
        await deps.events.dispatch(uow, RefundCompleted(order.id, refund.id))
        refund.status, refund.completed_at = PaymentStatus.REFUNDED, now
        return refund


async def retry_refund(deps: OrderingDeps, actor: Principal, refund_id: UUID) -> Payment:
    """CS records a REFUND_FAILED refund again: a new refund of the same payment for its amount
    (a failed refund gave nothing back), through `refund_in_uow` like every refund, so never
    more than the payment has left (else AMOUNT_MISMATCH). A failed refund is retried once
    (`mark_retried`, a conditional update); `RefundRetried` lets an after-sale follow it."""
    if not is_cs(actor):
        raise OrderError(OrderErrorCode.FORBIDDEN, "CS retries refunds.", ["paymentId"])
    async with deps.uow() as uow:
        order, failed = await _refund_for(uow, refund_id)
        if failed.status is not PaymentStatus.REFUND_FAILED or failed.retried_by is not None:
            done = "retried already" if failed.retried_by else failed.status.value
            raise OrderError(
                OrderErrorCode.ILLEGAL_TRANSITION,
                f"The refund is {done}: only a failed refund is retried, once.",
                ["paymentId"],
            )
        paid = next(p for p in await uow.orders.payments_of([order.id]) if p.id == failed.refund_of)
        why = f"retry of {failed.provider_ref}"
        refund = await refund_in_uow(deps, uow, order, paid, failed.amount, why)
        if not await uow.orders.mark_retried(failed.id, refund.id):
            raise OrderError(  # not reached under the order's lock; the unique key backs it
                OrderErrorCode.ILLEGAL_TRANSITION, "The refund was retried already.", ["paymentId"]
            )
        await deps.events.dispatch(uow, RefundRetried(order.id, failed.id, refund.id, actor.label))
        return refund


async def refund_settled_in_uow(uow: UnitOfWork, order_id: UUID, refund_id: UUID) -> bool:
    """Whether the order's refund `refund_id` is REFUNDED already (settled at once by the
    context that took the payment), for contexts that follow refunds."""
    payments = await uow.orders.payments_of([order_id])
    return any(p.id == refund_id and p.status is PaymentStatus.REFUNDED for p in payments)
