"""A store's till returns, for its POS devices and staff, and CS."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.arguments import id_arg as _id
from api.arguments import page_args as _page
from api.arguments import top_level_error as _top
from api.context import Context
from api.permissions import IsAuthenticated
from api.relay import Connection
from api.types.till_returns import PosReturn
from domain.errors import DomainError
from domain.inventory.till_returns import pos_returns


@strawberry.type
class TillReturnQueries:
    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="A store's till returns, newest first: its POS devices and staff, and CS.",
    )
    async def pos_returns(
        self,
        info: Info[Context, object],
        location_id: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[PosReturn]:
        principal = info.context.principal
        assert principal is not None  # the permission class ran first
        try:
            page = await pos_returns(
                info.context.runtime.inventory,
                principal,
                _id(location_id, "Location", "locationId"),
                _page(first, after),
            )
        except DomainError as error:
            raise _top(error) from None
        return Connection[PosReturn].from_page(page, PosReturn.from_domain)
