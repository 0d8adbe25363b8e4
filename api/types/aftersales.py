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
