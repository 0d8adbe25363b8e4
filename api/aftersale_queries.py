"""After-sales for the desk: CS sees every store's, store staff their own stores'."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.arguments import id_arg as _id
from api.arguments import page_args as _page
from api.arguments import top_level_error as _top
from api.context import Context
from api.permissions import CanListAfterSales
from api.types.aftersales import AfterSale, AfterSaleConnection
from domain.aftersales.model import AfterSaleStatus
from domain.aftersales.services import search_after_sales
from domain.errors import DomainError


@strawberry.input
class AfterSaleFilterInput:
    status: AfterSaleStatus | None = None
    location_id: strawberry.ID | None = strawberry.field(
        default=None, description="The order's store."
    )


@strawberry.type
class AfterSaleQueries:
    @strawberry.field(
        permission_classes=[CanListAfterSales],
        description="After-sales, newest first: CS and ADMIN every store's, store staff their "
        "own stores'.",
    )
    async def after_sales(
        self,
        info: Info[Context, object],
        filter: AfterSaleFilterInput | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> AfterSaleConnection:
        actor = info.context.principal
        assert actor is not None
        where = filter or AfterSaleFilterInput()
        location = _id(where.location_id, "Location", "locationId") if where.location_id else None
        try:
            page = await search_after_sales(
                info.context.runtime.aftersales, actor, where.status, location, _page(first, after)
            )
        except DomainError as error:
            raise _top(error) from None
        return AfterSaleConnection.from_page(page, AfterSale.from_domain)
