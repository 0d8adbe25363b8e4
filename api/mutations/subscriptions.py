from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID

import strawberry
from strawberry.types import Info

from api.context import Context
from api.errors import SubscriptionUserError
from api.mutations import actor, mutate
from api.permissions import IsAdmin, IsMember
from api.relay import decode_id
from api.types.subscriptions import Subscription, SubscriptionPlan
from domain.inventory.model import StockLine
from domain.subscriptions import plans, services
from domain.subscriptions.model import Interval, IntervalUnit, Plan
from domain.subscriptions.model import Subscription as DomainSubscription


@strawberry.input
class IntervalInput:
    unit: IntervalUnit
    count: int

    def to_domain(self) -> Interval:
        return Interval(self.unit, self.count)


@strawberry.input
class SubscriptionPlanInput:
    name: str
    variant_ids: list[strawberry.ID]
    interval: IntervalInput
    discount_percent: int = 0
    min_cycles: int = 0
    prepaid_deliveries: int = strawberry.field(
        default=0,
        description="0: each delivery is charged through the member's payment agreement. 2-52: "
        "a prepaid plan (周期购): the member pays that many deliveries up front with the first "
        "order (`payOrder`), each delivery then uses one.",
    )


@strawberry.input(description="The plan's new terms, whole: later sign-ups take them.")
class UpdateSubscriptionPlanInput(SubscriptionPlanInput):
    id: strawberry.ID


@strawberry.input
class SubscriptionPlanIdInput:
    id: strawberry.ID


def _terms(input: SubscriptionPlanInput) -> plans.PlanTerms:
    return plans.PlanTerms(
        name=input.name,
        variant_ids=[
            decode_id(v, "Variant", ["variantIds", str(n)]) for n, v in enumerate(input.variant_ids)
        ],
        interval=input.interval.to_domain(),
        discount_percent=input.discount_percent,
        min_cycles=input.min_cycles,
        prepaid_deliveries=input.prepaid_deliveries,
    )


def _plan_id(value: strawberry.ID) -> UUID:
    return decode_id(value, "SubscriptionPlan", "id")


def _present_plan(plan: Plan) -> SubscriptionPlanPayload:
    return SubscriptionPlanPayload(plan=SubscriptionPlan.from_domain(plan))


@strawberry.type
class SubscriptionPlanPayload:
    plan: SubscriptionPlan | None = None
    errors: list[SubscriptionUserError] = strawberry.field(default_factory=list)


@strawberry.input
class SubscriptionLineInput:
    variant_id: strawberry.ID
    quantity: int


@strawberry.input
class SubscriptionPickupInput:
    location_id: strawberry.ID


@strawberry.input
class SubscriptionDeliveryInput:
    address: str
    latitude: float
    longitude: float


@strawberry.input(description="Exactly one of `pickup` or `delivery`.")
class SubscriptionFulfilmentInput:
    pickup: SubscriptionPickupInput | None = None
    delivery: SubscriptionDeliveryInput | None = None


@strawberry.input
class CreateSubscriptionInput:
    plan_id: strawberry.ID
    lines: list[SubscriptionLineInput]
    fulfilment: SubscriptionFulfilmentInput
    first_delivery_date: date = strawberry.field(description="Store-local date, after today.")
    payment_agreement: str | None = strawberry.field(
        default=None,
        description="The signed payment agreement (WeChat Pay 'withhold') reference; not "
        "needed for a prepaid plan.",
    )
    idempotency_key: str | None = None


@strawberry.input
class SubscriptionIdInput:
    id: strawberry.ID


@strawberry.input
class PauseSubscriptionInput:
    id: strawberry.ID
    until: date | None = None


@strawberry.input
class RescheduleInput:
    id: strawberry.ID
    date: date


@strawberry.input
class ChangeIntervalInput:
    id: strawberry.ID
    interval: IntervalInput


@strawberry.input
class ChangeFulfilmentInput:
    id: strawberry.ID
    fulfilment: SubscriptionFulfilmentInput


@strawberry.input
class CancelSubscriptionInput:
    id: strawberry.ID
    reason: str


@strawberry.type
class SubscriptionPayload:
    subscription: Subscription | None = None
    errors: list[SubscriptionUserError] = strawberry.field(default_factory=list)


def _present(subscription: DomainSubscription) -> SubscriptionPayload:
    return SubscriptionPayload(subscription=Subscription.from_domain(subscription))


@dataclass(frozen=True)
class _Fulfilment:
    pickup: UUID | None
    address: str | None
    lat: float | None
    lon: float | None


def _fulfilment(f: SubscriptionFulfilmentInput) -> _Fulfilment:
    return _Fulfilment(
        pickup=decode_id(f.pickup.location_id, "Location", ["fulfilment", "pickup", "locationId"])
        if f.pickup
        else None,
        address=f.delivery.address if f.delivery else None,
        lat=f.delivery.latitude if f.delivery else None,
        lon=f.delivery.longitude if f.delivery else None,
    )


def _id(value: strawberry.ID) -> UUID:
    return decode_id(value, "Subscription", "id")


def _signup(data: CreateSubscriptionInput) -> services.SignUp:
    f = _fulfilment(data.fulfilment)
    return services.SignUp(
        plan_id=decode_id(data.plan_id, "SubscriptionPlan", "planId"),
        lines=[
            StockLine(
                decode_id(x.variant_id, "Variant", ["lines", str(n), "variantId"]), x.quantity
            )
            for n, x in enumerate(data.lines)
        ],
        first_date=data.first_delivery_date,
        pickup_location_id=f.pickup,
        delivery_address=f.address,
        delivery_latitude=f.lat,
        delivery_longitude=f.lon,
        payment_agreement=data.payment_agreement or "",
    )


@strawberry.type
class SubscriptionMutations:
    @strawberry.mutation(permission_classes=[IsAdmin])
    async def create_subscription_plan(
        self, info: Info[Context, object], input: SubscriptionPlanInput
    ) -> SubscriptionPlanPayload:
        deps = info.context.runtime.subscriptions

        async def run() -> Plan:
            terms = _terms(input)
            return await plans.create_plan(
                deps,
                terms.name,
                terms.variant_ids,
                terms.interval,
                terms.discount_percent,
                terms.min_cycles,
                terms.prepaid_deliveries,
            )

        return await mutate(SubscriptionPlanPayload, SubscriptionUserError, run, _present_plan)

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="New terms for new sign-ups; existing subscriptions keep their locked terms.",
    )
    async def update_subscription_plan(
        self, info: Info[Context, object], input: UpdateSubscriptionPlanInput
    ) -> SubscriptionPlanPayload:
        deps = info.context.runtime.subscriptions
        return await mutate(
            SubscriptionPlanPayload,
            SubscriptionUserError,
            lambda: plans.update_plan(deps, _plan_id(input.id), _terms(input)),
            _present_plan,
        )

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="No new sign-ups; existing subscriptions continue on their locked terms.",
    )
    async def retire_subscription_plan(
        self, info: Info[Context, object], input: SubscriptionPlanIdInput
    ) -> SubscriptionPlanPayload:
        deps = info.context.runtime.subscriptions
        return await mutate(
            SubscriptionPlanPayload,
            SubscriptionUserError,
            lambda: plans.retire_plan(deps, _plan_id(input.id)),
            _present_plan,
        )

    @strawberry.mutation(permission_classes=[IsMember], description="Subscribe to a plan.")
    async def create_subscription(
        self, info: Info[Context, object], input: CreateSubscriptionInput
    ) -> SubscriptionPayload:
        deps, member = info.context.runtime.subscriptions, actor(info)
        return await mutate(
            SubscriptionPayload,
            SubscriptionUserError,
            lambda: services.create_subscription(
                deps, member, _signup(input), input.idempotency_key
            ),
            _present,
        )

    @strawberry.mutation(permission_classes=[IsMember])
    async def pause_subscription(
        self, info: Info[Context, object], input: PauseSubscriptionInput
    ) -> SubscriptionPayload:
        deps, member = info.context.runtime.subscriptions, actor(info)
        return await mutate(
            SubscriptionPayload,
            SubscriptionUserError,
            lambda: services.pause(deps, member, _id(input.id), input.until),
            _present,
        )

    @strawberry.mutation(permission_classes=[IsMember])
    async def resume_subscription(
        self, info: Info[Context, object], input: SubscriptionIdInput
    ) -> SubscriptionPayload:
        deps, member = info.context.runtime.subscriptions, actor(info)
        return await mutate(
            SubscriptionPayload,
            SubscriptionUserError,
            lambda: services.resume(deps, member, _id(input.id)),
            _present,
        )

    @strawberry.mutation(permission_classes=[IsMember])
    async def skip_next_delivery(
        self, info: Info[Context, object], input: SubscriptionIdInput
    ) -> SubscriptionPayload:
        deps, member = info.context.runtime.subscriptions, actor(info)
        return await mutate(
            SubscriptionPayload,
            SubscriptionUserError,
            lambda: services.skip_next(deps, member, _id(input.id)),
            _present,
        )

    @strawberry.mutation(
        permission_classes=[IsMember], description="Move the next delivery within ±3 days."
    )
    async def reschedule_next_delivery(
        self, info: Info[Context, object], input: RescheduleInput
    ) -> SubscriptionPayload:
        deps, member = info.context.runtime.subscriptions, actor(info)
        return await mutate(
            SubscriptionPayload,
            SubscriptionUserError,
            lambda: services.reschedule_next(deps, member, _id(input.id), input.date),
            _present,
        )

    @strawberry.mutation(permission_classes=[IsMember])
    async def change_subscription_interval(
        self, info: Info[Context, object], input: ChangeIntervalInput
    ) -> SubscriptionPayload:
        deps, member = info.context.runtime.subscriptions, actor(info)
        return await mutate(
            SubscriptionPayload,
            SubscriptionUserError,
            lambda: services.change_interval(
                deps, member, _id(input.id), input.interval.to_domain()
            ),
            _present,
        )

    @strawberry.mutation(permission_classes=[IsMember])
    async def change_subscription_fulfilment(
        self, info: Info[Context, object], input: ChangeFulfilmentInput
    ) -> SubscriptionPayload:
        deps, member = info.context.runtime.subscriptions, actor(info)

        async def run() -> DomainSubscription:
            f = _fulfilment(input.fulfilment)
            return await services.change_fulfilment(
                deps, member, _id(input.id), f.pickup, f.address, f.lat, f.lon
            )

        return await mutate(SubscriptionPayload, SubscriptionUserError, run, _present)

    @strawberry.mutation(permission_classes=[IsMember])
    async def cancel_subscription(
        self, info: Info[Context, object], input: CancelSubscriptionInput
    ) -> SubscriptionPayload:
        deps, member = info.context.runtime.subscriptions, actor(info)
        return await mutate(
            SubscriptionPayload,
            SubscriptionUserError,
            lambda: services.cancel(deps, member, _id(input.id), input.reason),
            _present,
        )
