"""Tags on members (engagement): ADMIN defines tags; CS and store managers tag members."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.context import Context
from api.errors import EngagementUserError
from api.mutations import actor, mutate
from api.permissions import CanTagMembers, IsAdmin
from api.relay import decode_id
from api.types.tags import Tag
from domain.engagement import tags
from domain.engagement import tags_model as m
from domain.engagement.tags_model import TagKind


@strawberry.input
class CreateTagInput:
    name: str = strawberry.field(description="1-40 characters, unique.")
    kind: TagKind
    description: str = ""
    rule: str | None = strawberry.field(
        default=None,
        description="AUTOMATIC only: one fact compared with a whole number, e.g. "
        "`orders_365 >= 3` or `spend_365 >= 100000` (fen); evaluated every night.",
    )


@strawberry.input
class TagMemberInput:
    member_id: strawberry.ID
    tag_id: strawberry.ID = strawberry.field(description="A MANUAL tag.")
    reason: str


@strawberry.type
class CreateTagPayload:
    tag: Tag | None = None
    errors: list[EngagementUserError] = strawberry.field(default_factory=list)


@strawberry.type
class TagMemberPayload:
    tag: Tag | None = None
    added: bool = strawberry.field(
        default=False, description="This call put the tag on (false: it was there already)."
    )
    errors: list[EngagementUserError] = strawberry.field(default_factory=list)


@strawberry.type
class UntagMemberPayload:
    removed: bool = strawberry.field(default=False, description="False: it was not there.")
    errors: list[EngagementUserError] = strawberry.field(default_factory=list)


def _tagged(result: tuple[m.Tag, bool]) -> TagMemberPayload:
    tag, added = result
    return TagMemberPayload(tag=Tag.from_domain(tag), added=added)


@strawberry.type
class TagMutations:
    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Define a tag: MANUAL (staff tag members) or AUTOMATIC (with its rule).",
    )
    async def create_tag(
        self, info: Info[Context, object], input: CreateTagInput
    ) -> CreateTagPayload:
        deps, admin = info.context.runtime.member_facts, actor(info)
        return await mutate(
            CreateTagPayload,
            EngagementUserError,
            lambda: tags.create_tag(
                deps, admin, input.name, input.kind, input.description, input.rule
            ),
            lambda tag: CreateTagPayload(tag=Tag.from_domain(tag)),
        )

    @strawberry.mutation(
        permission_classes=[CanTagMembers],
        description="Put a manual tag on a member (CS: any member; a STORE_MANAGER: members "
        "with an order at their stores), with a reason; a repeat changes nothing.",
    )
    async def tag_member(
        self, info: Info[Context, object], input: TagMemberInput
    ) -> TagMemberPayload:
        deps, staff = info.context.runtime.member_facts, actor(info)
        return await mutate(
            TagMemberPayload,
            EngagementUserError,
            lambda: tags.tag_member(
                deps,
                staff,
                decode_id(input.member_id, "Member", ["input", "memberId"]),
                decode_id(input.tag_id, "Tag", ["input", "tagId"]),
                input.reason,
            ),
            _tagged,
        )

    @strawberry.mutation(
        permission_classes=[CanTagMembers],
        description="Take a manual tag off a member (the same staff as tagMember), with a "
        "reason (the staff actions log keeps it).",
    )
    async def untag_member(
        self, info: Info[Context, object], input: TagMemberInput
    ) -> UntagMemberPayload:
        deps, staff = info.context.runtime.member_facts, actor(info)
        return await mutate(
            UntagMemberPayload,
            EngagementUserError,
            lambda: tags.untag_member(
                deps,
                staff,
                decode_id(input.member_id, "Member", ["input", "memberId"]),
                decode_id(input.tag_id, "Tag", ["input", "tagId"]),
                input.reason,
            ),
            lambda removed: UntagMemberPayload(removed=removed),
        )
