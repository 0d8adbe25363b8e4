"""Flash sales: ADMIN creates, changes and cancels them (domain/promotions/flash_sales.py)."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from api.context import Context
from api.errors import PromotionUserError
from api.mutations import actor, mutate
from api.permissions import IsAdmin
from api.relay import decode_id
from api.types.flash_sales import FlashSale
from domain.promotions import flash_sales
from domain.promotions.flash_sales import FlashSaleTerms
from domain.promotions.flash_sales_model import MAX_LOCATIONS
from domain.promotions.flash_sales_model import FlashSale as DomainFlashSale

PRICE = "Sale price per unit in fen, below the variant's list price."
PLACES = f"Pickup orders at these stores (at most {MAX_LOCATIONS}); with `online`, or instead."


@strawberry.input
class FlashSaleTermsInput:
    price: int = strawberry.field(description=PRICE)
    starts_at: datetime
    ends_at: datetime
    units_offered: int
    per_member_limit: int = strawberry.field(description="Units one member may hold, 1 or more.")
    location_ids: list[strawberry.ID] = strawberry.field(default_factory=list, description=PLACES)
    online: bool = strawberry.field(default=False, description="Delivery orders too.")

    def to_terms(self) -> FlashSaleTerms:
        ids = self.location_ids[: MAX_LOCATIONS + 1]  # enough for the domain to refuse
        return FlashSaleTerms(
            price=self.price,
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            units_offered=self.units_offered,
            per_member_limit=self.per_member_limit,
            location_ids=tuple(
                decode_id(x, "Location", ["terms", "locationIds", str(n)])
                for n, x in enumerate(ids)
            ),
            online=self.online,
        )


@strawberry.input
class CreateFlashSaleInput:
    variant_id: strawberry.ID
    terms: FlashSaleTermsInput
    idempotency_key: str | None = None


@strawberry.input
class UpdateFlashSaleInput:
    id: strawberry.ID
    terms: FlashSaleTermsInput


@strawberry.input
class CancelFlashSaleInput:
    id: strawberry.ID
    reason: str


@strawberry.type
class FlashSalePayload:
    flash_sale: FlashSale | None = None
    errors: list[PromotionUserError] = strawberry.field(default_factory=list)


@strawberry.type
class FlashSaleMutations:
    @strawberry.mutation(permission_classes=[IsAdmin], description="ADMIN: start a flash sale.")
    async def create_flash_sale(
        self, info: Info[Context, object], input: CreateFlashSaleInput
    ) -> FlashSalePayload:
        deps, caller = info.context.runtime.flash_sales, actor(info)
        return await mutate(
            FlashSalePayload,
            PromotionUserError,
            lambda: flash_sales.create_flash_sale(
                deps,
                caller,
                decode_id(input.variant_id, "Variant", "variantId"),
                input.terms.to_terms(),
                input.idempotency_key,
            ),
            lambda sale: _payload(sale, deps.clock.now()),
        )

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="ADMIN: new terms for a sale not ended (orders placed keep their price).",
    )
    async def update_flash_sale(
        self, info: Info[Context, object], input: UpdateFlashSaleInput
    ) -> FlashSalePayload:
        deps, caller = info.context.runtime.flash_sales, actor(info)
        return await mutate(
            FlashSalePayload,
            PromotionUserError,
            lambda: flash_sales.update_flash_sale(
                deps, caller, decode_id(input.id, "FlashSale", "id"), input.terms.to_terms()
            ),
            lambda sale: _payload(sale, deps.clock.now()),
        )

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="ADMIN: stop a sale now (orders placed keep their price).",
    )
    async def cancel_flash_sale(
        self, info: Info[Context, object], input: CancelFlashSaleInput
    ) -> FlashSalePayload:
        deps, caller = info.context.runtime.flash_sales, actor(info)
        return await mutate(
            FlashSalePayload,
            PromotionUserError,
            lambda: flash_sales.cancel_flash_sale(
                deps, caller, decode_id(input.id, "FlashSale", "id"), input.reason
            ),
            lambda sale: _payload(sale, deps.clock.now()),
        )


def _payload(sale: DomainFlashSale, now: datetime) -> FlashSalePayload:
    return FlashSalePayload(flash_sale=FlashSale.from_domain(sale, now))
