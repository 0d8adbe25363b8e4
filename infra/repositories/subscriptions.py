from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from tortoise.expressions import Q

from domain.pagination import Page, PageRequest
from domain.subscriptions.model import (
    Cycle,
    CycleStatus,
    Interval,
    Plan,
    Subscription,
    SubscriptionChange,
    SubscriptionLine,
    SubscriptionStatus,
)
from infra.db import sql
from infra.db.models.subscriptions import CycleRow, PlanRow, SubscriptionChangeRow, SubscriptionRow
from infra.repositories.paging import after_uuid


def _plan(row: PlanRow) -> Plan:
    return Plan(
        row.id,
        row.name,
        [UUID(v) for v in row.variant_ids],
        Interval(row.interval_unit, row.interval_count),
        row.discount_percent,
        row.min_cycles,
        row.active,
        row.created_at,
        row.prepaid_deliveries,
    )


def _subscription(row: SubscriptionRow) -> Subscription:
    return Subscription(
        id=row.id,
        member_id=row.member_id,
        plan_id=row.plan_id,
        lines=[SubscriptionLine(UUID(v), int(q), int(p)) for v, q, p in row.lines],
        interval=Interval(row.interval_unit, row.interval_count),
        anchor_date=row.anchor_date,
        next_date=row.next_date,
        cycles_done=row.cycles_done,
        sequence=row.sequence,
        status=row.status,
        pickup_location_id=row.pickup_location_id,
        delivery_address=row.delivery_address,
        delivery_latitude=row.delivery_latitude,
        delivery_longitude=row.delivery_longitude,
        payment_agreement=row.payment_agreement,
        timezone=row.timezone,
        created_at=row.created_at,
        updated_at=row.updated_at,
        paused_until=row.paused_until,
        cancel_reason=row.cancel_reason,
        failed_attempts=row.failed_attempts,
        next_retry_at=row.next_retry_at,
        prepaid_deliveries=row.prepaid_deliveries,
        prepaid_used=row.prepaid_used,
        prepayment_order_id=row.prepayment_order_id,
    )


def _fields(s: Subscription) -> dict[str, Any]:
    return {
        "member_id": s.member_id,
        "plan_id": s.plan_id,
        "lines": [[str(x.variant_id), x.quantity, x.unit_price] for x in s.lines],
        "interval_unit": s.interval.unit,
        "interval_count": s.interval.count,
        "anchor_date": s.anchor_date,
        "next_date": s.next_date,
        "cycles_done": s.cycles_done,
        "sequence": s.sequence,
        "status": s.status,
        "pickup_location_id": s.pickup_location_id,
        "delivery_address": s.delivery_address,
        "delivery_latitude": s.delivery_latitude,
        "delivery_longitude": s.delivery_longitude,
        "payment_agreement": s.payment_agreement,
        "timezone": s.timezone,
        "created_at": s.created_at,
        "updated_at": s.updated_at,
        "paused_until": s.paused_until,
        "cancel_reason": s.cancel_reason,
        "failed_attempts": s.failed_attempts,
        "next_retry_at": s.next_retry_at,
        "prepaid_deliveries": s.prepaid_deliveries,
        "prepaid_used": s.prepaid_used,
        "prepayment_order_id": s.prepayment_order_id,
    }


def _cycle(row: CycleRow) -> Cycle:
    return Cycle(
        row.id,
        row.subscription_id,
        row.number,
        row.scheduled_date,
        row.status,
        row.order_id,
        row.attempts,
        row.note,
        row.created_at,
        row.updated_at,
        row.location_id,
    )


class TortoiseSubscriptionRepository:
    async def add_plan(self, plan: Plan) -> None:
        await PlanRow.create(
            id=plan.id,
            name=plan.name,
            variant_ids=[str(v) for v in plan.variant_ids],
            interval_unit=plan.interval.unit,
            interval_count=plan.interval.count,
            discount_percent=plan.discount_percent,
            min_cycles=plan.min_cycles,
            active=plan.active,
            created_at=plan.created_at,
            prepaid_deliveries=plan.prepaid_deliveries,
        )

    async def get_plan(self, plan_id: UUID, *, lock: bool = False) -> Plan | None:
        query = PlanRow.filter(id=plan_id)
        if lock:
            query = query.select_for_update()
        row = await query.first()
        return _plan(row) if row else None

    async def save_plan(self, plan: Plan) -> None:
        await PlanRow.filter(id=plan.id).update(
            name=plan.name,
            variant_ids=[str(v) for v in plan.variant_ids],
            interval_unit=plan.interval.unit,
            interval_count=plan.interval.count,
            discount_percent=plan.discount_percent,
            min_cycles=plan.min_cycles,
            active=plan.active,
            prepaid_deliveries=plan.prepaid_deliveries,
        )

    async def list_plans(self, active_only: bool) -> list[Plan]:
        query = PlanRow.filter(active=True) if active_only else PlanRow.all()
        return [_plan(r) for r in await query.order_by("name")]

    async def add(self, subscription: Subscription) -> None:
        await SubscriptionRow.create(id=subscription.id, **_fields(subscription))

    async def get(
        self, subscription_id: UUID, *, lock: bool = False, skip_locked: bool = False
    ) -> Subscription | None:
        query = SubscriptionRow.filter(id=subscription_id)
        if lock:
            query = query.select_for_update(skip_locked=skip_locked)
        row = await query.first()
        return _subscription(row) if row else None

    async def save(self, subscription: Subscription) -> None:
        await SubscriptionRow.filter(id=subscription.id).update(**_fields(subscription))

    async def for_member(self, member_id: UUID, page: PageRequest) -> Page[Subscription]:
        query = SubscriptionRow.filter(member_id=member_id)
        if page.after is not None:
            query = query.filter(id__lt=after_uuid(page.after))
        rows = await query.order_by("-id").limit(page.first + 1)
        return Page.from_rows([_subscription(r) for r in rows], [str(r.id) for r in rows], page)

    async def due(self, order_by: date, now: datetime, limit: int) -> list[Subscription]:
        rows = (
            await SubscriptionRow.filter(
                Q(status=SubscriptionStatus.ACTIVE, next_date__lte=order_by)
                | Q(status=SubscriptionStatus.PAST_DUE, next_retry_at__lte=now)
            )
            .order_by("next_date")
            .limit(limit)
            .select_for_update(skip_locked=True)
        )
        return [_subscription(r) for r in rows]

    async def prepaid_active(self, after: UUID | None, limit: int) -> list[Subscription]:
        query = SubscriptionRow.filter(status=SubscriptionStatus.ACTIVE, prepaid_deliveries__gt=0)
        if after is not None:
            query = query.filter(id__gt=after)
        rows = await query.order_by("id").limit(limit)
        return [_subscription(r) for r in rows]

    async def reminders_due(
        self, by: date, limit: int, after: UUID | None = None
    ) -> list[Subscription]:
        query = SubscriptionRow.filter(status=SubscriptionStatus.ACTIVE, next_date__lte=by)
        if after is not None:
            query = query.filter(id__gt=after)
        rows = await query.order_by("id").limit(limit)
        return [_subscription(r) for r in rows]

    async def paused_until_due(self, by: date, limit: int) -> list[Subscription]:
        rows = await SubscriptionRow.filter(
            status=SubscriptionStatus.PAUSED, paused_until__lte=by + timedelta(days=1)
        ).limit(limit)
        return [_subscription(r) for r in rows]

    async def add_change(self, change: SubscriptionChange) -> None:
        await SubscriptionChangeRow.create(
            id=change.id,
            subscription_id=change.subscription_id,
            what=change.what,
            detail=change.detail,
            actor=change.actor,
            at=change.at,
        )

    async def changes_of(self, subscription_ids: Sequence[UUID]) -> list[SubscriptionChange]:
        rows = await SubscriptionChangeRow.filter(
            subscription_id__in=list(subscription_ids)
        ).order_by("at", "id")
        return [
            SubscriptionChange(r.id, r.subscription_id, r.what, r.detail, r.actor, r.at)
            for r in rows
        ]

    async def claim_cycle(self, cycle: Cycle) -> bool:
        inserted = await sql.fetch(
            "INSERT INTO subscription_cycle (id, subscription_id, number, scheduled_date, status, "
            "attempts, note, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 0, '', $6, $6) "
            "ON CONFLICT (subscription_id, number) DO NOTHING RETURNING id",
            cycle.id,
            cycle.subscription_id,
            cycle.number,
            cycle.scheduled_date,
            cycle.status.value,
            cycle.created_at,
        )
        return bool(inserted)

    async def open_cycle(self, subscription_id: UUID) -> Cycle | None:
        row = (
            await CycleRow.filter(subscription_id=subscription_id, status=CycleStatus.ORDERED)
            .order_by("-number")
            .first()
        )
        return _cycle(row) if row else None

    async def save_cycle(self, cycle: Cycle) -> None:
        await CycleRow.filter(id=cycle.id).update(
            status=cycle.status,
            order_id=cycle.order_id,
            location_id=cycle.location_id,
            attempts=cycle.attempts,
            note=cycle.note,
            updated_at=cycle.updated_at,
        )

    async def cycles_of(self, subscription_ids: Sequence[UUID]) -> list[Cycle]:
        rows = await CycleRow.filter(subscription_id__in=list(subscription_ids)).order_by("number")
        return [_cycle(r) for r in rows]

    async def cycles_of_orders(self, order_ids: Sequence[UUID]) -> list[Cycle]:
        rows = await CycleRow.filter(order_id__in=list(order_ids))
        return [_cycle(r) for r in rows]

    async def orders_due_after(self, location_id: UUID, day: date) -> list[UUID]:
        rows = await CycleRow.filter(
            location_id=location_id,
            scheduled_date__gt=day,
            status=CycleStatus.PAID,
            order_id__isnull=False,
        ).values_list("order_id", flat=True)
        return [UUID(str(v)) for v in rows]

    async def move_member(self, source: UUID, target: UUID) -> int:
        return await SubscriptionRow.filter(member_id=source).update(member_id=target)
