from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.context import Context
from api.errors import PointsUserError
from api.mutations import actor, mutate
from api.permissions import CanDecidePointsClaims, IsCustomerService, IsMember
from api.relay import decode_id
from api.types.points import PointsClaim, PointsEntry
from domain.loyalty.model import Entry
from domain.loyalty.services import adjust_points, daily_check_in, decide_claim


@strawberry.type
class PointsEntryPayload:
    entry: PointsEntry | None = None
    errors: list[PointsUserError] = strawberry.field(default_factory=list)


@strawberry.input
class AdjustPointsInput:
    member_id: strawberry.ID
    delta: int
    reason: str
    idempotency_key: str | None = None


@strawberry.input
class DecidePointsClaimInput:
    claim_id: strawberry.ID
    reason: str = strawberry.field(default="", description="Required (3-200) to reject.")


@strawberry.type
class PointsClaimPayload:
    claim: PointsClaim | None = None
    errors: list[PointsUserError] = strawberry.field(default_factory=list)


async def _decide(
    info: Info[Context, object], data: DecidePointsClaimInput, approve: bool
) -> PointsClaimPayload:
    deps, caller = info.context.runtime.loyalty, actor(info)
    return await mutate(
        PointsClaimPayload,
        PointsUserError,
        lambda: decide_claim(
            deps, caller, decode_id(data.claim_id, "PointsClaim", "claimId"), approve, data.reason
        ),
        lambda claim: PointsClaimPayload(claim=PointsClaim.from_domain(claim)),
    )


def _entry(entry: Entry) -> PointsEntryPayload:
    return PointsEntryPayload(entry=PointsEntry.from_domain(entry))


@strawberry.type
class PointsMutations:
    @strawberry.mutation(
        permission_classes=[IsMember], description="Points once per day (store-local date)."
    )
    async def daily_check_in(self, info: Info[Context, object]) -> PointsEntryPayload:
        deps, member = info.context.runtime.loyalty, actor(info)
        return await mutate(
            PointsEntryPayload, PointsUserError, lambda: daily_check_in(deps, member.id), _entry
        )

    @strawberry.mutation(
        permission_classes=[IsCustomerService],
        description="CS correction of a member's points, with a reason (recorded with you).",
    )
    async def adjust_points(
        self, info: Info[Context, object], input: AdjustPointsInput
    ) -> PointsEntryPayload:
        deps, caller = info.context.runtime.loyalty, actor(info)
        return await mutate(
            PointsEntryPayload,
            PointsUserError,
            lambda: adjust_points(
                deps,
                caller,
                decode_id(input.member_id, "Member", "memberId"),
                input.delta,
                input.reason,
                input.idempotency_key,
            ),
            _entry,
        )

    @strawberry.mutation(
        permission_classes=[CanDecidePointsClaims],
        description="Earn a waiting till sale's points (and growth) now; idempotent.",
    )
    async def approve_points_claim(
        self, info: Info[Context, object], input: DecidePointsClaimInput
    ) -> PointsClaimPayload:
        return await _decide(info, input, approve=True)

    @strawberry.mutation(
        permission_classes=[CanDecidePointsClaims],
        description="Refuse a waiting till sale's points, with a reason; idempotent.",
    )
    async def reject_points_claim(
        self, info: Info[Context, object], input: DecidePointsClaimInput
    ) -> PointsClaimPayload:
        return await _decide(info, input, approve=False)
