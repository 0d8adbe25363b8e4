from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from api.context import Context
from api.errors import PointsError
from api.mutations import attempt
from api.permissions import IsCustomerService, IsMember
from api.relay import decode_id
from api.types.points import PointsEntry
from domain.loyalty.services import adjust_points, daily_check_in


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
