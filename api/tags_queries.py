"""Tags and RFM (engagement): the tag definitions for staff who tag, the RFM summary for ADMIN."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.arguments import top_level_error
from api.context import Context
from api.mutations import actor
from api.permissions import CanTagMembers, IsAdmin
from api.types.facts import RfmSegmentCount
from api.types.tags import Tag
from domain.engagement import facts, tags
from domain.errors import DomainError


@strawberry.type
class TagQueries:
    @strawberry.field(
        permission_classes=[CanTagMembers],
        description="Every tag, by name (ADMIN, CS and store managers).",
    )
    async def tags(self, info: Info[Context, object]) -> list[Tag]:
        return [Tag.from_domain(t) for t in await tags.all_tags(info.context.runtime.member_facts)]

    @strawberry.field(
        permission_classes=[IsAdmin],
        description="Members per RFM segment, as of the last nightly scoring (ADMIN).",
    )
    async def rfm_summary(self, info: Info[Context, object]) -> list[RfmSegmentCount]:
        try:
            counts = await facts.rfm_summary(info.context.runtime.member_facts, actor(info))
        except DomainError as error:
            raise top_level_error(error) from None
        return [RfmSegmentCount(segment=s, members=n) for s, n in counts.items()]
