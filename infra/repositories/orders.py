from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.ids import new_id
from domain.ordering.model import (
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    Payment,
    PaymentStatus,
    PickupCode,
)
from domain.pagination import Page, PageRequest
from infra.db import sql
from infra.db.models.orders import (
    OrderEventRow,
    OrderLineRow,
    OrderPaymentRow,
    OrderRow,
    PickupCodeRow,
)
from infra.repositories.paging import after_uuid

DEADLINES = frozenset({"payment_deadline", "pickup_deadline"})


def _order(row: OrderRow, lines: list[OrderLine]) -> Order:
    return Order(
        id=row.id,
        number=row.number,
        member_id=row.member_id,
        channel=row.channel,
        fulfilment=row.fulfilment,
        location_id=row.location_id,
        status=row.status,
        currency=row.currency,
        total=row.total,
        note=row.note,
        created_at=row.created_at,
        updated_at=row.updated_at,
        payment_deadline=row.payment_deadline,
        lines=lines,
        delivery_address=row.delivery_address,
        delivery_latitude=row.delivery_latitude,
        delivery_longitude=row.delivery_longitude,
        paid_at=row.paid_at,
        pickup_deadline=row.pickup_deadline,
        cancel_reason=row.cancel_reason,
        at_risk=row.at_risk,
        reminder_sent=row.reminder_sent,
        points_redeemed=row.points_redeemed,
        points_discount=row.points_discount,
    )


def _line(row: OrderLineRow) -> OrderLine:
    return OrderLine(
        row.id, row.variant_id, row.product_id, row.sku, row.name, row.unit_price, row.quantity
    )


def _payment(row: OrderPaymentRow) -> Payment:
    return Payment(
        row.id,
        row.order_id,
        row.kind,
        row.provider,
        row.provider_ref,
        row.method,
        row.amount,
        row.currency,
        row.status,
        row.created_at,
        row.completed_at,
    )


class TortoiseOrderRepository:
    async def _with_lines(self, rows: Sequence[OrderRow]) -> list[Order]:
        if not rows:
            return []
        grouped: dict[UUID, list[OrderLine]] = defaultdict(list)
        for line in await OrderLineRow.filter(order_id__in=[r.id for r in rows]).order_by("id"):
            grouped[line.order_id].append(_line(line))
        return [_order(r, grouped[r.id]) for r in rows]

    async def add(self, order: Order) -> None:
        await OrderRow.create(
            id=order.id,
            number=order.number,
            member_id=order.member_id,
            channel=order.channel,
            fulfilment=order.fulfilment,
            location_id=order.location_id,
            status=order.status,
            currency=order.currency,
            total=order.total,
            note=order.note,
            delivery_address=order.delivery_address,
            delivery_latitude=order.delivery_latitude,
            delivery_longitude=order.delivery_longitude,
            created_at=order.created_at,
            updated_at=order.updated_at,
            payment_deadline=order.payment_deadline,
            paid_at=order.paid_at,
            pickup_deadline=order.pickup_deadline,
            cancel_reason=order.cancel_reason,
            at_risk=order.at_risk,
            reminder_sent=order.reminder_sent,
            points_redeemed=order.points_redeemed,
            points_discount=order.points_discount,
        )
        await OrderLineRow.bulk_create(
            [
                OrderLineRow(
                    id=x.id,
                    order_id=order.id,
                    variant_id=x.variant_id,
                    product_id=x.product_id,
                    sku=x.sku,
                    name=x.name[:300],
                    unit_price=x.unit_price,
                    quantity=x.quantity,
                )
                for x in order.lines
            ]
        )

    async def get(self, order_id: UUID, *, lock: bool = False) -> Order | None:
        query = OrderRow.filter(id=order_id)
        if lock:
            query = query.select_for_update()
        row = await query.first()
        return (await self._with_lines([row]))[0] if row else None

    async def lock_if_free(self, ids: Sequence[UUID]) -> set[UUID]:
        """Lock these orders without waiting; the ids returned are locked, the rest are busy
        (or do not exist). SQLite serialises writers: nothing to lock there."""
        wanted = sorted(set(ids))
        if not wanted or sql.is_sqlite():
            return set(wanted)
        rows = await sql.fetch(
            "SELECT id FROM customer_order WHERE id = ANY($1::uuid[]) "
            "ORDER BY id FOR UPDATE SKIP LOCKED",
            wanted,
        )
        return {sql.as_uuid(r["id"]) for r in rows}

    async def get_many(self, ids: Sequence[UUID]) -> list[Order]:
        return await self._with_lines(await OrderRow.filter(id__in=list(ids)))

    async def transition(
        self, order_id: UUID, frm: OrderStatus, to: OrderStatus, changes: Mapping[str, Any]
    ) -> bool:
        count = await OrderRow.filter(id=order_id, status=frm).update(status=to, **changes)
        return count == 1

    async def set_flags(self, order_id: UUID, **flags: Any) -> None:
        await OrderRow.filter(id=order_id).update(**flags)

    async def add_events(self, events: Sequence[OrderEvent]) -> None:
        await OrderEventRow.bulk_create(
            [
                OrderEventRow(
                    id=e.id,
                    order_id=e.order_id,
                    from_status=e.from_status,
                    to_status=e.to_status,
                    actor=e.actor,
                    reason=e.reason[:200],
                    at=e.at,
                )
                for e in events
            ]
        )

    async def events_of(self, order_ids: Sequence[UUID]) -> list[OrderEvent]:
        rows = await OrderEventRow.filter(order_id__in=list(order_ids)).order_by("at", "id")
        return [
            OrderEvent(r.id, r.order_id, r.from_status, r.to_status, r.actor, r.reason, r.at)
            for r in rows
        ]

    async def search(
        self,
        page: PageRequest,
        *,
        member_id: UUID | None = None,
        location_id: UUID | None = None,
        statuses: Sequence[OrderStatus] = (),
    ) -> Page[Order]:
        query = OrderRow.all()
        if member_id is not None:
            query = query.filter(member_id=member_id)
        if location_id is not None:
            query = query.filter(location_id=location_id)
        if statuses:
            query = query.filter(status__in=list(statuses))
        if page.after is not None:
            query = query.filter(id__lt=after_uuid(page.after))
        rows = await query.order_by("-id").limit(page.first + 1)
        orders = await self._with_lines(rows)
        return Page.from_rows(orders, [str(r.id) for r in rows], page)

    async def due(
        self,
        status: OrderStatus,
        field: str,
        before: datetime,
        limit: int,
        *,
        unreminded: bool = False,
    ) -> list[Order]:
        assert field in DEADLINES
        extra = {"reminder_sent": False} if unreminded else {}
        rows = (
            await OrderRow.filter(status=status, **{f"{field}__lt": before}, **extra)
            .order_by(field)
            .limit(limit)
            .select_for_update(skip_locked=True)
        )
        return await self._with_lines(rows)

    async def move_member(self, source: UUID, target: UUID) -> int:
        return await OrderRow.filter(member_id=source).update(member_id=target)

    async def add_payment(self, payment: Payment) -> None:
        await OrderPaymentRow.create(
            id=payment.id,
            order_id=payment.order_id,
            kind=payment.kind,
            provider=payment.provider,
            provider_ref=payment.provider_ref,
            method=payment.method,
            amount=payment.amount,
            currency=payment.currency,
            status=payment.status,
            created_at=payment.created_at,
            completed_at=payment.completed_at,
        )

    async def payment_by_ref(self, provider: str, provider_ref: str) -> Payment | None:
        row = await OrderPaymentRow.get_or_none(provider=provider, provider_ref=provider_ref)
        return _payment(row) if row else None

    async def complete_payment(self, payment_id: UUID, at: datetime) -> bool:
        count = await OrderPaymentRow.filter(id=payment_id, status=PaymentStatus.PENDING).update(
            status=PaymentStatus.SUCCEEDED, completed_at=at
        )
        return count == 1

    async def payments_of(self, order_ids: Sequence[UUID]) -> list[Payment]:
        rows = await OrderPaymentRow.filter(order_id__in=list(order_ids)).order_by(
            "created_at", "id"
        )
        return [_payment(r) for r in rows]

    async def add_pickup_code(self, code: PickupCode) -> bool:
        inserted = await sql.fetch(
            "INSERT INTO pickup_code (id, order_id, location_id, code, deadline) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (location_id, code) DO NOTHING RETURNING id",
            new_id(),
            code.order_id,
            code.location_id,
            code.code,
            code.deadline,
        )
        return bool(inserted)

    async def pickup_by_code(self, location_id: UUID, code: str) -> PickupCode | None:
        row = await PickupCodeRow.get_or_none(location_id=location_id, code=code)
        return PickupCode(row.order_id, row.location_id, row.code, row.deadline) if row else None

    async def pickups_of(self, order_ids: Sequence[UUID]) -> list[PickupCode]:
        rows = await PickupCodeRow.filter(order_id__in=list(order_ids))
        return [PickupCode(r.order_id, r.location_id, r.code, r.deadline) for r in rows]

    async def order_parties(self, order_id: UUID) -> tuple[UUID | None, UUID] | None:
        """Who may watch an order live: its member and its fulfilling store."""
        row = await OrderRow.get_or_none(id=order_id).only("id", "member_id", "location_id")
        return (row.member_id, row.location_id) if row else None

    async def delete_pickup(self, order_id: UUID) -> None:
        await PickupCodeRow.filter(order_id=order_id).delete()
