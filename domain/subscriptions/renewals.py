"""The renewal engine: each due cycle becomes exactly one order, whatever runs twice.

lead time before the delivery date          delivery date
───────┬──────────────────────────────────────────┬──────▶
       │ claim cycle (unique per number)           │
       │ + order at locked prices + stock reserved │ pickup / delivery lifecycle
       │ (one transaction, subscription row        │
       │  locked with SKIP LOCKED)                 │
       │ charge the agreement (subscription row    │
       │  locked, nothing else) ─ paid: next date  │
       │                        └ declined: PAST_DUE, retry 1 h / 1 d / 3 d,
       │                                   then PAUSED and the member told
"""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from domain.errors import DomainError
from domain.identity.model import Principal, PrincipalKind
from domain.ids import new_id
from domain.ordering.checkout import place_order
from domain.ordering.lifecycle import cancel_in_uow
from domain.ordering.model import Order, OrderStatus
from domain.ordering.payments import pay_in_uow
from domain.ordering.services import Effects, load
from domain.outbox import Notification, enqueue
from domain.subscriptions import prepaid
from domain.subscriptions.deps import SubscriptionDeps
from domain.subscriptions.model import Cycle, CycleStatus, Subscription, SubscriptionStatus
from domain.subscriptions.orders import checkout_of
from domain.subscriptions.ports import PaymentDeclined
from domain.subscriptions.services import local_today, record
from domain.uow import UnitOfWork


async def _notify(
    deps: SubscriptionDeps, uow: UnitOfWork, s: Subscription, kind: str, key: str, **data: str
) -> None:
    await enqueue(
        uow,
        deps.clock,
        [
            Notification(
                kind=kind,
                member_id=s.member_id,
                order_id=None,
                data={"subscription": str(s.id), **data},
                dedupe_key=f"subscription:{s.id}:{key}",
            )
        ],
    )


def _advance(s: Subscription) -> None:
    s.cycles_done += 1
    s.sequence += 1
    s.next_date = s.interval.after(s.anchor_date, s.cycles_done)


async def _order_cycle(deps: SubscriptionDeps, s: Subscription) -> Cycle | None:
    """Claim the next cycle and place its order, in one transaction (the caller's lock)."""
    now = deps.clock.now()
    async with deps.uow() as uow:
        locked = await uow.subscriptions.get(s.id, lock=True)
        if locked is None or locked.status is not SubscriptionStatus.ACTIVE:
            return None
        if locked.next_date > local_today(deps, locked.timezone) + deps.policy.lead_time:
            return None  # moved on since the candidates were read (paid, skipped, moved)
        cycle = Cycle(
            new_id(),
            s.id,
            locked.sequence + 1,
            locked.next_date,
            CycleStatus.PENDING,
            None,
            0,
            "",
            now,
            now,
        )
        if not await uow.subscriptions.claim_cycle(cycle):
            # Another worker has this cycle, or its order still waits for payment (paused
            # while past due, then resumed): charge that order (_charge re-checks it).
            waiting = await uow.subscriptions.open_cycle(s.id)
            return waiting if waiting is not None and waiting.number == cycle.number else None
        member = Principal(kind=PrincipalKind.MEMBER, id=locked.member_id)
        try:
            order = await place_order(
                deps.ordering,
                member,
                await checkout_of(deps, uow, locked),
                f"subscription:{locked.id}:{cycle.number}",
            )
        except DomainError as error:
            cycle.status, cycle.note = CycleStatus.SHORT, error.message[:200]
            await uow.subscriptions.save_cycle(cycle)
            await _notify(
                deps,
                uow,
                locked,
                "SUBSCRIPTION_SHORT",
                f"{cycle.number}:short",
                date=locked.next_date.isoformat(),
                reason=error.message[:100],
            )
            _advance(locked)
            await uow.subscriptions.save(locked)
            await record(deps, uow, locked, "CYCLE_SKIPPED", error.message, "SYSTEM")
            return None
        cycle.status, cycle.order_id, cycle.location_id = (
            CycleStatus.ORDERED,
            order.id,
            order.location_id,
        )
        await uow.subscriptions.save_cycle(cycle)
        await record(
            deps, uow, locked, "ORDERED", f"cycle {cycle.number} order {order.number}", "SYSTEM"
        )
    return cycle


async def _charge(deps: SubscriptionDeps, subscription_id: UUID, cycle: Cycle) -> str:
    """Charge the agreement for the cycle's order while holding the subscription row, so a
    pause or cancel waits for us and nothing is ever charged once they are recorded."""
    effects = Effects()
    async with deps.uow() as uow:
        s = await uow.subscriptions.get(subscription_id, lock=True)
        assert s is not None and cycle.order_id is not None
        order = await load(uow, cycle.order_id)
        if order.status is not OrderStatus.PENDING_PAYMENT:
            return await _settled_elsewhere(deps, uow, s, cycle, order)
        if prepaid.is_prepayment(s, cycle):
            return "awaiting_prepayment"  # the member pays it in the app (`payOrder`)
        if s.status not in (SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE):
            await cancel_in_uow(
                deps.ordering,
                uow,
                order,
                "SYSTEM",
                f"subscription {s.status.value.lower()}",
                effects,
            )
            cycle.status, cycle.note = CycleStatus.SKIPPED, f"subscription {s.status.value}"
            await uow.subscriptions.save_cycle(cycle)
            s.sequence += 1  # the number is used: after a resume the date gets a new cycle
            await uow.subscriptions.save(s)
            return "skipped"
        if (
            s.status is SubscriptionStatus.PAST_DUE
            and s.next_retry_at
            and s.next_retry_at > deps.clock.now()
        ):
            return "not_due"  # another worker retried a moment ago
        if s.prepaid:
            result = await _from_prepayment(deps, uow, s, cycle, order, effects)
        else:
            key = f"subscription:{s.id}:{cycle.number}"
            try:
                ref = await deps.agreements.withhold(
                    s.payment_agreement, order.amount_due, order.currency, key
                )
            except PaymentDeclined as declined:
                return await _declined(deps, uow, s, cycle, order, str(declined), effects)
            await pay_in_uow(
                deps.ordering, uow, order, deps.agreements.name, ref, "AGREEMENT", "SYSTEM", effects
            )
            s.status = SubscriptionStatus.ACTIVE
            result = await _paid(deps, uow, s, cycle, "")
    await effects.publish(deps.ordering.live)
    return result


async def _from_prepayment(
    deps: SubscriptionDeps,
    uow: UnitOfWork,
    s: Subscription,
    cycle: Cycle,
    order: Order,
    effects: Effects,
) -> str:
    """Pay a prepaid subscription's renewal order with one of its prepaid deliveries, unless
    the prepayment is gone (never paid, or refunded whole by ordering): then nothing is left
    to deliver from and the subscription ends."""
    gone = await prepaid.prepayment_gone(uow, s)
    if gone is None:
        await prepaid.use_delivery_in_uow(deps, uow, s, order, effects)
        return await _paid(deps, uow, s, cycle, f"prepaid {s.prepaid_used}/{s.prepaid_deliveries}")
    await cancel_in_uow(deps.ordering, uow, order, "SYSTEM", gone, effects)
    cycle.status, cycle.note = CycleStatus.SKIPPED, gone
    await uow.subscriptions.save_cycle(cycle)
    s.status, s.cancel_reason = SubscriptionStatus.CANCELLED, gone
    s.sequence += 1
    await uow.subscriptions.save(s)
    await record(deps, uow, s, "CANCELLED", gone, "SYSTEM")
    return "prepayment_gone"


async def _paid(
    deps: SubscriptionDeps, uow: UnitOfWork, s: Subscription, cycle: Cycle, note: str
) -> str:
    """The cycle's order is paid (charged, or from the prepayment): on to the next date; the
    last prepaid delivery ends the subscription."""
    cycle.status, cycle.attempts = CycleStatus.PAID, cycle.attempts + 1
    cycle.note = note or cycle.note
    await uow.subscriptions.save_cycle(cycle)
    s.failed_attempts, s.next_retry_at = 0, None
    _advance(s)
    await uow.subscriptions.save(s)
    await record(deps, uow, s, "PAID", f"cycle {cycle.number} {note}".strip(), "SYSTEM")
    if s.status is SubscriptionStatus.CANCELLED:
        await record(deps, uow, s, "ENDED", s.cancel_reason or "", "SYSTEM")
        return "prepaid_ended"
    return "prepaid" if s.prepaid else "paid"


async def _settled_elsewhere(
    deps: SubscriptionDeps, uow: UnitOfWork, s: Subscription, cycle: Cycle, order: Order
) -> str:
    """The order no longer waits for our charge: another worker settled the cycle, or the
    order was paid in the app or cancelled (member, CS, payment timeout) while past due, or
    it is a prepaid plan's first order, paid or not. Close a cycle left open exactly once, so
    the subscription moves on."""
    [current] = [c for c in await uow.subscriptions.cycles_of([s.id]) if c.number == cycle.number]
    if current.status is not CycleStatus.ORDERED:
        return "done"
    if prepaid.is_prepayment(s, current):
        return await _prepayment_settled(deps, uow, s, current, order)
    paid = order.status not in (OrderStatus.CANCELLED, OrderStatus.UNCLAIMED)
    current.status = CycleStatus.PAID if paid else CycleStatus.SKIPPED
    current.note = "paid outside the agreement" if paid else f"order {order.status.value.lower()}"
    await uow.subscriptions.save_cycle(current)
    if s.status is SubscriptionStatus.PAST_DUE:
        s.status, s.failed_attempts, s.next_retry_at = SubscriptionStatus.ACTIVE, 0, None
    _advance(s)
    await uow.subscriptions.save(s)
    what = "PAID" if paid else "CYCLE_SKIPPED"
    await record(deps, uow, s, what, f"cycle {cycle.number}: {current.note}", "SYSTEM")
    return "done"


async def _prepayment_settled(
    deps: SubscriptionDeps, uow: UnitOfWork, s: Subscription, cycle: Cycle, order: Order
) -> str:
    """A prepaid plan's first order paid is its first delivery used; cancelled (unpaid at the
    payment deadline, or called off and refunded whole) ends the subscription."""
    if order.paid_at is not None and order.status is not OrderStatus.CANCELLED:
        prepaid.used_one(s)
        return await _paid(deps, uow, s, cycle, f"prepaid 1/{s.prepaid_deliveries}")
    cycle.status, cycle.note = CycleStatus.SKIPPED, f"prepayment order {order.status.value}"
    await uow.subscriptions.save_cycle(cycle)
    s.status, s.cancel_reason = SubscriptionStatus.CANCELLED, "prepayment not paid"
    await uow.subscriptions.save(s)
    await record(deps, uow, s, "CANCELLED", "prepayment not paid", "SYSTEM")
    return "prepayment_cancelled"


async def _declined(
    deps: SubscriptionDeps,
    uow: UnitOfWork,
    s: Subscription,
    cycle: Cycle,
    order: object,
    why: str,
    effects: Effects,
) -> str:
    assert isinstance(order, Order)
    cycle.attempts += 1
    delays = deps.policy.retry_delays
    if s.failed_attempts < len(delays):
        s.status = SubscriptionStatus.PAST_DUE
        s.next_retry_at = deps.clock.now() + delays[s.failed_attempts]
        s.failed_attempts += 1
        cycle.note = f"declined: {why}"[:200]
        await uow.subscriptions.save_cycle(cycle)
        await uow.subscriptions.save(s)
        await record(deps, uow, s, "PAST_DUE", f"attempt {s.failed_attempts}: {why}", "SYSTEM")
        return "past_due"
    await cancel_in_uow(deps.ordering, uow, order, "SYSTEM", "subscription payment failed", effects)
    cycle.status, cycle.note = CycleStatus.FAILED, f"declined: {why}"[:200]
    await uow.subscriptions.save_cycle(cycle)
    s.status, s.next_retry_at = SubscriptionStatus.PAUSED, None
    _advance(s)
    await uow.subscriptions.save(s)
    await record(deps, uow, s, "PAUSED", "payment kept failing", "SYSTEM")
    await _notify(deps, uow, s, "SUBSCRIPTION_PAUSED", f"{cycle.number}:paused", reason=why[:100])
    return "paused"


async def renew_due(deps: SubscriptionDeps, batch: int = 100) -> dict[str, int]:
    """Job: order what is due within the lead time, retry what is past due."""
    now = deps.clock.now()
    outcome: dict[str, int] = {}
    async with deps.uow() as uow:
        # Widest local "today" first: the repository compares each row's own next date.
        horizon = (now + deps.policy.lead_time + timedelta(hours=14)).date()
        candidates = await uow.subscriptions.due(horizon, now, batch)
    for s in candidates:
        if s.status is SubscriptionStatus.ACTIVE:
            if s.next_date > local_today(deps, s.timezone) + deps.policy.lead_time:
                continue
            cycle = await _order_cycle(deps, s)
        else:
            async with deps.uow() as uow:
                cycle = await uow.subscriptions.open_cycle(s.id)
        if cycle is None:
            continue
        result = await _charge(deps, s.id, cycle)
        outcome[result] = outcome.get(result, 0) + 1
    return outcome


async def send_reminders(deps: SubscriptionDeps, batch: int = 200) -> int:
    """Job: tell members a renewal is coming (once per cycle: the dedupe key). Walks every
    due subscription in id order, a batch per transaction, so none is left out however many."""
    sent, after = 0, None
    by = (deps.clock.now() + deps.policy.reminder_before).date()
    while True:
        async with deps.uow() as uow:
            due = await uow.subscriptions.reminders_due(by, batch, after)
            for s in due:
                await _notify(
                    deps,
                    uow,
                    s,
                    "SUBSCRIPTION_REMINDER",
                    f"{s.sequence + 1}:reminder",
                    date=s.next_date.isoformat(),
                    total=str(s.total),
                )
                sent += 1
        if len(due) < batch:
            break
        after = due[-1].id
    return sent
