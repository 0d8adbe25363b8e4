from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast
from uuid import UUID

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from api.context import Context
from api.errors import OrderError, PickupAlternative, user_error
from api.permissions import IsAuthenticated
from api.relay import decode_id, encode_id
from api.types.orders import Order
from domain.errors import DomainError, OrderErrorCode
from domain.errors import OrderError as DomainOrderError
from domain.identity.model import Principal
from domain.inventory.model import StockLine
from domain.ordering import handover, lifecycle, payments
from domain.ordering.checkout import Checkout, DeliveryTo, PickupShortage, place_order
from domain.ordering.model import MAX_LINES, SalesChannel

T = TypeVar("T")


def order_errors(error: DomainError) -> list[OrderError]:
    if isinstance(error, PickupShortage):
        alternatives = [
            PickupAlternative(
                location_id=encode_id("Location", a.location_id), distance=round(a.distance_m, 1)
            )
            for a in error.alternatives
        ]
        return [
            OrderError(
                code=OrderErrorCode.INSUFFICIENT_STOCK,
                field=["lines"],
                message=f"The store has {s.available}; {s.requested} requested.",
                variant_id=encode_id("Variant", s.variant_id),
                available=s.available,
                alternatives=alternatives,
            )
            for s in error.shortages
        ]
    return [cast(OrderError, user_error(OrderError, error))]


async def attempt_order(action: Callable[[], Awaitable[T]]) -> tuple[T | None, list[OrderError]]:
    try:
        return await action(), []
    except DomainError as error:
        return None, order_errors(error)


def _actor(info: Info[Context, Any]) -> Principal:
    principal = info.context.principal
    assert principal is not None
    return principal


@strawberry.type
class OrderPayload:
    order: Order | None = None
    errors: list[OrderError] = strawberry.field(default_factory=list)


def _payload(order: Any, errors: list[OrderError]) -> OrderPayload:
    return OrderPayload(order=Order.from_domain(order) if order else None, errors=errors)


@strawberry.input
class OrderLineInput:
    variant_id: strawberry.ID
    quantity: int


@strawberry.input
class PickupInput:
    location_id: strawberry.ID


@strawberry.input
class DeliveryInput:
    address: str
    latitude: float
    longitude: float


@strawberry.input(description="Exactly one of `pickup` or `delivery`.")
class FulfilmentInput:
    pickup: PickupInput | None = None
    delivery: DeliveryInput | None = None


@strawberry.input
class PlaceOrderInput:
    channel: SalesChannel
    lines: list[OrderLineInput]
    fulfilment: FulfilmentInput
    note: str = ""
    member_id: strawberry.ID | None = strawberry.field(
        default=None, description="POS/staff: the looked-up member; leave out for a walk-in."
    )
    points_to_redeem: int = strawberry.field(
        default=0, description="Points to pay with (held now, spent when the order is paid)."
    )
    idempotency_key: str | None = None


def _checkout(actor: Principal, data: PlaceOrderInput) -> Checkout:
    if len(data.lines) > MAX_LINES:
        raise DomainOrderError(
            OrderErrorCode.TOO_MANY_ITEMS, f"At most {MAX_LINES} lines.", ["lines"]
        )
    member: UUID | None = actor.id if actor.is_member else None
    if data.member_id is not None:
        member = decode_id(data.member_id, "Member", "memberId")
    pickup, delivery = data.fulfilment.pickup, data.fulfilment.delivery
    return Checkout(
        channel=data.channel,
        lines=[
            StockLine(
                decode_id(x.variant_id, "Variant", ["lines", str(n), "variantId"]), x.quantity
            )
            for n, x in enumerate(data.lines)
        ],
        member_id=member,
        pickup_location_id=(
            decode_id(pickup.location_id, "Location", ["fulfilment", "pickup", "locationId"])
            if pickup
            else None
        ),
        delivery=DeliveryTo(delivery.address, delivery.latitude, delivery.longitude)
        if delivery
        else None,
        note=data.note,
        points_to_redeem=data.points_to_redeem,
    )


@strawberry.input
class OrderIdInput:
    order_id: strawberry.ID


@strawberry.input
class PayOrderInput:
    order_id: strawberry.ID
    provider: str = "devpay"


@strawberry.type
class PaymentInstructions:
    provider: str
    payment_ref: str
    payload: JSON = strawberry.field(description="Pass to the provider's client SDK.")


@strawberry.type
class PayOrderPayload:
    order: Order | None = None
    payment: PaymentInstructions | None = None
    errors: list[OrderError] = strawberry.field(default_factory=list)


@strawberry.input
class InStorePaymentInput:
    order_id: strawberry.ID
    method: str = strawberry.field(description="CASH, CARD, WECHAT_PAY_QR or ALIPAY_QR.")
    amount: int = strawberry.field(description="Fen; must equal the order total.")


@strawberry.input
class CompletePickupInput:
    location_id: strawberry.ID
    pickup_code: str = strawberry.field(description="The 6 digits, or the scanned QR payload.")
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="A retried hand-over with the same key answers the same order (and is "
        "not counted as a wrong code).",
    )


@strawberry.input
class LiftPickupCodeLockInput:
    location_id: strawberry.ID
    reason: str


@strawberry.type
class LiftPickupCodeLockPayload:
    ok: bool = False
    errors: list[OrderError] = strawberry.field(default_factory=list)


@strawberry.input
class HandOverWithoutCodeInput:
    order_id: strawberry.ID
    member_id: strawberry.ID = strawberry.field(
        description="The member you looked up (lookupMember): it must be the order's."
    )
    reason: str
    idempotency_key: str | None = None


@strawberry.input
class CancelOrderInput:
    order_id: strawberry.ID
    reason: str


def _order_id(value: strawberry.ID) -> Any:
    return decode_id(value, "Order", "orderId")


@strawberry.type
class OrderMutations:
    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Check out: catalog prices; stock reserved until the payment deadline.",
    )
    async def place_order(self, info: Info[Context, Any], input: PlaceOrderInput) -> OrderPayload:
        deps, actor = info.context.runtime.ordering, _actor(info)
        return _payload(
            *await attempt_order(
                lambda: place_order(deps, actor, _checkout(actor, input), input.idempotency_key)
            )
        )

    @strawberry.mutation(permission_classes=[IsAuthenticated], description="Start paying an order.")
    async def pay_order(self, info: Info[Context, Any], input: PayOrderInput) -> PayOrderPayload:
        deps, actor = info.context.runtime.ordering, _actor(info)
        result, errors = await attempt_order(
            lambda: payments.pay_order(deps, actor, _order_id(input.order_id), input.provider)
        )
        if result is None:
            return PayOrderPayload(errors=errors)
        order, request = result
        return PayOrderPayload(
            order=Order.from_domain(order),
            payment=PaymentInstructions(
                provider=input.provider,
                payment_ref=request.provider_ref,
                payload=cast(JSON, request.client_payload),
            ),
        )

    @strawberry.mutation(permission_classes=[IsAuthenticated], description="POS: paid at the till.")
    async def record_in_store_payment(
        self, info: Info[Context, Any], input: InStorePaymentInput
    ) -> OrderPayload:
        deps, actor = info.context.runtime.ordering, _actor(info)
        return _payload(
            *await attempt_order(
                lambda: payments.record_in_store_payment(
                    deps, actor, _order_id(input.order_id), input.method, input.amount
                )
            )
        )

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="STORE_MANAGER: the store's counters take pickup codes again (audited).",
    )
    async def lift_pickup_code_lock(
        self, info: Info[Context, Any], input: LiftPickupCodeLockInput
    ) -> LiftPickupCodeLockPayload:
        deps, actor = info.context.runtime.ordering, _actor(info)

        async def run() -> bool:
            location = decode_id(input.location_id, "Location", "locationId")
            await handover.lift_pickup_lock(deps, actor, location, input.reason)
            return True

        ok, errors = await attempt_order(run)
        return LiftPickupCodeLockPayload(ok=bool(ok), errors=errors)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="STORE_MANAGER: hand a ready order over without its code (lost or expired) "
        "to the member you looked up; on the order's timeline with the reason.",
    )
    async def hand_over_without_code(
        self, info: Info[Context, Any], input: HandOverWithoutCodeInput
    ) -> OrderPayload:
        deps, actor = info.context.runtime.ordering, _actor(info)
        return _payload(
            *await attempt_order(
                lambda: handover.hand_over_without_code(
                    deps,
                    actor,
                    _order_id(input.order_id),
                    decode_id(input.member_id, "Member", "memberId"),
                    input.reason,
                    input.idempotency_key,
                )
            )
        )

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def start_preparing_order(
        self, info: Info[Context, Any], input: OrderIdInput
    ) -> OrderPayload:
        deps, actor = info.context.runtime.ordering, _actor(info)
        return _payload(
            *await attempt_order(
                lambda: lifecycle.start_preparing(deps, actor, _order_id(input.order_id))
            )
        )

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Packed: issues the pickup code and tells the customer.",
    )
    async def mark_order_ready_for_pickup(
        self, info: Info[Context, Any], input: OrderIdInput
    ) -> OrderPayload:
        deps, actor = info.context.runtime.ordering, _actor(info)
        return _payload(
            *await attempt_order(
                lambda: lifecycle.mark_ready(deps, actor, _order_id(input.order_id))
            )
        )

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Hand over the goods against the code; commits the stock.",
    )
    async def complete_pickup(
        self, info: Info[Context, Any], input: CompletePickupInput
    ) -> OrderPayload:
        deps, actor = info.context.runtime.ordering, _actor(info)
        return _payload(
            *await attempt_order(
                lambda: lifecycle.complete_pickup(
                    deps,
                    actor,
                    decode_id(input.location_id, "Location", "locationId"),
                    input.pickup_code,
                    input.idempotency_key,
                )
            )
        )

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def cancel_order(self, info: Info[Context, Any], input: CancelOrderInput) -> OrderPayload:
        deps, actor = info.context.runtime.ordering, _actor(info)
        return _payload(
            *await attempt_order(
                lambda: lifecycle.cancel_order(deps, actor, _order_id(input.order_id), input.reason)
            )
        )

    @strawberry.mutation(permission_classes=[IsAuthenticated], description="Delivery: shipped.")
    async def ship_order(self, info: Info[Context, Any], input: OrderIdInput) -> OrderPayload:
        deps, actor = info.context.runtime.ordering, _actor(info)
        return _payload(
            *await attempt_order(
                lambda: lifecycle.ship_order(deps, actor, _order_id(input.order_id))
            )
        )

    @strawberry.mutation(permission_classes=[IsAuthenticated], description="Delivery: delivered.")
    async def mark_order_delivered(
        self, info: Info[Context, Any], input: OrderIdInput
    ) -> OrderPayload:
        deps, actor = info.context.runtime.ordering, _actor(info)
        return _payload(
            *await attempt_order(
                lambda: lifecycle.mark_delivered(deps, actor, _order_id(input.order_id))
            )
        )
