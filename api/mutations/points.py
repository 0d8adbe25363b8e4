from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from api.context import Context
from api.errors import PointsError
from api.mutations import attempt
from api.permissions import CanDecidePointsClaims, IsCustomerService, IsMember
from api.relay import decode_id
from api.types.points import PointsClaim, PointsEntry
from domain.loyalty.services import adjust_points, daily_check_in, decide_claim


@strawberry.type
class PointsEntryPayload:
    entry: PointsEntry | None = None
    errors: list[PointsError] = strawberry.field(default_factory=list)


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
    errors: list[PointsError] = strawberry.field(default_factory=list)


async def _decide(
    info: Info[Context, Any], data: DecidePointsClaimInput, approve: bool
) -> PointsClaimPayload:
    actor = info.context.principal
    assert actor is not None
    deps = info.context.runtime.loyalty

    async def run() -> Any:
        claim_id = decode_id(data.claim_id, "PointsClaim", "claimId")
        return await decide_claim(deps, actor, claim_id, approve, data.reason)

    claim, errors = await attempt(PointsError, run)
    return PointsClaimPayload(
        claim=PointsClaim.from_domain(claim) if claim else None, errors=errors
    )


def _payload(entry: Any, errors: list[Any]) -> PointsEntryPayload:
    return PointsEntryPayload(
        entry=PointsEntry.from_domain(entry) if entry else None, errors=errors
    )


@strawberry.type
class PointsMutations:
    @strawberry.mutation(
        permission_classes=[IsMember], description="Points once per day (store-local date)."
    )
    async def daily_check_in(self, info: Info[Context, Any]) -> PointsEntryPayload:
        principal = info.context.principal
        assert principal is not None
        deps = info.context.runtime.loyalty
        return _payload(*await attempt(PointsError, lambda: daily_check_in(deps, principal.id)))

    @strawberry.mutation(
        permission_classes=[IsCustomerService],
        description="CS correction of a member's points, with a reason (recorded with you).",
    )
    async def adjust_points(
        self, info: Info[Context, Any], input: AdjustPointsInput
    ) -> PointsEntryPayload:
        actor = info.context.principal
        assert actor is not None
        deps = info.context.runtime.loyalty

        async def run() -> Any:
            member = decode_id(input.member_id, "Member", "memberId")
            return await adjust_points(
                deps, actor, member, input.delta, input.reason, input.idempotency_key
            )

        return _payload(*await attempt(PointsError, run))

    @strawberry.mutation(
        permission_classes=[CanDecidePointsClaims],
        description="Earn a waiting till sale's points (and growth) now; idempotent.",
    )
    async def approve_points_claim(
        self, info: Info[Context, Any], input: DecidePointsClaimInput
    ) -> PointsClaimPayload:
        return await _decide(info, input, approve=True)

    @strawberry.mutation(
        permission_classes=[CanDecidePointsClaims],
        description="Refuse a waiting till sale's points, with a reason; idempotent.",
    )
    async def reject_points_claim(
        self, info: Info[Context, Any], input: DecidePointsClaimInput
    ) -> PointsClaimPayload:
        return await _decide(info, input, approve=False)
