from __future__ import annotations

from datetime import date
from typing import Any

import strawberry
from strawberry.types import Info

from api.context import Context
from api.errors import SubscriptionError
from api.mutations import attempt
from api.permissions import IsAdmin, IsMember
from api.relay import decode_id
from api.types.subscriptions import Subscription, SubscriptionPlan
from domain.errors import SubscriptionError as DomainSubscriptionError
from domain.errors import SubscriptionErrorCode
from domain.identity.model import Principal
from domain.subscriptions import services
from domain.subscriptions.model import Interval, IntervalUnit


def _actor(info: Info[Context, Any]) -> Principal:
    principal = info.context.principal
    assert principal is not None
    return principal


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


@strawberry.type
class SubscriptionPlanPayload:
    plan: SubscriptionPlan | None = None
    errors: list[SubscriptionError] = strawberry.field(default_factory=list)


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
    payment_agreement: str = strawberry.field(
        description="The signed payment agreement (WeChat Pay 'withhold') reference."
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
    errors: list[SubscriptionError] = strawberry.field(default_factory=list)


def _payload(found: Any, errors: list[Any]) -> SubscriptionPayload:
    return SubscriptionPayload(
        subscription=Subscription.from_domain(found) if found else None, errors=errors
    )


def _fulfilment(f: SubscriptionFulfilmentInput) -> dict[str, Any]:
    return {
        "pickup": decode_id(
            f.pickup.location_id, "Location", ["fulfilment", "pickup", "locationId"]
        )
        if f.pickup
        else None,
        "address": f.delivery.address if f.delivery else None,
        "lat": f.delivery.latitude if f.delivery else None,
        "lon": f.delivery.longitude if f.delivery else None,
    }


def _id(value: strawberry.ID) -> Any:
    return decode_id(value, "Subscription", "id")


@strawberry.type
class SubscriptionMutations:
    @strawberry.mutation(permission_classes=[IsAdmin])
    async def create_subscription_plan(
        self, info: Info[Context, Any], input: SubscriptionPlanInput
    ) -> SubscriptionPlanPayload:
        deps = info.context.runtime.subscriptions

        async def run() -> Any:
            variants = [
                decode_id(v, "Variant", ["variantIds", str(n)])
                for n, v in enumerate(input.variant_ids[:51])
            ]
            return await services.create_plan(
                deps,
                input.name,
                variants,
                input.interval.to_domain(),
                input.discount_percent,
                input.min_cycles,
            )

        plan, errors = await attempt(SubscriptionError, run)
        return SubscriptionPlanPayload(
            plan=SubscriptionPlan.from_domain(plan) if plan else None, errors=errors
        )

    @strawberry.mutation(permission_classes=[IsMember], description="Subscribe to a plan.")
    async def create_subscription(
        self, info: Info[Context, Any], input: CreateSubscriptionInput
    ) -> SubscriptionPayload:
        deps, member = info.context.runtime.subscriptions, _actor(info)

        async def run() -> Any:
            if len(input.lines) > deps.policy.max_lines:
                raise DomainSubscriptionError(
                    SubscriptionErrorCode.TOO_MANY_ITEMS, "Too many lines.", ["lines"]
                )
            lines: dict[Any, int] = {}
            for n, x in enumerate(input.lines):
                variant = decode_id(x.variant_id, "Variant", ["lines", str(n), "variantId"])
                if variant in lines:
                    raise DomainSubscriptionError(
                        SubscriptionErrorCode.INVALID_INPUT,
                        "Each variant once.",
                        ["lines", str(n), "variantId"],
                    )
                lines[variant] = x.quantity
            f = _fulfilment(input.fulfilment)
            signup = services.SignUp(
                plan_id=decode_id(input.plan_id, "SubscriptionPlan", "planId"),
                lines=lines,
                first_date=input.first_delivery_date,
                pickup_location_id=f["pickup"],
                delivery_address=f["address"],
                delivery_latitude=f["lat"],
                delivery_longitude=f["lon"],
                payment_agreement=input.payment_agreement,
            )
            return await services.create_subscription(deps, member, signup, input.idempotency_key)

        return _payload(*await attempt(SubscriptionError, run))

    @strawberry.mutation(permission_classes=[IsMember])
    async def pause_subscription(
        self, info: Info[Context, Any], input: PauseSubscriptionInput
    ) -> SubscriptionPayload:
        deps, member = info.context.runtime.subscriptions, _actor(info)
        return _payload(
            *await attempt(
                SubscriptionError, lambda: services.pause(deps, member, _id(input.id), input.until)
            )
        )

    @strawberry.mutation(permission_classes=[IsMember])
    async def resume_subscription(
        self, info: Info[Context, Any], input: SubscriptionIdInput
    ) -> SubscriptionPayload:
        deps, member = info.context.runtime.subscriptions, _actor(info)
        return _payload(
            *await attempt(SubscriptionError, lambda: services.resume(deps, member, _id(input.id)))
        )

    @strawberry.mutation(permission_classes=[IsMember])
    async def skip_next_delivery(
        self, info: Info[Context, Any], input: SubscriptionIdInput
    ) -> SubscriptionPayload:
        deps, member = info.context.runtime.subscriptions, _actor(info)
        return _payload(
            *await attempt(
                SubscriptionError, lambda: services.skip_next(deps, member, _id(input.id))
            )
        )

    @strawberry.mutation(
        permission_classes=[IsMember], description="Move the next delivery within ±3 days."
    )
    async def reschedule_next_delivery(
        self, info: Info[Context, Any], input: RescheduleInput
    ) -> SubscriptionPayload:
        deps, member = info.context.runtime.subscriptions, _actor(info)
        return _payload(
            *await attempt(
                SubscriptionError,
                lambda: services.reschedule_next(deps, member, _id(input.id), input.date),
            )
        )

    @strawberry.mutation(permission_classes=[IsMember])
    async def change_subscription_interval(
        self, info: Info[Context, Any], input: ChangeIntervalInput
    ) -> SubscriptionPayload:
        deps, member = info.context.runtime.subscriptions, _actor(info)
        return _payload(
            *await attempt(
                SubscriptionError,
                lambda: services.change_interval(
                    deps, member, _id(input.id), input.interval.to_domain()
                ),
            )
        )

    @strawberry.mutation(permission_classes=[IsMember])
    async def change_subscription_fulfilment(
        self, info: Info[Context, Any], input: ChangeFulfilmentInput
    ) -> SubscriptionPayload:
        deps, member = info.context.runtime.subscriptions, _actor(info)

        async def run() -> Any:
            f = _fulfilment(input.fulfilment)
            return await services.change_fulfilment(
                deps, member, _id(input.id), f["pickup"], f["address"], f["lat"], f["lon"]
            )

        return _payload(*await attempt(SubscriptionError, run))

    @strawberry.mutation(permission_classes=[IsMember])
    async def cancel_subscription(
        self, info: Info[Context, Any], input: CancelSubscriptionInput
    ) -> SubscriptionPayload:
        deps, member = info.context.runtime.subscriptions, _actor(info)
        return _payload(
            *await attempt(
                SubscriptionError,
                lambda: services.cancel(deps, member, _id(input.id), input.reason),
            )
        )
