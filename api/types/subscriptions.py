from __future__ import annotations

from datetime import date, datetime
from typing import Any

import strawberry
from strawberry.types import Info

from api.context import Context
from api.relay import Connection, Node, encode_id
from api.types.catalog import Money, Variant
from api.types.desk import actor_name
from api.types.locations import Location
from domain.catalog.model import Money as DomainMoney
from domain.subscriptions import model as m
from domain.subscriptions.model import CycleStatus, IntervalUnit, SubscriptionStatus
from domain.subscriptions.services import upcoming

for _enum in (IntervalUnit, SubscriptionStatus, CycleStatus):
    strawberry.enum(_enum)


@strawberry.type
class IntervalType:
    unit: IntervalUnit
    count: int


@strawberry.type(description="A subscription offer (ADMIN manages plans).")
class SubscriptionPlan(Node):
    name: str
    interval: IntervalType
    discount_percent: int
    min_cycles: int
    active: bool
    prepaid_deliveries: int = strawberry.field(
        description="0: charged per delivery (payment agreement); N: N deliveries paid up front."
    )
    variant_keys: strawberry.Private[list[Any]]

    @classmethod
    def from_domain(cls, plan: m.Plan) -> SubscriptionPlan:
        return cls(
            id=encode_id("SubscriptionPlan", plan.id),
            name=plan.name,
            interval=IntervalType(unit=plan.interval.unit, count=plan.interval.count),
            discount_percent=plan.discount_percent,
            min_cycles=plan.min_cycles,
            active=plan.active,
            prepaid_deliveries=plan.prepaid_deliveries,
            variant_keys=list(plan.variant_ids),
        )

    @strawberry.field
    async def variants(self, info: Info[Context, Any]) -> list[Variant]:
        found = await info.context.loaders.variant.load_many(self.variant_keys)
        return [Variant.from_domain(v) for v in found if v is not None]


@strawberry.type
class SubscriptionLine:
    quantity: int
    unit_price: Money = strawberry.field(description="Locked at sign-up.")
    variant_key: strawberry.Private[Any]

    @strawberry.field
    async def variant(self, info: Info[Context, Any]) -> Variant | None:
        found = await info.context.loaders.variant.load(self.variant_key)
        return Variant.from_domain(found) if found else None


@strawberry.type
class SubscriptionChange:
    what: str
    detail: str
    actor: str
    at: datetime

    @strawberry.field(
        description="Who, readable: the staff username or device name, `member`, `system`."
    )
    async def actor_name(self, info: Info[Context, Any]) -> str:
        return await actor_name(info, self.actor)


@strawberry.type
class SubscriptionCycle:
    number: int
    scheduled_date: date
    status: CycleStatus
    order_id: strawberry.ID | None
    attempts: int
    note: str


@strawberry.type(name="MemberSubscription", description="Recurring pickup or delivery.")
class Subscription(Node):
    status: SubscriptionStatus
    interval: IntervalType
    next_delivery_date: date
    upcoming_deliveries: list[date]
    lines: list[SubscriptionLine]
    total_per_delivery: Money
    paused_until: date | None
    cancel_reason: str | None
    prepaid_deliveries: int = strawberry.field(
        description="A prepaid subscription's deliveries bought up front (0: charged per delivery)."
    )
    prepaid_deliveries_left: int = strawberry.field(
        description="Prepaid deliveries not used yet (a skipped delivery uses none)."
    )
    prepayment_order_id: strawberry.ID | None = strawberry.field(
        description="The first order, which carries the prepayment: pay it with `payOrder`."
    )
    domain: strawberry.Private[m.Subscription]

    @classmethod
    def from_domain(cls, s: m.Subscription) -> Subscription:
        return cls(
            id=encode_id("Subscription", s.id),
            status=s.status,
            interval=IntervalType(unit=s.interval.unit, count=s.interval.count),
            next_delivery_date=s.next_date,
            upcoming_deliveries=upcoming(s),
            lines=[
                SubscriptionLine(
                    quantity=x.quantity,
                    unit_price=Money.from_domain(DomainMoney(x.unit_price)),
                    variant_key=x.variant_id,
                )
                for x in s.lines
            ],
            total_per_delivery=Money.from_domain(DomainMoney(s.total)),
            paused_until=s.paused_until,
            cancel_reason=s.cancel_reason,
            prepaid_deliveries=s.prepaid_deliveries,
            prepaid_deliveries_left=s.prepaid_left,
            prepayment_order_id=encode_id("Order", s.prepayment_order_id)
            if s.prepayment_order_id
            else None,
            domain=s,
        )

    @strawberry.field
    async def pickup_location(self, info: Info[Context, Any]) -> Location | None:
        if self.domain.pickup_location_id is None:
            return None
        found = await info.context.loaders.location.load(self.domain.pickup_location_id)
        return Location.from_domain(found) if found else None

    @strawberry.field(description="Every change, oldest first.")
    async def history(self, info: Info[Context, Any]) -> list[SubscriptionChange]:
        changes = await info.context.loaders.changes_by_subscription.load(self.domain.id)
        return [
            SubscriptionChange(what=c.what, detail=c.detail, actor=c.actor, at=c.at)
            for c in changes
        ]

    @strawberry.field(description="Renewal cycles, oldest first.")
    async def cycles(self, info: Info[Context, Any]) -> list[SubscriptionCycle]:
        found = await info.context.loaders.cycles_by_subscription.load(self.domain.id)
        return [
            SubscriptionCycle(
                number=c.number,
                scheduled_date=c.scheduled_date,
                status=c.status,
                order_id=encode_id("Order", c.order_id) if c.order_id else None,
                attempts=c.attempts,
                note=c.note,
            )
            for c in found
        ]


@strawberry.type(name="MemberSubscriptionConnection")
class SubscriptionConnection(Connection[Subscription]):
    """Newest first."""
