"""Segments (engagement): ADMIN creates, edits and archives them (built-ins too: never deleted)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.context import Context
from api.errors import EngagementUserError
from api.mutations import actor, mutate
from api.permissions import IsAdmin
from api.relay import decode_id
from api.types.segments import Segment
from domain.engagement import segments
from domain.engagement import segments_model as m


@strawberry.input
class CreateSegmentInput:
    name: str = strawberry.field(description="1-60 characters, unique.")
    rule: str = strawberry.field(
        description="The segment language: `orders_30 >= 3 AND avg_order_value > ¥800`."
    )


@strawberry.input
class UpdateSegmentInput:
    id: strawberry.ID
    name: str | None = None
    rule: str | None = None


@strawberry.input
class ArchiveSegmentInput:
    id: strawberry.ID


@strawberry.type
class SegmentPayload:
    segment: Segment | None = None
    errors: list[EngagementUserError] = strawberry.field(default_factory=list)


def _shown(segment: m.Segment) -> SegmentPayload:
    return SegmentPayload(segment=Segment.from_domain(segment))


@strawberry.type
class SegmentMutations:
    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Save a rule under a name; INVALID_RULE says what is wrong and where.",
    )
    async def create_segment(
        self, info: Info[Context, object], input: CreateSegmentInput
    ) -> SegmentPayload:
        deps, admin = info.context.runtime.segments, actor(info)
        return await mutate(
            SegmentPayload,
            EngagementUserError,
            lambda: segments.create_segment(deps, admin, input.name, input.rule),
            _shown,
        )

    @strawberry.mutation(
        permission_classes=[IsAdmin], description="A new name or rule (built-ins too)."
    )
    async def update_segment(
        self, info: Info[Context, object], input: UpdateSegmentInput
    ) -> SegmentPayload:
        deps, admin = info.context.runtime.segments, actor(info)
        return await mutate(
            SegmentPayload,
            EngagementUserError,
            lambda: segments.update_segment(
                deps,
                admin,
                decode_id(input.id, "Segment", ["input", "id"]),
                input.name,
                input.rule,
            ),
            _shown,
        )

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Archive a segment (built-ins too): its size is no longer recorded; "
        "segments are never deleted.",
    )
    async def archive_segment(
        self, info: Info[Context, object], input: ArchiveSegmentInput
    ) -> SegmentPayload:
        deps, admin = info.context.runtime.segments, actor(info)
        return await mutate(
            SegmentPayload,
            EngagementUserError,
            lambda: segments.archive_segment(
                deps, admin, decode_id(input.id, "Segment", ["input", "id"])
            ),
            _shown,
        )
