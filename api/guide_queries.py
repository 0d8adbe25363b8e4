"""Shopping-guide attribution (导购): a guide's share, a store's monthly performance."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.arguments import top_level_error
from api.context import Context
from api.mutations import actor
from api.permissions import CanAssignGuides, IsGuide
from api.relay import decode_id
from api.types.guides import GuidePerformance, GuideShare
from domain.errors import DomainError
from domain.growth import guides


@strawberry.type
class GuideQueries:
    @strawberry.field(
        permission_classes=[IsGuide],
        description="My share as a shopping guide at one of my stores (the only one when not "
        "named): a member who opens it and logs in or binds is mine, first touch wins.",
    )
    async def guide_share(
        self, info: Info[Context, object], store_id: strawberry.ID | None = None
    ) -> GuideShare:
        try:
            store = decode_id(store_id, "Location", "storeId") if store_id else None
            found = await guides.guide_share(info.context.runtime.guides, actor(info), store)
        except DomainError as error:
            raise top_level_error(error) from None
        return GuideShare.from_domain(found)

    @strawberry.field(
        permission_classes=[CanAssignGuides],
        description="A store's month (\"2026-12\", on the stores' clock) per guide and in total: "
        "the store's STORE_MANAGER, CS and ADMIN.",
    )
    async def guide_performance(
        self, info: Info[Context, object], store_id: strawberry.ID, month: str
    ) -> GuidePerformance:
        try:
            store = decode_id(store_id, "Location", "storeId")
            found = await guides.performance(info.context.runtime.guides, actor(info), store, month)
        except DomainError as error:
            raise top_level_error(error) from None
        return GuidePerformance.from_domain(found)
