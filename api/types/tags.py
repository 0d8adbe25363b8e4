"""Tags on members (engagement): definitions and a member's tags, for staff only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from api.context import Context
from api.relay import encode_id
from domain.engagement import tags_model as m
from domain.engagement.tags_model import TagKind

strawberry.enum(TagKind)


@strawberry.type(
    description="A tag: MANUAL (staff put it on members, with a reason) or "
    "AUTOMATIC (its rule over one member fact decides, every night)."
)
class Tag:
    id: strawberry.ID
    name: str
    kind: TagKind
    description: str
    rule: str | None = strawberry.field(description="AUTOMATIC: `orders_365 >= 3`.")
    created_at: datetime

    @classmethod
    def from_domain(cls, tag: m.Tag) -> Tag:
        return cls(
            id=encode_id("Tag", tag.id),
            name=tag.name,
            kind=tag.kind,
            description=tag.description,
            rule=str(tag.rule) if tag.rule else None,
            created_at=tag.created_at,
        )


@strawberry.type(description="A tag on a member: who put it there, when and why.")
class MemberTag:
    tag: Tag
    actor: str = strawberry.field(description="`STAFF:<id>`, or `SYSTEM:rule` (automatic).")
    reason: str
    tagged_at: datetime

    @strawberry.field(description="The actor as staff read it (name and role).")
    async def actor_name(self, info: Info[Context, Any]) -> str:
        return await info.context.loaders.actor_name.load(self.actor)

    @classmethod
    def from_domain(cls, member_tag: m.MemberTag, tag: m.Tag) -> MemberTag:
        return cls(
            tag=Tag.from_domain(tag),
            actor=member_tag.actor,
            reason=member_tag.reason,
            tagged_at=member_tag.tagged_at,
        )
