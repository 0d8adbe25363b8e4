"""Segments (engagement): the list, one segment, and a rule's preview (ADMIN, CS and store
managers; a store manager's sizes and members are their stores' members)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.arguments import page_args, top_level_error
from api.context import Context
from api.errors import EngagementUserError
from api.mutations import actor
from api.permissions import CanTagMembers
from api.relay import decode_id
from api.types.segments import Segment, SegmentConnection
from domain.engagement import segments as service
from domain.engagement.segments_model import SegmentStatus
from domain.errors import DomainError, EngagementErrorCode


@strawberry.type(description="A rule checked as on save and its size now; nothing is saved.")
class SegmentPreview:
    rule: str | None = strawberry.field(default=None, description="As it would be saved.")
    size: int | None = None
    errors: list[EngagementUserError] = strawberry.field(default_factory=list)


@strawberry.type
class SegmentQueries:
    @strawberry.field(
        permission_classes=[CanTagMembers],
        description="Segments by name, the built-ins among them (ADMIN, CS, store managers).",
    )
    async def segments(
        self,
        info: Info[Context, object],
        status: SegmentStatus | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> SegmentConnection:
        deps = info.context.runtime.segments
        try:
            page = await service.segments(deps, actor(info), status, page_args(first, after))
        except DomainError as error:
            raise top_level_error(error) from None
        return SegmentConnection.from_page(page, Segment.from_domain)

    @strawberry.field(permission_classes=[CanTagMembers], description="Null for an unknown id.")
    async def segment(self, info: Info[Context, object], id: strawberry.ID) -> Segment | None:
        try:
            key = decode_id(id, "Segment", "id")
            found = await service.segment(info.context.runtime.segments, actor(info), key)
        except DomainError as error:
            if error.code is EngagementErrorCode.NOT_FOUND:
                return None
            raise top_level_error(error) from None
        return Segment.from_domain(found)

    @strawberry.field(
        permission_classes=[CanTagMembers],
        description="Check a rule as createSegment would and count its members now.",
    )
    async def preview_segment(self, info: Info[Context, object], rule: str) -> SegmentPreview:
        try:
            saved, size = await service.preview(info.context.runtime.segments, actor(info), rule)
        except DomainError as error:
            return SegmentPreview(errors=EngagementUserError.from_domain(error))
        return SegmentPreview(rule=saved, size=size)
