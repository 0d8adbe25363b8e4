"""An in-memory `OrderRepository`: transitions are conditional on the current status, payments
complete once and a store's open pickup codes are unique, as in the SQL repository."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any
from uuid import UUID

from domain.ordering.model import (
    Fulfilment,
    Order,
    OrderEvent,
    OrderStatus,
    Payment,
    PaymentKind,
    PaymentStatus,
    PickupCode,
)
from domain.ordering.ports import OrderRepository
from domain.pagination import Page, PageRequest, change_key
from tests.fakes.tables import Tables, page_of

DEADLINES = ("payment_deadline", "pickup_deadline")


class FakeOrders(OrderRepository):
    def __init__(self, tables: Tables):
        self._t = tables

    async def add(self, order: Order, events: Sequence[OrderEvent] = ()) -> None:
        assert order.id not in self._t.orders, "duplicate primary key"
        if order.pickup_number is not None:
            numbered = {
                (o.location_id, o.pickup_number, o.pickup_day) for o in self._t.orders.values()
            }
            key = (order.location_id, order.pickup_number, order.pickup_day)
            assert key not in numbered, "pickup number given twice"
        self._t.orders[order.id] = copy.deepcopy(order)
        await self.add_events(events)

    async def get(self, order_id: UUID, *, lock: bool = False) -> Order | None:
        found = self._t.orders.get(order_id)
        return copy.deepcopy(found) if found else None

    async def order_of_line(self, line_id: UUID) -> Order | None:
        found = next(
            (o for o in self._t.orders.values() if any(x.id == line_id for x in o.lines)), None
        )
        return copy.deepcopy(found) if found else None

    async def by_number(self, number: str) -> Order | None:
        found = next((o for o in self._t.orders.values() if o.number == number), None)
        return copy.deepcopy(found) if found else None

    async def lock_if_free(self, ids: Sequence[UUID]) -> set[UUID]:
        return {i for i in ids if i in self._t.orders}

    async def get_many(self, ids: Sequence[UUID]) -> list[Order]:
        return [copy.deepcopy(self._t.orders[i]) for i in ids if i in self._t.orders]

    async def transition(
        self, order_id: UUID, frm: OrderStatus, to: OrderStatus, changes: Mapping[str, Any]
    ) -> bool:
        order = self._t.orders.get(order_id)
        if order is None or order.status is not frm:
            return False
        order.status = to
        for name, value in changes.items():
            assert hasattr(order, name), f"orders have no column {name}"
            setattr(order, name, value)
        return True

    async def set_flags(self, order_id: UUID, **flags: Any) -> None:
        order = self._t.orders[order_id]
        for name, value in flags.items():
            assert hasattr(order, name), f"orders have no column {name}"
            setattr(order, name, value)

    async def add_events(self, events: Sequence[OrderEvent]) -> None:
        self._t.order_events.extend(events)

    async def events_of(self, order_ids: Sequence[UUID]) -> list[OrderEvent]:
        found = [e for e in self._t.order_events if e.order_id in order_ids]
        return sorted(found, key=lambda e: (e.at, e.id))

    async def search(
        self,
        page: PageRequest,
        *,
        member_id: UUID | None = None,
        location_id: UUID | None = None,
        statuses: Sequence[OrderStatus] = (),
        updated_since: datetime | None = None,
        pickup_number: str | None = None,
        exclude_ids: Sequence[UUID] = (),
    ) -> Page[Order]:
        found = [
            copy.deepcopy(o)
            for o in self._t.orders.values()
            if (member_id is None or o.member_id == member_id)
            and (location_id is None or o.location_id == location_id)
            and (not statuses or o.status in statuses)
            and (updated_since is None or o.updated_at >= updated_since)
            and (pickup_number is None or o.pickup_number == pickup_number)
            and o.id not in exclude_ids
        ]
        if updated_since is not None:
            return page_of(found, lambda o: change_key(o.updated_at, o.id), page)
        return page_of(found, lambda o: str(o.id), page, newest_first=True)

    async def on_board(
        self, location_id: UUID, statuses: Sequence[OrderStatus], limit: int
    ) -> list[Order]:
        found = sorted(
            (
                o
                for o in self._t.orders.values()
                if o.location_id == location_id
                and o.fulfilment is Fulfilment.PICKUP
                and o.status in statuses
            ),
            key=lambda o: o.id,
        )
        return [copy.deepcopy(o) for o in found[:limit]]

    async def next_pickup_sequence(self, location_id: UUID, day: date) -> int:
        key = (location_id, day)
        self._t.pickup_counters[key] = self._t.pickup_counters.get(key, 0) + 1
        return self._t.pickup_counters[key]

    async def due(
        self,
        status: OrderStatus,
        field: str,
        before: datetime,
        limit: int,
        *,
        unreminded: bool = False,
        lock: bool = True,
    ) -> list[Order]:
        assert field in DEADLINES
        found = [
            o
            for o in self._t.orders.values()
            if o.status is status
            and (deadline := getattr(o, field)) is not None
            and deadline < before
            and not (unreminded and o.reminder_sent)
        ]
        found.sort(key=lambda o: getattr(o, field))
        return [copy.deepcopy(o) for o in found[:limit]]

    async def move_member(self, source: UUID, target: UUID) -> int:
        moving = [o for o in self._t.orders.values() if o.member_id == source]
        for order in moving:
            order.member_id = target
        return len(moving)

    async def stores_of_members(self, member_ids: Sequence[UUID]) -> dict[UUID, set[UUID]]:
        found: dict[UUID, set[UUID]] = {}
        for order in self._t.orders.values():
            if order.member_id is not None and order.member_id in member_ids:
                found.setdefault(order.member_id, set()).add(order.location_id)
        return found

    async def add_payment(self, payment: Payment) -> None:
        self._t.payments[payment.id] = replace(payment)

    async def payment_by_ref(self, provider: str, provider_ref: str) -> Payment | None:
        for payment in self._t.payments.values():
            if (payment.provider, payment.provider_ref) == (provider, provider_ref):
                return replace(payment)
        return None

    async def complete_payment(self, payment_id: UUID, at: datetime) -> bool:
        payment = self._t.payments[payment_id]
        if payment.status not in (PaymentStatus.PENDING, PaymentStatus.CLOSED):
            return False
        payment.status, payment.completed_at = PaymentStatus.SUCCEEDED, at
        return True

    async def close_payments(self, order_id: UUID) -> int:
        attempts = [
            p
            for p in self._t.payments.values()
            if p.order_id == order_id
            and p.kind is PaymentKind.PAYMENT
            and p.status is PaymentStatus.PENDING
        ]
        for payment in attempts:
            payment.status = PaymentStatus.CLOSED
        return len(attempts)

    async def payments_of(self, order_ids: Sequence[UUID]) -> list[Payment]:
        found = [replace(p) for p in self._t.payments.values() if p.order_id in order_ids]
        return sorted(found, key=lambda p: (p.created_at, p.id))

    async def get_payment(self, payment_id: UUID) -> Payment | None:
        found = self._t.payments.get(payment_id)
        return replace(found) if found else None

    async def mark_retried(self, refund_id: UUID, by: UUID) -> bool:
        held = self._t.payments[refund_id]
        failed = held.kind is PaymentKind.REFUND and held.status is PaymentStatus.REFUND_FAILED
        if not failed or held.retried_by is not None:
            return False
        held.retried_by = by
        return True

    async def refunds_due(self, before: datetime, limit: int) -> list[Payment]:
        waiting = {PaymentStatus.REFUND_PENDING, PaymentStatus.REFUND_SUBMITTED}
        found = [
            replace(p)
            for p in self._t.payments.values()
            if p.kind is PaymentKind.REFUND
            and p.status in waiting
            and p.next_attempt_at is not None
            and p.next_attempt_at <= before
        ]
        found.sort(key=lambda p: (p.next_attempt_at or before, p.id))
        return found[:limit]

    async def claim_refund(self, refund: Payment, until: datetime) -> bool:
        held = self._t.payments[refund.id]
        if (held.status, held.attempts) != (refund.status, refund.attempts):
            return False
        held.attempts, held.next_attempt_at = refund.attempts + 1, until
        return True

    async def settle_refund(
        self,
        refund_id: UUID,
        frm: PaymentStatus,
        to: PaymentStatus,
        *,
        reason: str = "",
        next_attempt_at: datetime | None = None,
        completed_at: datetime | None = None,
    ) -> bool:
        held = self._t.payments[refund_id]
        if held.kind is not PaymentKind.REFUND or held.status is not frm:
            return False
        held.status, held.reason = to, reason[:200]
        held.next_attempt_at, held.completed_at = next_attempt_at, completed_at
        return True

    async def add_pickup_code(self, code: PickupCode) -> bool:
        taken = {(c.location_id, c.code) for c in self._t.pickups.values()}
        if (code.location_id, code.code) in taken:
            return False
        self._t.pickups[code.order_id] = code  # frozen
        return True

    async def pickup_by_code(self, location_id: UUID, code: str) -> PickupCode | None:
        for pickup in self._t.pickups.values():
            if (pickup.location_id, pickup.code) == (location_id, code):
                return pickup
        return None

    async def pickups_of(self, order_ids: Sequence[UUID]) -> list[PickupCode]:
        return [p for order_id, p in self._t.pickups.items() if order_id in order_ids]

    async def delete_pickup(self, order_id: UUID) -> None:
        self._t.pickups.pop(order_id, None)
