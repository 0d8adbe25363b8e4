"""After-sales as clients see them: the request, its lines, its timeline."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from api.context import Context
from api.relay import Connection, Node, encode_id
from api.types.desk import actor_name
from domain.aftersales import model as m
from domain.aftersales.model import AfterSaleKind, AfterSaleStatus, Condition
from domain.ordering.model import Payment, PaymentStatus

if TYPE_CHECKING:
    from api.types.orders import Order

strawberry.enum(AfterSaleKind)
strawberry.enum(AfterSaleStatus)
strawberry.enum(Condition)


@strawberry.type(description="Units of one order line an after-sale asks for, and their fate.")
class AfterSaleLine:
    order_line_id: strawberry.ID
    quantity: int = strawberry.field(description="Units asked for.")
    received: int = strawberry.field(description="Units received back resaleable (on the shelf).")
    damaged: int = strawberry.field(description="Units received back damaged (written off).")
    refunded: int = strawberry.field(description="Units refunded.")
    refund_amount: int = strawberry.field(description="Fen given back for them.")
    points_returned: int = strawberry.field(description="Redeemed points given back for them.")

    @classmethod
    def from_domain(cls, line: m.AfterSaleLine) -> AfterSaleLine:
        return cls(
            order_line_id=encode_id("OrderLine", line.order_line_id),
            quantity=line.quantity,
            received=line.received,
            damaged=line.damaged,
            refunded=line.refunded,
            refund_amount=line.refund_amount,
            points_returned=line.points_returned,
        )


@strawberry.type(description="The refund of an after-sale as the order's payments hold it.")
class AfterSaleRefund:
    payment_id: strawberry.ID = strawberry.field(description="For retryRefund/confirmTillRefund.")
    status: PaymentStatus
    reason: str | None = strawberry.field(description="The provider's reason of a failure.")
    attempts: int

    @classmethod
    def from_domain(cls, refund: Payment) -> AfterSaleRefund:
        return cls(
            payment_id=encode_id("Payment", refund.id),
            status=refund.status,
            reason=refund.reason or None,
            attempts=refund.attempts,
        )


@strawberry.type
class AfterSaleEvent:
    from_status: AfterSaleStatus | None
    to_status: AfterSaleStatus
    actor: str
    note: str
    at: datetime

    @strawberry.field(
        description="Who, readable: the staff username or device name, `member`, `system`."
    )
    async def actor_name(self, info: Info[Context, Any]) -> str:
        return await actor_name(info, self.actor)


@strawberry.type(
    description="A return (or a refund only) of some units of a handed-over order: "
    "REQUESTED -> APPROVED -> RETURN_RECEIVED -> REFUNDING -> REFUNDED, or REJECTED."
)
class AfterSale(Node):
    order_id: strawberry.ID
    kind: AfterSaleKind
    status: AfterSaleStatus
    reason: str
    photo_urls: list[str]
    requested_by: str = strawberry.field(description="Who asked: the member, or CS/staff for them.")
    decision_reason: str
    refund_amount: int = strawberry.field(description="Fen refunded (0 until the refund starts).")
    created_at: datetime
    updated_at: datetime
    lines: list[AfterSaleLine]
    domain: strawberry.Private[m.AfterSale]

    @classmethod
    def from_domain(cls, after_sale: m.AfterSale) -> AfterSale:
        return cls(
            id=encode_id("AfterSale", after_sale.id),
            order_id=encode_id("Order", after_sale.order_id),
            kind=after_sale.kind,
            status=after_sale.status,
            reason=after_sale.reason,
            photo_urls=list(after_sale.photo_urls),
            requested_by=after_sale.requested_by,
            decision_reason=after_sale.decision_reason,
            refund_amount=after_sale.refund_amount,
            created_at=after_sale.created_at,
            updated_at=after_sale.updated_at,
            lines=[AfterSaleLine.from_domain(line) for line in after_sale.lines],
            domain=after_sale,
        )

    @strawberry.field(description="Every change, with who made it.")
    async def timeline(self, info: Info[Context, Any]) -> list[AfterSaleEvent]:
        events = await info.context.loaders.events_by_after_sale.load(self.domain.id)
        return [
            AfterSaleEvent(
                from_status=e.from_status,
                to_status=e.to_status,
                actor=e.actor,
                note=e.note,
                at=e.at,
            )
            for e in events
        ]

    @strawberry.field(
        description="The refund of the order's payment this after-sale waits for (a retried "
        "one replaces a failed one): its `Payment:<uuid>` id, status and the provider's reason."
    )
    async def refund(self, info: Info[Context, Any]) -> AfterSaleRefund | None:
        found = await self._refund_payment(info)
        return AfterSaleRefund.from_domain(found) if found else None

    async def _refund_payment(self, info: Info[Context, Any]) -> Payment | None:
        refund_id = self.domain.refund_payment_id
        if refund_id is None:
            return None
        payments = await info.context.loaders.payments_by_order.load(self.domain.order_id)
        return next((p for p in payments if p.id == refund_id), None)

    @strawberry.field(
        description="Why the money is not coming: the refund FAILED (the provider's reason; CS "
        "`retryRefund`), or it is given back AT_TILL (the store `confirmTillRefund`s it). "
        "Null while the refund is on its way or done."
    )
    async def refund_problem(self, info: Info[Context, Any]) -> str | None:
        refund = await self._refund_payment(info)
        if refund is None:
            return None
        if refund.status is PaymentStatus.REFUND_FAILED:
            return f"FAILED: {refund.reason or 'no reason given'}"
        if refund.status is PaymentStatus.REFUND_AT_TILL:
            return "AT_TILL: the store gives the money back at the till"
        return None

    @strawberry.field(description="The order (for whoever may read it).")
    async def order(
        self, info: Info[Context, Any]
    ) -> Annotated[Order, strawberry.lazy("api.types.orders")] | None:
        from api.types.orders import Order as OrderType
        from domain.ordering.services import may_read

        found = await info.context.loaders.order.load(self.domain.order_id)
        if found is None or not may_read(info.context.principal, found):
            return None
        return OrderType.from_domain(found)


@strawberry.type
class AfterSaleConnection(Connection[AfterSale]):
    """Newest first."""
