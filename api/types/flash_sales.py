"""Flash sales (promotions)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from api.context import Context
from api.relay import Node, encode_id
from api.types.catalog import Money, money_of
from domain.promotions import flash_sales_model as m
from domain.promotions.flash_sales_model import FlashSalePhase

if TYPE_CHECKING:
    from api.types.catalog import Variant

strawberry.enum(FlashSalePhase)


@strawberry.type(description="A flash sale (秒杀): one variant at a sale price for a while.")
class FlashSale(Node):
    price: Money = strawberry.field(description="What a member pays per unit during the sale.")
    starts_at: datetime
    ends_at: datetime
    units_offered: int
    units_sold: int = strawberry.field(
        description="Units in orders that hold the price: unpaid within their payment time, and "
        "paid. A cancelled or timed-out order gives its units back."
    )
    units_left: int
    per_member_limit: int
    online: bool = strawberry.field(description="Delivery orders are covered.")
    location_ids: list[strawberry.ID] = strawberry.field(
        description="Pickup orders at these stores are covered."
    )
    phase: FlashSalePhase
    cancelled_at: datetime | None
    cancel_reason: str | None
    created_at: datetime
    updated_at: datetime
    variant_key: strawberry.Private[Any]

    @classmethod
    def from_domain(cls, sale: m.FlashSale, now: datetime) -> FlashSale:
        return cls(
            id=encode_id("FlashSale", sale.id),
            price=money_of(sale.price, sale.currency),
            starts_at=sale.starts_at,
            ends_at=sale.ends_at,
            units_offered=sale.units_offered,
            units_sold=sale.units_sold,
            units_left=sale.units_left,
            per_member_limit=sale.per_member_limit,
            online=sale.online,
            location_ids=[encode_id("Location", x) for x in sale.location_ids],
            phase=sale.phase(now),
            cancelled_at=sale.cancelled_at,
            cancel_reason=sale.cancel_reason,
            created_at=sale.created_at,
            updated_at=sale.updated_at,
            variant_key=sale.variant_id,
        )

    @strawberry.field
    async def variant(
        self, info: Info[Context, Any]
    ) -> Annotated[Variant, strawberry.lazy("api.types.catalog")] | None:
        from api.types.catalog import Variant

        found = await info.context.loaders.variant.load(self.variant_key)
        return Variant.from_domain(found) if found else None
