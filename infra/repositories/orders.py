from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

from domain.ids import new_id
from domain.ordering.model import (
    MAX_LINE_NAME,
    Fulfilment,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    Payment,
    PaymentKind,
    PaymentStatus,
    PickupCode,
    SalesChannel,
)
from domain.pagination import Page, PageRequest, change_key, parse_change_key
from infra.db import sql
from infra.db.models.orders import (
    OrderEventRow,
    OrderPaymentRow,
    OrderRow,
    PickupCodeRow,
)
from infra.repositories.paging import after_uuid

DEADLINES = frozenset({"payment_deadline", "pickup_deadline"})


ORDER_COLUMNS = (
    "id",
    "number",
    "member_id",
    "channel",
    "fulfilment",
    "location_id",
    "status",
    "currency",
    "total",
    "note",
    "delivery_address",
    "delivery_latitude",
    "delivery_longitude",
    "created_at",
    "updated_at",
    "payment_deadline",
    "paid_at",
    "pickup_deadline",
    "cancel_reason",
    "at_risk",
    "reminder_sent",
    "points_redeemed",
    "points_discount",
    "pickup_number",
    "pickup_day",
)
LINE_COLUMNS = (
    "id",
    "order_id",
    "variant_id",
    "product_id",
    "sku",
    "name",
    "unit_price",
    "quantity",
    "list_price",
    "coupon_discount",
)
EVENT_COLUMNS = ("id", "order_id", "from_status", "to_status", "actor", "reason", "at")
SELECT_ORDERS = f"SELECT {', '.join(ORDER_COLUMNS)} FROM customer_order"
SELECT_LINES = f"SELECT {', '.join(LINE_COLUMNS)} FROM order_line"


def _order(row: Any, lines: list[OrderLine]) -> Order:
    return Order(
        id=sql.as_uuid(row["id"]),
        number=row["number"],
        member_id=sql.as_optional_uuid(row["member_id"]),
        channel=SalesChannel(row["channel"]),
        fulfilment=Fulfilment(row["fulfilment"]),
        location_id=sql.as_uuid(row["location_id"]),
        status=OrderStatus(row["status"]),
        currency=row["currency"],
        total=row["total"],
        note=row["note"],
        created_at=sql.as_datetime(row["created_at"]),
        updated_at=sql.as_datetime(row["updated_at"]),
        payment_deadline=sql.as_optional_datetime(row["payment_deadline"]),
        lines=lines,
        delivery_address=row["delivery_address"],
        delivery_latitude=row["delivery_latitude"],
        delivery_longitude=row["delivery_longitude"],
        paid_at=sql.as_optional_datetime(row["paid_at"]),
        pickup_deadline=sql.as_optional_datetime(row["pickup_deadline"]),
        cancel_reason=row["cancel_reason"],
        at_risk=bool(row["at_risk"]),
        reminder_sent=bool(row["reminder_sent"]),
        points_redeemed=row["points_redeemed"],
        points_discount=row["points_discount"],
        pickup_number=row["pickup_number"],
        pickup_day=sql.as_optional_date(row["pickup_day"]),
    )


def _order_values(order: Order) -> tuple[Any, ...]:
    return (
        order.id,
        order.number,
        order.member_id,
        order.channel.value,
        order.fulfilment.value,
        order.location_id,
        order.status.value,
        order.currency,
        order.total,
        order.note,
        order.delivery_address,
        order.delivery_latitude,
        order.delivery_longitude,
        order.created_at,
        order.updated_at,
        order.payment_deadline,
        order.paid_at,
        order.pickup_deadline,
        order.cancel_reason,
        order.at_risk,
        order.reminder_sent,
        order.points_redeemed,
        order.points_discount,
        order.pickup_number,
        order.pickup_day,
    )


def _line(row: Any) -> OrderLine:
    return OrderLine(
        sql.as_uuid(row["id"]),
        sql.as_uuid(row["variant_id"]),
        sql.as_uuid(row["product_id"]),
        row["sku"],
        row["name"],
        row["unit_price"],
        row["quantity"],
        list_price=row["list_price"],
        coupon_discount=row["coupon_discount"],
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
        refund_of=row.refund_of,
        reason=row.reason,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        retried_by=row.retried_by,
    )


async def _update(
    order_id: UUID, changes: Mapping[str, Any], status: OrderStatus | None = None
) -> int:
    """One UPDATE of the order's row (conditional on its status when given), in prebuilt SQL
    like the reads of the same use cases; returns the number of rows changed."""
    unknown = set(changes) - set(ORDER_COLUMNS)
    if unknown:
        raise ValueError(f"customer_order has no column {sorted(unknown)}")
    if status is None:
        return await sql.update("customer_order", changes, "id = $1", order_id)
    return await sql.update(
        "customer_order", changes, "id = $1 AND status = $2", order_id, status.value
    )


def _event_values(events: Sequence[OrderEvent]) -> list[tuple[Any, ...]]:
    return [
        (
            e.id,
            e.order_id,
            e.from_status.value if e.from_status else None,
            e.to_status.value,
            e.actor,
            e.reason[:200],
            e.at,
        )
        for e in events
    ]


class TortoiseOrderRepository:
    async def _with_lines(self, rows: Sequence[Any]) -> list[Order]:
        """Orders of `rows` (dicts or driver rows) with their lines, read in one statement."""
        if not rows:
            return []
        ids = [sql.as_uuid(r["id"]) for r in rows]
        grouped: dict[UUID, list[OrderLine]] = defaultdict(list)
        for line in await sql.fetch_rows(
            f"{SELECT_LINES} WHERE order_id IN ({sql.placeholders(len(ids))}) ORDER BY id", *ids
        ):
            grouped[sql.as_uuid(line["order_id"])].append(_line(line))
        return [_order(r, grouped[key]) for r, key in zip(rows, ids, strict=True)]

    async def add(self, order: Order, events: Sequence[OrderEvent] = ()) -> None:
        await sql.insert_all(
            [
                ("customer_order", ORDER_COLUMNS, [_order_values(order)]),
                (
                    "order_line",
                    LINE_COLUMNS,
                    [
                        (
                            x.id,
                            order.id,
                            x.variant_id,
                            x.product_id,
                            x.sku,
                            x.name[:MAX_LINE_NAME],
                            x.unit_price,
                            x.quantity,
                            x.list_price,
                            x.coupon_discount,
                        )
                        for x in order.lines
                    ],
                ),
                ("order_event", EVENT_COLUMNS, _event_values(events)),
            ]
        )

    async def get(self, order_id: UUID, *, lock: bool = False) -> Order | None:
        lock_clause = " FOR UPDATE" if lock and not sql.is_sqlite() else ""
        rows = await sql.fetch(f"{SELECT_ORDERS} WHERE id = $1{lock_clause}", order_id)
        return (await self._with_lines(rows))[0] if rows else None

    async def by_number(self, number: str) -> Order | None:
        rows = await sql.fetch(f"{SELECT_ORDERS} WHERE number = $1", number)
        return (await self._with_lines(rows))[0] if rows else None

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
        if not ids:
            return []
        keys = list(ids)
        return await self._with_lines(
            await sql.fetch(f"{SELECT_ORDERS} WHERE id IN ({sql.placeholders(len(keys))})", *keys)
        )

    async def order_of_line(self, line_id: UUID) -> Order | None:
        rows = await sql.fetch(
            f"{SELECT_ORDERS} WHERE id = (SELECT order_id FROM order_line WHERE id = $1)", line_id
        )
        return (await self._with_lines(rows))[0] if rows else None

    async def transition(
        self, order_id: UUID, frm: OrderStatus, to: OrderStatus, changes: Mapping[str, Any]
    ) -> bool:
        return await _update(order_id, {"status": to, **changes}, frm) == 1

    async def set_flags(self, order_id: UUID, **flags: Any) -> None:
        await _update(order_id, flags)

    async def add_events(self, events: Sequence[OrderEvent]) -> None:
        await sql.insert("order_event", EVENT_COLUMNS, _event_values(events))

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
        updated_since: datetime | None = None,
        pickup_number: str | None = None,
        exclude_ids: Sequence[UUID] = (),
    ) -> Page[Order]:
        where: list[str] = []
        values: list[Any] = []

        def param(value: Any) -> str:
            values.append(value)
            return f"${len(values)}"

        if member_id is not None:
            where.append(f"member_id = {param(member_id)}")
        if location_id is not None:
            where.append(f"location_id = {param(location_id)}")
        if statuses:
            where.append(f"status IN ({', '.join(param(s.value) for s in statuses)})")
        if pickup_number is not None:
            where.append(f"pickup_number = {param(pickup_number)}")
        if exclude_ids:
            where.append(f"id NOT IN ({', '.join(param(x) for x in exclude_ids)})")
        if updated_since is not None:
            where.append(f"updated_at >= {param(updated_since)}")
            if page.after is not None:
                at, key = parse_change_key(page.after)
                later, same, tie = param(at), param(at), param(key)
                where.append(f"(updated_at > {later} OR (updated_at = {same} AND id > {tie}))")
            order_by = "updated_at, id"
        else:
            if page.after is not None:
                where.append(f"id < {param(after_uuid(page.after))}")
            order_by = "id DESC"
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = await sql.fetch_rows(  # a page of orders: no dict per row
            f"{SELECT_ORDERS}{clause} ORDER BY {order_by} LIMIT {param(page.first + 1)}", *values
        )
        orders = await self._with_lines(rows)
        if updated_since is not None:
            return Page.from_rows(orders, [change_key(o.updated_at, o.id) for o in orders], page)
        return Page.from_rows(orders, [str(o.id) for o in orders], page)

    async def on_board(
        self, location_id: UUID, statuses: Sequence[OrderStatus], limit: int
    ) -> list[Order]:
        rows = await sql.fetch_rows(
            f"{SELECT_ORDERS} WHERE location_id = $1 AND fulfilment = $2 "
            f"AND status IN ({sql.placeholders(len(statuses), 3)}) "
            f"ORDER BY id LIMIT ${len(statuses) + 3}",
            location_id,
            Fulfilment.PICKUP.value,
            *(s.value for s in statuses),
            limit,
        )
        return await self._with_lines(rows)

    async def next_pickup_sequence(self, location_id: UUID, day: date) -> int:
        # One statement on both databases: the first order of the day inserts the row, the
        # next ones increment it; the row stays locked until the checkout commits.
        rows = await sql.fetch(
            "INSERT INTO pickup_counter (id, location_id, day, sequence) VALUES ($1, $2, $3, 1) "
            "ON CONFLICT (location_id, day) DO UPDATE SET sequence = pickup_counter.sequence + 1 "
            "RETURNING sequence",
            new_id(),
            location_id,
            day,
        )
        return int(rows[0]["sequence"])

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
        unsent = " AND reminder_sent = $4" if unreminded else ""
        skip = "" if sql.is_sqlite() or not lock else " FOR UPDATE SKIP LOCKED"
        rows = await sql.fetch(
            f"{SELECT_ORDERS} WHERE status = $1 AND {field} < $2{unsent} "
            f"ORDER BY {field} LIMIT $3{skip}",
            status.value,
            before,
            limit,
            *([False] if unreminded else []),
        )
        return await self._with_lines(rows)

    async def move_member(self, source: UUID, target: UUID) -> int:
        return await OrderRow.filter(member_id=source).update(member_id=target)

    async def stores_of_members(self, member_ids: Sequence[UUID]) -> dict[UUID, set[UUID]]:
        if not member_ids:
            return {}
        pairs = (
            await OrderRow.filter(member_id__in=list(member_ids))
            .distinct()
            .values_list("member_id", "location_id")
        )
        found: dict[UUID, set[UUID]] = {}
        for member_id, location_id in pairs:
            found.setdefault(UUID(str(member_id)), set()).add(UUID(str(location_id)))
        return found

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
            refund_of=payment.refund_of,
            reason=payment.reason,
            attempts=payment.attempts,
            next_attempt_at=payment.next_attempt_at,
            retried_by=payment.retried_by,
        )

    async def payment_by_ref(self, provider: str, provider_ref: str) -> Payment | None:
        row = await OrderPaymentRow.get_or_none(provider=provider, provider_ref=provider_ref)
        return _payment(row) if row else None

    async def complete_payment(self, payment_id: UUID, at: datetime) -> bool:
        count = await OrderPaymentRow.filter(
            id=payment_id, status__in=[PaymentStatus.PENDING, PaymentStatus.CLOSED]
        ).update(status=PaymentStatus.SUCCEEDED, completed_at=at)
        return count == 1

    async def close_payments(self, order_id: UUID) -> int:
        return await OrderPaymentRow.filter(
            order_id=order_id, kind=PaymentKind.PAYMENT, status=PaymentStatus.PENDING
        ).update(status=PaymentStatus.CLOSED)

    async def payments_of(self, order_ids: Sequence[UUID]) -> list[Payment]:
        rows = await OrderPaymentRow.filter(order_id__in=list(order_ids)).order_by(
            "created_at", "id"
        )
        return [_payment(r) for r in rows]

    async def get_payment(self, payment_id: UUID) -> Payment | None:
        row = await OrderPaymentRow.get_or_none(id=payment_id)
        return _payment(row) if row else None

    async def mark_retried(self, refund_id: UUID, by: UUID) -> bool:
        count = await OrderPaymentRow.filter(
            id=refund_id,
            kind=PaymentKind.REFUND,
            status=PaymentStatus.REFUND_FAILED,
            retried_by__isnull=True,
        ).update(retried_by=by)
        return count == 1

    async def refunds_due(self, before: datetime, limit: int) -> list[Payment]:
        rows = (
            await OrderPaymentRow.filter(
                kind=PaymentKind.REFUND,
                status__in=[PaymentStatus.REFUND_PENDING, PaymentStatus.REFUND_SUBMITTED],
                next_attempt_at__lte=before,
            )
            .order_by("next_attempt_at", "id")
            .limit(limit)
        )
        return [_payment(r) for r in rows]

    async def claim_refund(self, refund: Payment, until: datetime) -> bool:
        count = await OrderPaymentRow.filter(
            id=refund.id, status=refund.status, attempts=refund.attempts
        ).update(attempts=refund.attempts + 1, next_attempt_at=until)
        return count == 1

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
        count = await OrderPaymentRow.filter(
            id=refund_id, kind=PaymentKind.REFUND, status=frm
        ).update(
            status=to,
            reason=reason[:200],
            next_attempt_at=next_attempt_at,
            completed_at=completed_at,
        )
        return count == 1

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
