"""Referral programs for ADMIN."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.context import Context
from api.permissions import IsAdmin
from api.types.referrals import ReferralProgram
from domain.growth.referrals_programs import programs


@strawberry.type
class ReferralQueries:
    @strawberry.field(
        permission_classes=[IsAdmin],
        description="Referral programs in every state, newest first (the latest 100).",
    )
    async def referral_programs(self, info: Info[Context, object]) -> list[ReferralProgram]:
        admin = info.context.principal
        assert admin is not None
        found = await programs(info.context.runtime.referrals, admin)
        return [ReferralProgram.from_domain(p) for p in found]
