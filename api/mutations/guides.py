"""Shopping-guide attribution (导购): members bind themselves to a guide; the store's manager
or CS assign and clear guides."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.context import Context
from api.errors import GrowthUserError
from api.mutations import actor, mutate
from api.permissions import CanAssignGuides, IsMember
from api.relay import decode_id
from api.types.guides import MemberGuide
from domain.growth import guides
from domain.growth.guides_model import Guide


@strawberry.input
class BindGuideInput:
    guide_code: str = strawberry.field(description="The guide's code (the share's `guide`).")


@strawberry.input
class SetMemberGuideInput:
    member_id: strawberry.ID
    staff_id: strawberry.ID = strawberry.field(description="A clerk or manager of the store.")
    reason: str
    store_id: strawberry.ID | None = strawberry.field(
        default=None, description="The guide's store (default: the first the actor may use)."
    )


@strawberry.input
class ClearMemberGuideInput:
    member_id: strawberry.ID
    reason: str


@strawberry.type
class BindGuidePayload:
    guide: MemberGuide | None = None
    bound: bool = strawberry.field(
        default=False, description="This call bound the member (false: they kept their guide)."
    )
    errors: list[GrowthUserError] = strawberry.field(default_factory=list)


@strawberry.type
class MemberGuidePayload:
    guide: MemberGuide | None = None
    errors: list[GrowthUserError] = strawberry.field(default_factory=list)


@strawberry.type
class ClearMemberGuidePayload:
    cleared: bool = strawberry.field(default=False, description="False: there was no guide.")
    errors: list[GrowthUserError] = strawberry.field(default_factory=list)


def _bound(result: tuple[Guide, bool]) -> BindGuidePayload:
    guide, bound = result
    return BindGuidePayload(guide=MemberGuide.from_domain(guide, staff=False), bound=bound)


@strawberry.type
class GuideMutations:
    @strawberry.mutation(
        permission_classes=[IsMember],
        description="Bind me to the guide of this code: first touch wins (a bound member "
        "keeps their guide); a repeat changes nothing.",
    )
    async def bind_guide(
        self, info: Info[Context, object], input: BindGuideInput
    ) -> BindGuidePayload:
        deps, member = info.context.runtime.guides, actor(info)
        return await mutate(
            BindGuidePayload,
            GrowthUserError,
            lambda: guides.bind_guide(deps, member, input.guide_code),
            _bound,
        )

    @strawberry.mutation(
        permission_classes=[CanAssignGuides],
        description="Bind a member to a guide (a STORE_MANAGER: their store's staff; CS: any "
        "store's), replacing any earlier guide; the actor and reason are recorded.",
    )
    async def set_member_guide(
        self, info: Info[Context, object], input: SetMemberGuideInput
    ) -> MemberGuidePayload:
        deps, staff = info.context.runtime.guides, actor(info)
        return await mutate(
            MemberGuidePayload,
            GrowthUserError,
            lambda: guides.set_member_guide(
                deps,
                staff,
                decode_id(input.member_id, "Member", "memberId"),
                decode_id(input.staff_id, "StaffUser", "staffId"),
                input.reason,
                decode_id(input.store_id, "Location", "storeId") if input.store_id else None,
            ),
            lambda guide: MemberGuidePayload(guide=MemberGuide.from_domain(guide, staff=True)),
        )

    @strawberry.mutation(
        permission_classes=[CanAssignGuides],
        description="Unbind a member from their guide (the guide's STORE_MANAGER, or CS); "
        "orders already attributed stay so.",
    )
    async def clear_member_guide(
        self, info: Info[Context, object], input: ClearMemberGuideInput
    ) -> ClearMemberGuidePayload:
        deps, staff = info.context.runtime.guides, actor(info)
        return await mutate(
            ClearMemberGuidePayload,
            GrowthUserError,
            lambda: guides.clear_member_guide(
                deps, staff, decode_id(input.member_id, "Member", "memberId"), input.reason
            ),
            lambda cleared: ClearMemberGuidePayload(cleared=cleared),
        )
