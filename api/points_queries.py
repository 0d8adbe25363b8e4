"""Points claims for the people who decide them: store managers and CS."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.arguments import id_arg as _id
from api.arguments import page_args as _page
from api.arguments import top_level_error as _top
from api.context import Context
from api.permissions import CanDecidePointsClaims
from api.types.points import PointsClaim, PointsClaimConnection
from domain.errors import DomainError
from domain.loyalty.model import ClaimState
from domain.loyalty.services import claims


@strawberry.type
class PointsQueries:
    @strawberry.field(
        permission_classes=[CanDecidePointsClaims],
        description="Till sales' points waiting for a decision (or decided), newest first: a "
        "store manager sees their own stores', CS and ADMIN every store's.",
    )
    async def points_claims(
        self,
        info: Info[Context, object],
        location_id: strawberry.ID | None = None,
        state: ClaimState | None = ClaimState.PENDING,
        first: int | None = None,
        after: str | None = None,
    ) -> PointsClaimConnection:
        actor = info.context.principal
        assert actor is not None
        try:
            location = _id(location_id, "Location", "locationId") if location_id else None
            page = await claims(
                info.context.runtime.loyalty, actor, location, state, _page(first, after)
            )
        except DomainError as error:
            raise _top(error) from None
        return PointsClaimConnection.from_page(page, PointsClaim.from_domain)
