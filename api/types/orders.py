from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, cast
from uuid import UUID

import strawberry
from strawberry.types import Info

from api.context import Context
from api.lean import lean
from api.loaders import now_or_later
from api.relay import Connection, Node, encode_id
from api.types.catalog import Money, Product, Variant, money_of
from api.types.desk import InvoiceRequest, StaffNote
from api.types.locations import Location
from domain.aftersales.desk import may_note_order, may_read_invoice
from domain.catalog.model import Product as DomainProduct
from domain.catalog.model import Variant as DomainVariant
from domain.identity.model import ApiScope, DeviceKind
from domain.ordering import model as m
from domain.ordering.model import (
    Fulfilment,
    OrderStatus,
    PaymentKind,
    PaymentStatus,
    SalesChannel,
)
from domain.ordering.services import is_cs, is_store_staff, reads_all_orders

if TYPE_CHECKING:
    from api.types.aftersales import AfterSale
    from api.types.members import Member
    from api.types.reviews import Review

for _enum in (OrderStatus, Fulfilment, SalesChannel, PaymentKind, PaymentStatus):
    strawberry.enum(_enum)


@dataclass(frozen=True)
class LineGoods:
    """The catalog rows the lines of an order page name, read once for the page."""

    variants: Mapping[UUID, DomainVariant] = field(default_factory=dict)
    products: Mapping[UUID, DomainProduct] = field(default_factory=dict)


NO_GOODS = LineGoods()


@strawberry.type
class OrderLine:
    id: strawberry.ID = strawberry.field(description="What an after-sale names (orderLineId).")
    sku: str
    name: str
    quantity: int
    unit_price: Money = strawberry.field(description="Paid per unit: the member price if any.")
    list_price: Money = strawberry.field(description="The shelf price per unit.")
    total: Money
    member_saving: Money = strawberry.field(description="What the member price took off.")
    coupon_discount: Money = strawberry.field(
        description="This line's part of the order's coupon discounts (what a refund of the "
        "line leaves out)."
    )
    variant_key: strawberry.Private[Any]
    product_key: strawberry.Private[Any]
    line_key: strawberry.Private[Any]
    member_key: strawberry.Private[Any]  # the order's member
    goods: strawberry.Private[LineGoods] = NO_GOODS

    @classmethod
    def from_domain(
        cls, line: m.OrderLine, order: m.Order, goods: LineGoods = NO_GOODS
    ) -> OrderLine:
        currency = order.currency
        return cls(
            id=encode_id("OrderLine", line.id),
            sku=line.sku,
            name=line.name,
            quantity=line.quantity,
            unit_price=money_of(line.unit_price, currency),
            list_price=money_of(line.list_unit_price, currency),
            total=money_of(line.total, currency),
            member_saving=money_of(line.member_saving, currency),
            coupon_discount=money_of(line.coupon_discount, currency),
            variant_key=line.variant_id,
            product_key=line.product_id,
            line_key=line.id,
            member_key=order.member_id,
            goods=goods,
        )

    @strawberry.field
    def variant(self, info: Info[Context, Any]) -> Variant | None:
        return cast("Variant | None", _line_variant(self, info.context))

    @strawberry.field
    def product(self, info: Info[Context, Any]) -> Product | None:
        return cast("Product | None", _line_product(self, info.context))

    @strawberry.field(description="The member's review of this line (the member and CS).")
    async def review(
        self, info: Info[Context, Any]
    ) -> Annotated[Review, strawberry.lazy("api.types.reviews")] | None:
        from api.types.reviews import Review

        actor = info.context.principal
        if actor is None or not ((actor.is_member and actor.id == self.member_key) or is_cs(actor)):
            return None
        found = await info.context.loaders.review_by_line.load(self.line_key)
        return Review.from_domain(found) if found else None


@lean("OrderLine", "variant")
def _line_variant(line: OrderLine, context: Context) -> object:
    """Synchronous when the order page read its lines' variants (and products); else one
    batch for every line asking."""
    found = line.goods.variants.get(line.variant_key)
    if found is not None:
        return Variant.from_domain(found, product=line.goods.products.get(found.product_id))
    return now_or_later(context.loaders.variant, line.variant_key, Variant.from_domain)


@lean("OrderLine", "product")
def _line_product(line: OrderLine, context: Context) -> object:
    found = line.goods.products.get(line.product_key)
    if found is not None:
        return Product.from_domain(found)
    return now_or_later(context.loaders.product, line.product_key, Product.from_domain)


@strawberry.type(description="What the customer shows at the counter.")
class Pickup:
    code: str = strawberry.field(description="Six digits, unique among the store's open pickups.")
    qr_payload: str = strawberry.field(description="Signed payload for the POS scanner.")
    deadline: datetime


@strawberry.type(description="One step of the order's history.")
class OrderEvent:
    from_status: OrderStatus | None
    to_status: OrderStatus
    actor: str = strawberry.field(description="The audit label: STAFF:<id>, MEMBER:<id>, ...")
    reason: str
    at: datetime

    @strawberry.field(
        description="Who, readable: the staff username or device name, `member`, `system`."
    )
    async def actor_name(self, info: Info[Context, Any]) -> str:
        return await info.context.loaders.actor_name.load(self.actor)


@strawberry.type(
    description="A payment, or a refund: REFUND_PENDING -> REFUND_SUBMITTED -> REFUNDED or "
    "REFUND_FAILED (with the provider's reason); REFUND_AT_TILL is given back at the till."
)
class OrderPayment:
    id: strawberry.ID = strawberry.field(
        description="`Payment:<uuid>`: what confirmTillRefund and retryRefund take."
    )
    kind: PaymentKind
    provider: str
    method: str
    amount: Money
    status: PaymentStatus
    created_at: datetime
    completed_at: datetime | None = strawberry.field(
        default=None, description="When the payment succeeded, or the refund's money was back."
    )
    reason: str | None = strawberry.field(
        default=None,
        description="A refund's last failure as the provider gave it (a failed or retried one).",
    )
    attempts: int = strawberry.field(
        default=0, description="A refund's submissions and polls to the provider so far."
    )

    @classmethod
    def from_domain(cls, p: m.Payment) -> OrderPayment:
        return cls(
            id=encode_id("Payment", p.id),
            kind=p.kind,
            provider=p.provider,
            method=p.method,
            amount=money_of(p.amount, p.currency),
            status=p.status,
            created_at=p.created_at,
            completed_at=p.completed_at,
            reason=p.reason or None,
            attempts=p.attempts,
        )


@strawberry.type(description="A message to the customer and whether it went out.")
class OrderNotification:
    kind: str
    status: str = strawberry.field(description="PENDING, SENDING, SENT or FAILED.")
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


@strawberry.type
class Order(Node):
    number: str
    pickup_number: str | None = strawberry.field(
        description="What the store calls and its board shows (A023): a pickup order's number "
        "of the day, unique at its store on the store's local day, given when it is placed."
    )
    status: OrderStatus
    channel: SalesChannel
    fulfilment: Fulfilment
    subtotal: Money = strawberry.field(description="The lines at list prices.")
    member_savings: Money = strawberry.field(
        description="What member prices (and flash-sale prices) took off."
    )
    coupon_discount: Money = strawberry.field(
        description="What the order's coupons took off (each line shows its part)."
    )
    total: Money = strawberry.field(
        description="`subtotal - memberSavings - couponDiscount`: before points."
    )
    created_at: datetime
    updated_at: datetime
    payment_deadline: datetime | None
    paid_at: datetime | None
    pickup_deadline: datetime | None
    cancel_reason: str | None
    at_risk: bool = strawberry.field(
        description="A till sale took goods this order holds: the store must check the shelf."
    )
    lines: list[OrderLine]
    points_redeemed: int
    points_discount: Money = strawberry.field(description="What points paid.")
    amount_due: Money = strawberry.field(description="What is paid in money.")
    domain: strawberry.Private[m.Order]

    @classmethod
    def from_domain(cls, order: m.Order, goods: LineGoods = NO_GOODS) -> Order:
        return cls(
            id=encode_id("Order", order.id),
            number=order.number,
            pickup_number=order.pickup_number,
            status=order.status,
            channel=order.channel,
            fulfilment=order.fulfilment,
            subtotal=money_of(order.subtotal, order.currency),
            member_savings=money_of(order.member_savings, order.currency),
            coupon_discount=money_of(order.coupon_discount, order.currency),
            total=money_of(order.total, order.currency),
            created_at=order.created_at,
            updated_at=order.updated_at,
            payment_deadline=order.payment_deadline,
            paid_at=order.paid_at,
            pickup_deadline=order.pickup_deadline,
            cancel_reason=order.cancel_reason,
            at_risk=order.at_risk,
            lines=[OrderLine.from_domain(x, order, goods) for x in order.lines],
            points_redeemed=order.points_redeemed,
            points_discount=money_of(order.points_discount, order.currency),
            amount_due=money_of(order.amount_due, order.currency),
            domain=order,
        )

    def _staff_view(self, info: Info[Context, Any]) -> bool:
        actor = info.context.principal
        return actor is not None and (
            is_cs(actor)
            or is_store_staff(actor, self.domain.location_id)
            or reads_all_orders(actor)
        )

    @strawberry.field(
        description="The customer's note (less sugar, call on arrival). Null for a KIOSK: a "
        "public screen shows no customer's words."
    )
    def note(self, info: Info[Context, Any]) -> str | None:
        actor = info.context.principal
        if actor is not None and actor.device_kind is DeviceKind.KIOSK:
            return None
        return self.domain.note

    @strawberry.field(
        description="A renewal order's subscription (`MemberSubscription` id); null for "
        "other orders."
    )
    async def subscription_id(self, info: Info[Context, Any]) -> strawberry.ID | None:
        cycle = await info.context.loaders.cycle_by_order.load(self.domain.id)
        return encode_id("Subscription", cycle.subscription_id) if cycle else None

    @strawberry.field(
        description="A renewal order's store-local delivery (or pickup) date: the store "
        "prepares it for that day; null for other orders."
    )
    async def delivery_date(self, info: Info[Context, Any]) -> date | None:
        cycle = await info.context.loaders.cycle_by_order.load(self.domain.id)
        return cycle.scheduled_date if cycle else None

    @strawberry.field(description="The store or warehouse that fulfils the order.")
    async def location(self, info: Info[Context, Any]) -> Location | None:
        found = await info.context.loaders.location.load(self.domain.location_id)
        return Location.from_domain(found) if found else None

    @strawberry.field(description="The pickup code: for the ordering member only.")
    async def pickup(self, info: Info[Context, Any]) -> Pickup | None:
        actor = info.context.principal
        if actor is None or not actor.is_member or actor.id != self.domain.member_id:
            return None
        found = await info.context.loaders.pickup_by_order.load(self.domain.id)
        if found is None:
            return None
        from domain.ordering.lifecycle import qr_payload

        return Pickup(
            code=found.code,
            qr_payload=qr_payload(info.context.runtime.ordering, found),
            deadline=found.deadline,
        )

    @strawberry.field(description="Every transition (staff of the store and CS).")
    async def timeline(self, info: Info[Context, Any]) -> list[OrderEvent] | None:
        if not self._staff_view(info):
            return None
        events = await info.context.loaders.events_by_order.load(self.domain.id)
        return [
            OrderEvent(
                from_status=e.from_status,
                to_status=e.to_status,
                actor=e.actor,
                reason=e.reason,
                at=e.at,
            )
            for e in events
        ]

    @strawberry.field(
        description="Internal notes, oldest first: CS, ADMIN and the store's staff; never the "
        "member."
    )
    async def notes(self, info: Info[Context, Any]) -> list[StaffNote] | None:
        if not may_note_order(info.context.principal, self.domain):
            return None
        found = await info.context.loaders.notes_by_subject.load(self.domain.id)
        return [StaffNote.from_domain(n) for n in found]

    @strawberry.field(description="The e-invoice request (发票): the member, CS and ADMIN.")
    async def invoice(self, info: Info[Context, Any]) -> InvoiceRequest | None:
        if not may_read_invoice(info.context.principal, self.domain):
            return None
        found = await info.context.loaders.invoice_by_order.load(self.domain.id)
        return InvoiceRequest.opened(info, found) if found else None

    @strawberry.field(description="Payments and refunds (staff of the store and CS).")
    async def payments(self, info: Info[Context, Any]) -> list[OrderPayment] | None:
        if not self._staff_view(info):
            return None
        found = await info.context.loaders.payments_by_order.load(self.domain.id)
        return [OrderPayment.from_domain(p) for p in found]

    @strawberry.field(description="Notifications to the customer (CS and ADMIN).")
    async def notifications(self, info: Info[Context, Any]) -> list[OrderNotification] | None:
        actor = info.context.principal
        if actor is None or not is_cs(actor):
            return None
        found = await info.context.loaders.notifications_by_order.load(self.domain.id)
        return [
            OrderNotification(
                kind=n.kind,
                status=n.status.value,
                attempts=n.attempts,
                last_error=n.last_error,
                created_at=n.created_at,
                sent_at=n.sent_at,
            )
            for n in found
        ]

    @strawberry.field(
        description="Returns and refund-only requests of the order, oldest first (its member, "
        "the store's staff, CS)."
    )
    async def after_sales(
        self, info: Info[Context, Any]
    ) -> list[Annotated[AfterSale, strawberry.lazy("api.types.aftersales")]] | None:
        actor = info.context.principal
        if actor is None:
            return None
        mine = actor.is_member and actor.id == self.domain.member_id
        if not (mine or is_cs(actor) or is_store_staff(actor, self.domain.location_id)):
            return None
        from api.types.aftersales import AfterSale

        found = await info.context.loaders.after_sales_by_order.load(self.domain.id)
        return [AfterSale.from_domain(a) for a in found]

    @strawberry.field(
        description="The customer (staff of the store, CS; API keys with members:read, masked)."
    )
    async def member(
        self, info: Info[Context, Any]
    ) -> Annotated[Member, strawberry.lazy("api.types.members")] | None:
        actor = info.context.principal
        if self.domain.member_id is None or not self._staff_view(info):
            return None
        integration = actor is not None and reads_all_orders(actor)
        if integration and not (actor and actor.has_scope(ApiScope.MEMBERS_READ)):
            return None  # an ERP sees its customer only with members:read
        from api.types.members import Member

        found = await info.context.loaders.member.load(self.domain.member_id)
        return Member.for_viewer(found, actor) if found else None


@strawberry.type
class OrderConnection(Connection[Order]):
    """Orders, newest first."""
