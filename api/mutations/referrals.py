"""Referral programs (老带新): ADMIN creates, updates, pauses and ends them."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import strawberry
from strawberry.types import Info

from api.context import Context
from api.errors import GrowthUserError
from api.mutations import actor, mutate
from api.permissions import IsAdmin
from api.relay import decode_id
from api.types.referrals import ReferralProgram
from domain.growth import referrals_model as m
from domain.growth import referrals_programs as referrals
from domain.growth.referrals_model import ProgramStatus


@strawberry.input
class ReferralProgramInput:
    name: str
    starts_at: datetime
    ends_at: datetime
    monthly_cap: int = strawberry.field(
        description="Rewarded referrals per referrer per calendar month; beyond it the "
        "invitee is still rewarded, the referrer not."
    )
    referrer_points: int = 0
    referrer_coupon_template_id: strawberry.ID | None = None
    invitee_points: int = 0
    invitee_points_per_yuan: int = strawberry.field(
        default=0, description="Extra points per yuan the first order was paid (1 = double)."
    )
    invitee_coupon_template_id: strawberry.ID | None = None


@strawberry.input
class CreateReferralProgramInput:
    program: ReferralProgramInput
    active: bool = strawberry.field(
        default=True, description="Active at once (one program at a time); false: PAUSED."
    )


@strawberry.input
class UpdateReferralProgramInput:
    program_id: strawberry.ID
    program: ReferralProgramInput


@strawberry.input
class PauseReferralProgramInput:
    program_id: strawberry.ID
    paused: bool = strawberry.field(
        default=True, description="false: make it the active program again."
    )


@strawberry.input
class ReferralProgramIdInput:
    program_id: strawberry.ID


@strawberry.type
class ReferralProgramPayload:
    program: ReferralProgram | None = None
    errors: list[GrowthUserError] = strawberry.field(default_factory=list)


def _program_id(value: strawberry.ID) -> UUID:
    return decode_id(value, "ReferralProgram", "programId")


def _template_id(value: strawberry.ID | None, field: str) -> UUID | None:
    return decode_id(value, "CouponTemplate", ["program", field]) if value else None


def _rules(given: ReferralProgramInput) -> referrals.ProgramRules:
    return referrals.ProgramRules(
        name=given.name,
        starts_at=given.starts_at,
        ends_at=given.ends_at,
        monthly_cap=given.monthly_cap,
        referrer_points=given.referrer_points,
        referrer_template_id=_template_id(
            given.referrer_coupon_template_id, "referrerCouponTemplateId"
        ),
        invitee_points=given.invitee_points,
        invitee_points_per_yuan=given.invitee_points_per_yuan,
        invitee_template_id=_template_id(
            given.invitee_coupon_template_id, "inviteeCouponTemplateId"
        ),
    )


def _present(program: m.ReferralProgram) -> ReferralProgramPayload:
    return ReferralProgramPayload(program=ReferralProgram.from_domain(program))


@strawberry.type
class ReferralMutations:
    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="A referral program: rewards for referrer and invitee (points and/or a "
        "coupon template each) when the invitee's first order is handed over.",
    )
    async def create_referral_program(
        self, info: Info[Context, object], input: CreateReferralProgramInput
    ) -> ReferralProgramPayload:
        deps, admin = info.context.runtime.referrals, actor(info)
        return await mutate(
            ReferralProgramPayload,
            GrowthUserError,
            lambda: referrals.create_program(
                deps, admin, _rules(input.program), active=input.active
            ),
            _present,
        )

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="New rules for rewards paid from now on (invitees waiting included).",
    )
    async def update_referral_program(
        self, info: Info[Context, object], input: UpdateReferralProgramInput
    ) -> ReferralProgramPayload:
        deps, admin = info.context.runtime.referrals, actor(info)
        return await mutate(
            ReferralProgramPayload,
            GrowthUserError,
            lambda: referrals.update_program(
                deps, admin, _program_id(input.program_id), _rules(input.program)
            ),
            _present,
        )

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Attribute no new invitees for now (those attributed are still "
        "rewarded); paused: false makes it active again.",
    )
    async def pause_referral_program(
        self, info: Info[Context, object], input: PauseReferralProgramInput
    ) -> ReferralProgramPayload:
        deps, admin = info.context.runtime.referrals, actor(info)
        target = ProgramStatus.PAUSED if input.paused else ProgramStatus.ACTIVE
        return await mutate(
            ReferralProgramPayload,
            GrowthUserError,
            lambda: referrals.set_program_status(
                deps, admin, _program_id(input.program_id), target
            ),
            _present,
        )

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="End a program for good: nothing more is attributed or paid.",
    )
    async def end_referral_program(
        self, info: Info[Context, object], input: ReferralProgramIdInput
    ) -> ReferralProgramPayload:
        deps, admin = info.context.runtime.referrals, actor(info)
        return await mutate(
            ReferralProgramPayload,
            GrowthUserError,
            lambda: referrals.set_program_status(
                deps, admin, _program_id(input.program_id), ProgramStatus.ENDED
            ),
            _present,
        )
