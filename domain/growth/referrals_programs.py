"""Referral programs (老带新) as ADMIN runs them: both sides' rewards, the referrer's monthly
cap, the window; one program ACTIVE at a time (the repository's unique `active_slot` holds it
against a race)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from domain.errors import GrowthError, GrowthErrorCode
from domain.growth.deps import ReferralDeps
from domain.growth.referrals_model import (
    MAX_MONTHLY_CAP,
    MAX_POINTS_REWARD,
    ProgramStatus,
    ReferralProgram,
)
from domain.identity.model import Principal
from domain.ids import new_id
from domain.promotions.coupons import coupon_template_in_uow
from domain.uow import UnitOfWork

MAX_LISTED = 100  # programs listed, newest first
SIDES = ("referrer", "invitee")


def _error(code: GrowthErrorCode, message: str, *field: str) -> GrowthError:
    return GrowthError(code, message, list(field) or None)


def _admin(actor: Principal) -> None:
    if not actor.is_admin:
        raise _error(GrowthErrorCode.FORBIDDEN, "Only ADMIN staff manage referral programs.")


@dataclass(frozen=True)
class ProgramRules:
    """What an ADMIN sets: the rewards of each side, the monthly cap, the window."""

    name: str
    starts_at: datetime
    ends_at: datetime
    monthly_cap: int
    referrer_points: int = 0
    referrer_template_id: UUID | None = None
    invitee_points: int = 0
    invitee_points_per_yuan: int = 0
    invitee_template_id: UUID | None = None


async def _check_rules(uow: UnitOfWork, rules: ProgramRules) -> None:
    def bad(message: str, field: str) -> GrowthError:
        return _error(GrowthErrorCode.INVALID_PROGRAM, message, field)

    if not 1 <= len(rules.name.strip()) <= 100:
        raise bad("A program's name is 1-100 characters.", "name")
    if rules.ends_at <= rules.starts_at:
        raise bad("The program must end after it starts.", "endsAt")
    if not 1 <= rules.monthly_cap <= MAX_MONTHLY_CAP:
        raise bad(f"The monthly cap is 1-{MAX_MONTHLY_CAP} rewards.", "monthlyCap")
    for name, field in (
        ("referrer_points", "referrerPoints"),
        ("invitee_points", "inviteePoints"),
        ("invitee_points_per_yuan", "inviteePointsPerYuan"),
    ):
        if not 0 <= getattr(rules, name) <= MAX_POINTS_REWARD:
            raise bad(f"Points are 0-{MAX_POINTS_REWARD}.", field)
    if not (rules.referrer_points or rules.referrer_template_id):
        raise bad("The referrer needs a reward: points or a coupon.", "referrerPoints")
    if not (rules.invitee_points or rules.invitee_points_per_yuan or rules.invitee_template_id):
        raise bad("The invitee needs a reward: points or a coupon.", "inviteePoints")
    for side in SIDES:
        template_id = getattr(rules, f"{side}_template_id")
        if template_id and await coupon_template_in_uow(uow, template_id) is None:
            raise bad("Unknown coupon template.", f"{side}TemplateId")


async def create_program(
    deps: ReferralDeps, actor: Principal, rules: ProgramRules, *, active: bool = True
) -> ReferralProgram:
    """A new program, ACTIVE at once (only one program is active at a time: PROGRAM_ACTIVE
    while another is) or PAUSED until `set_program_status`."""
    _admin(actor)
    now = deps.clock.now()
    async with deps.uow() as uow:
        await _check_rules(uow, rules)
        if active:
            await _none_active(uow)
        program = ReferralProgram(
            id=new_id(),
            name=rules.name.strip(),
            status=ProgramStatus.ACTIVE if active else ProgramStatus.PAUSED,
            starts_at=rules.starts_at,
            ends_at=rules.ends_at,
            referrer_points=rules.referrer_points,
            referrer_template_id=rules.referrer_template_id,
            invitee_points=rules.invitee_points,
            invitee_points_per_yuan=rules.invitee_points_per_yuan,
            invitee_template_id=rules.invitee_template_id,
            monthly_cap=rules.monthly_cap,
            created_at=now,
            updated_at=now,
        )
        await uow.referrals.add_program(program)
        return program


async def _none_active(uow: UnitOfWork, but: UUID | None = None) -> None:
    active = await uow.referrals.active_program()
    if active is not None and active.id != but:
        raise _error(
            GrowthErrorCode.PROGRAM_ACTIVE,
            f"Program {active.name!r} is active; pause or end it first.",
            "programId",
        )


async def _program(uow: UnitOfWork, program_id: UUID) -> ReferralProgram:
    program = await uow.referrals.get_program(program_id, lock=True)
    if program is None:
        raise _error(GrowthErrorCode.NOT_FOUND, "Unknown referral program.", "programId")
    if program.status is ProgramStatus.ENDED:
        raise _error(GrowthErrorCode.PROGRAM_ENDED, "The program has ended.", "programId")
    return program


async def update_program(
    deps: ReferralDeps, actor: Principal, program_id: UUID, rules: ProgramRules
) -> ReferralProgram:
    """New rules apply to rewards paid from now on (also to invitees waiting)."""
    _admin(actor)
    async with deps.uow() as uow:
        program = await _program(uow, program_id)
        await _check_rules(uow, rules)
        changed = replace(
            program,
            name=rules.name.strip(),
            starts_at=rules.starts_at,
            ends_at=rules.ends_at,
            referrer_points=rules.referrer_points,
            referrer_template_id=rules.referrer_template_id,
            invitee_points=rules.invitee_points,
            invitee_points_per_yuan=rules.invitee_points_per_yuan,
            invitee_template_id=rules.invitee_template_id,
            monthly_cap=rules.monthly_cap,
            updated_at=deps.clock.now(),
        )
        await uow.referrals.save_program(changed)
        return changed


async def set_program_status(
    deps: ReferralDeps, actor: Principal, program_id: UUID, status: ProgramStatus
) -> ReferralProgram:
    """ACTIVE (only one program at a time), PAUSED (no new attributions; invitees already
    attributed are still rewarded) or ENDED (final: nothing more is attributed or paid)."""
    _admin(actor)
    async with deps.uow() as uow:
        program = await _program(uow, program_id)
        if status is ProgramStatus.ACTIVE:
            await _none_active(uow, program.id)
        program.status, program.updated_at = status, deps.clock.now()
        await uow.referrals.save_program(program)
        return program


async def programs(deps: ReferralDeps, actor: Principal) -> list[ReferralProgram]:
    _admin(actor)
    async with deps.uow() as uow:
        return await uow.referrals.programs(MAX_LISTED)
