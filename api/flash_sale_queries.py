"""Flash sales for everyone: the campaign page lists them (live and upcoming with `active`)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.arguments import top_level_error
from api.context import Context
from api.types.flash_sales import FlashSale
from domain.errors import DomainError
from domain.promotions.flash_sales import MAX_LISTED, list_flash_sales


@strawberry.type
class FlashSaleQueries:
    @strawberry.field(
        description="Flash sales, latest start first. `active: true`: live or upcoming; "
        f"`false`: ended or cancelled; omitted: all. `first`: 1 to {MAX_LISTED}."
    )
    async def flash_sales(
        self, info: Info[Context, object], active: bool | None = None, first: int = 20
    ) -> list[FlashSale]:
        deps = info.context.runtime.flash_sales
        try:
            found = await list_flash_sales(deps, active, first)
        except DomainError as error:
            raise top_level_error(error) from None
        now = deps.clock.now()
        return [FlashSale.from_domain(s, now) for s in found]
