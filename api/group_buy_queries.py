"""Group-buys for everyone: the campaign list and a group's share page."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.arguments import top_level_error
from api.context import Context
from api.relay import decode_id
from api.types.group_buys import GroupBuy, GroupBuyCampaign
from domain.errors import DomainError
from domain.growth.group_buys import MAX_LISTED, get_group, list_campaigns


@strawberry.type
class GroupBuyQueries:
    @strawberry.field(
        description="Group-buy campaigns, latest start first. `active: true`: not ended nor "
        f"cancelled; `false`: the others; omitted: all. `first`: 1 to {MAX_LISTED}."
    )
    async def group_buy_campaigns(
        self, info: Info[Context, object], active: bool | None = None, first: int = 20
    ) -> list[GroupBuyCampaign]:
        try:
            found = await list_campaigns(info.context.runtime.group_buys, active, first)
        except DomainError as error:
            raise top_level_error(error) from None
        return [GroupBuyCampaign.from_domain(c) for c in found]

    @strawberry.field(
        description="A group as its share page shows it (members masked); null when unknown."
    )
    async def group(self, info: Info[Context, object], id: strawberry.ID) -> GroupBuy | None:
        try:
            found = await get_group(
                info.context.runtime.group_buys, decode_id(id, "GroupBuy", "id")
            )
        except DomainError as error:
            raise top_level_error(error) from None
        return GroupBuy.from_domain(found) if found else None
