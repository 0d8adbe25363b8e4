from __future__ import annotations

from typing import cast
from uuid import UUID

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from api.context import Context
from api.errors import OrderUserError
from api.mutations import actor, mutate
from api.permissions import IsAuthenticated
from api.relay import decode_id
from api.types.orders import Order
from domain.identity.model import Principal
from domain.inventory.model import StockLine
from domain.ordering import handover, lifecycle, payments
from domain.ordering.checkout import Checkout, DeliveryTo, place_order
from domain.ordering.model import Order as DomainOrder
from domain.ordering.model import SalesChannel
from domain.ordering.ports import PaymentRequest


@strawberry.type
class OrderPayload:
    order: Order | None = None
    errors: list[OrderUserError] = strawberry.field(default_factory=list)


def _present(order: DomainOrder) -> OrderPayload:
    return OrderPayload(order=Order.from_domain(order))


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
    member_code: str | None = strawberry.field(
        default=None,
        description="POS/staff: the member code the member showed (`me { memberCode }`): the "
        "order is theirs and may spend their points and coupons; the code is used up.",
    )
    coupon_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list,
        description="The member's coupons (`me { coupons }`, or the quote's `couponOptions`), "
        "applied in this order, each to what the ones before it left: held for the order, "
        "used when it is paid, given back if it is cancelled, times out or is fully refunded. "
        "More than one only when all of them combine.",
    )
    idempotency_key: str | None = None


def checkout_of(caller: Principal | None, data: PlaceOrderInput) -> Checkout:
    """The checkout an input asks for (placeOrder, and checkoutQuote with the same input)."""
    member: UUID | None = caller.id if caller is not None and caller.is_member else None
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
        member_code=data.member_code,
        coupon_ids=[
            decode_id(x, "Coupon", ["couponIds", str(n)]) for n, x in enumerate(data.coupon_ids)
        ],
    )


@strawberry.input
class OrderIdInput:
    order_id: strawberry.ID


@strawberry.input
class PayOrderInput:
    order_id: strawberry.ID
    provider: str | None = strawberry.field(
        default=None,
        description="wechatpay or devpay; default: the first of the server's PAYMENT_PROVIDERS.",
    )


@strawberry.type
class PaymentInstructions:
    provider: str
    payment_ref: str
    payload: JSON = strawberry.field(description="Pass to the provider's client SDK.")


@strawberry.type
class PayOrderPayload:
    order: Order | None = None
    payment: PaymentInstructions | None = None
    errors: list[OrderUserError] = strawberry.field(default_factory=list)


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
    errors: list[OrderUserError] = strawberry.field(default_factory=list)


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


def _order_id(value: strawberry.ID) -> UUID:
    return decode_id(value, "Order", "orderId")


@strawberry.type
class OrderMutations:
    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Check out: catalog prices; stock reserved until the payment deadline.",
    )
    async def place_order(
        self, info: Info[Context, object], input: PlaceOrderInput
    ) -> OrderPayload:
        deps, caller = info.context.runtime.ordering, actor(info)
        return await mutate(
            OrderPayload,
            OrderUserError,
            lambda: place_order(deps, caller, checkout_of(caller, input), input.idempotency_key),
            _present,
        )

    @strawberry.mutation(permission_classes=[IsAuthenticated], description="Start paying an order.")
    async def pay_order(self, info: Info[Context, object], input: PayOrderInput) -> PayOrderPayload:
        deps, caller = info.context.runtime.ordering, actor(info)

        def present(result: tuple[DomainOrder, PaymentRequest]) -> PayOrderPayload:
            order, request = result
            return PayOrderPayload(
                order=Order.from_domain(order),
                payment=PaymentInstructions(
                    provider=request.provider,
                    payment_ref=request.provider_ref,
                    payload=cast(JSON, request.client_payload),
                ),
            )

        return await mutate(
            PayOrderPayload,
            OrderUserError,
            lambda: payments.pay_order(deps, caller, _order_id(input.order_id), input.provider),
            present,
        )

    @strawberry.mutation(permission_classes=[IsAuthenticated], description="POS: paid at the till.")
    async def record_in_store_payment(
        self, info: Info[Context, object], input: InStorePaymentInput
    ) -> OrderPayload:
        deps, caller = info.context.runtime.ordering, actor(info)
        return await mutate(
            OrderPayload,
            OrderUserError,
            lambda: payments.record_in_store_payment(
                deps, caller, _order_id(input.order_id), input.method, input.amount
            ),
            _present,
        )

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="STORE_MANAGER: the store's counters take pickup codes again (audited).",
    )
    async def lift_pickup_code_lock(
        self, info: Info[Context, object], input: LiftPickupCodeLockInput
    ) -> LiftPickupCodeLockPayload:
        deps, caller = info.context.runtime.ordering, actor(info)
        return await mutate(
            LiftPickupCodeLockPayload,
            OrderUserError,
            lambda: handover.lift_pickup_lock(
                deps, caller, decode_id(input.location_id, "Location", "locationId"), input.reason
            ),
            lambda _: LiftPickupCodeLockPayload(ok=True),
        )

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="STORE_MANAGER: hand a ready order over without its code (lost or expired) "
        "to the member you looked up; on the order's timeline with the reason.",
    )
    async def hand_over_without_code(
        self, info: Info[Context, object], input: HandOverWithoutCodeInput
    ) -> OrderPayload:
        deps, caller = info.context.runtime.ordering, actor(info)
        return await mutate(
            OrderPayload,
            OrderUserError,
            lambda: handover.hand_over_without_code(
                deps,
                caller,
                _order_id(input.order_id),
                decode_id(input.member_id, "Member", "memberId"),
                input.reason,
                input.idempotency_key,
            ),
            _present,
        )

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def start_preparing_order(
        self, info: Info[Context, object], input: OrderIdInput
    ) -> OrderPayload:
        deps, caller = info.context.runtime.ordering, actor(info)
        return await mutate(
            OrderPayload,
            OrderUserError,
            lambda: lifecycle.start_preparing(deps, caller, _order_id(input.order_id)),
            _present,
        )

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Packed: issues the pickup code and tells the customer.",
    )
    async def mark_order_ready_for_pickup(
        self, info: Info[Context, object], input: OrderIdInput
    ) -> OrderPayload:
        deps, caller = info.context.runtime.ordering, actor(info)
        return await mutate(
            OrderPayload,
            OrderUserError,
            lambda: lifecycle.mark_ready(deps, caller, _order_id(input.order_id)),
            _present,
        )

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Hand over the goods against the code; commits the stock.",
    )
    async def complete_pickup(
        self, info: Info[Context, object], input: CompletePickupInput
    ) -> OrderPayload:
        deps, caller = info.context.runtime.ordering, actor(info)
        return await mutate(
            OrderPayload,
            OrderUserError,
            lambda: lifecycle.complete_pickup(
                deps,
                caller,
                decode_id(input.location_id, "Location", "locationId"),
                input.pickup_code,
                input.idempotency_key,
            ),
            _present,
        )

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def cancel_order(
        self, info: Info[Context, object], input: CancelOrderInput
    ) -> OrderPayload:
        deps, caller = info.context.runtime.ordering, actor(info)
        return await mutate(
            OrderPayload,
            OrderUserError,
            lambda: lifecycle.cancel_order(deps, caller, _order_id(input.order_id), input.reason),
            _present,
        )

    @strawberry.mutation(permission_classes=[IsAuthenticated], description="Delivery: shipped.")
    async def ship_order(self, info: Info[Context, object], input: OrderIdInput) -> OrderPayload:
        deps, caller = info.context.runtime.ordering, actor(info)
        return await mutate(
            OrderPayload,
            OrderUserError,
            lambda: lifecycle.ship_order(deps, caller, _order_id(input.order_id)),
            _present,
        )

    @strawberry.mutation(permission_classes=[IsAuthenticated], description="Delivery: delivered.")
    async def mark_order_delivered(
        self, info: Info[Context, object], input: OrderIdInput
    ) -> OrderPayload:
        deps, caller = info.context.runtime.ordering, actor(info)
        return await mutate(
            OrderPayload,
            OrderUserError,
            lambda: lifecycle.mark_delivered(deps, caller, _order_id(input.order_id)),
            _present,
        )
