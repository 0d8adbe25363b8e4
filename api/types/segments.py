"""Segments (engagement): a named rule over member facts and tags, its size now, its members
(as the `Member` type, masked as it is for the viewer) and its recorded daily sizes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from api.arguments import page_args, top_level_error
from api.context import Context
from api.mutations import actor
from api.relay import Connection, encode_id
from api.types.members import Member
from domain.engagement import segments as service
from domain.engagement import segments_model as m
from domain.engagement.segments_model import SegmentStatus
from domain.errors import DomainError
from domain.pagination import Page

strawberry.enum(SegmentStatus)


@strawberry.type(description="A segment's size as recorded on one store-local day.")
class SegmentSizeEntry:
    day: date
    size: int


@strawberry.type
class SegmentMemberConnection(Connection[Member]):
    pass


@strawberry.type(
    description="A segment: members whose facts and tags satisfy its rule (README: Segments). "
    "A store manager counts and lists only members with an order at one of their stores."
)
class Segment:
    id: strawberry.ID
    name: str
    rule: str = strawberry.field(description="As saved: `last_order_days >= 90`.")
    built_in: bool
    status: SegmentStatus
    created_at: datetime
    updated_at: datetime
    key: strawberry.Private[m.Segment]

    @classmethod
    def from_domain(cls, segment: m.Segment) -> Segment:
        return cls(
            id=encode_id("Segment", segment.id),
            name=segment.name,
            rule=segment.rule,
            built_in=segment.built_in,
            status=segment.status,
            created_at=segment.created_at,
            updated_at=segment.updated_at,
            key=segment,
        )

    @strawberry.field(
        description="Members in it now (a COUNT over member facts; a page of segments counts "
        "them all in one statement)."
    )
    async def size(self, info: Info[Context, Any]) -> int:
        context = info.context
        if context.segment_sizes is None:
            deps, viewer = context.runtime.segments, actor(info)

            async def count(rules: list[str]) -> list[int]:
                return await service.sizes(deps, viewer, rules)

            context.segment_sizes = DataLoader(count)
        try:
            return await context.segment_sizes.load(self.key.rule)
        except DomainError as error:
            raise top_level_error(error) from None

    @strawberry.field(description="Its members now, by member id.")
    async def members(
        self, info: Info[Context, Any], first: int | None = None, after: str | None = None
    ) -> SegmentMemberConnection:
        viewer = actor(info)
        try:
            ids = await service.members(
                info.context.runtime.segments, viewer, self.key.rule, page_args(first, after)
            )
        except DomainError as error:
            raise top_level_error(error) from None
        found = await info.context.loaders.member.load_many(list(ids.items))
        shown = [(mem, k) for mem, k in zip(found, ids.keys, strict=True) if mem is not None]
        page = Page(
            [mem for mem, _ in shown], [k for _, k in shown], ids.has_next, ids.has_previous
        )
        return SegmentMemberConnection.from_page(page, lambda mem: Member.for_viewer(mem, viewer))

    @strawberry.field(
        description="Its size on each of the last `days` store-local days that the nightly "
        "job recorded, oldest first (ADMIN and CS: sizes over every store)."
    )
    async def size_history(
        self, info: Info[Context, Any], days: int = 30
    ) -> list[SegmentSizeEntry]:
        try:
            sizes = await service.size_history(
                info.context.runtime.segments, actor(info), self.key.id, days
            )
        except DomainError as error:
            raise top_level_error(error) from None
        return [SegmentSizeEntry(day=s.day, size=s.size) for s in sizes]


@strawberry.type
class SegmentConnection(Connection[Segment]):
    pass
