"""Referrals (老带新): programs as ADMIN runs them, a member's share payload and referrals."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.relay import encode_id
from domain.growth import referrals as services
from domain.growth import referrals_model as m
from domain.growth.referrals_model import ProgramStatus, ReferralStatus, RefusalReason

strawberry.enum(ProgramStatus, name="ReferralProgramStatus")
strawberry.enum(ReferralStatus)
strawberry.enum(RefusalReason, name="ReferralRefusalReason")


def _template(template_id: object) -> strawberry.ID | None:
    return encode_id("CouponTemplate", template_id) if template_id else None


@strawberry.type(
    description="A referral program: both sides' rewards when an invitee's first order is "
    "handed over, the referrer's monthly cap, the window. One program is ACTIVE at a time."
)
class ReferralProgram:
    id: strawberry.ID
    name: str
    status: ProgramStatus
    starts_at: datetime
    ends_at: datetime
    referrer_points: int
    referrer_coupon_template_id: strawberry.ID | None
    invitee_points: int
    invitee_points_per_yuan: int = strawberry.field(
        description="Extra points per yuan the first order was paid (1 = double points)."
    )
    invitee_coupon_template_id: strawberry.ID | None
    monthly_cap: int = strawberry.field(
        description="Rewarded referrals per referrer per calendar month (Asia/Shanghai)."
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_domain(cls, program: m.ReferralProgram) -> ReferralProgram:
        return cls(
            id=encode_id("ReferralProgram", program.id),
            name=program.name,
            status=program.status,
            starts_at=program.starts_at,
            ends_at=program.ends_at,
            referrer_points=program.referrer_points,
            referrer_coupon_template_id=_template(program.referrer_template_id),
            invitee_points=program.invitee_points,
            invitee_points_per_yuan=program.invitee_points_per_yuan,
            invitee_coupon_template_id=_template(program.invitee_template_id),
            monthly_cap=program.monthly_cap,
            created_at=program.created_at,
            updated_at=program.updated_at,
        )


@strawberry.type(description="What a member shares to invite friends.")
class ReferralShare:
    code: str = strawberry.field(description="The member's referral code (8 characters).")
    share_path: str = strawberry.field(
        description="The mini-program page a share card opens, with the code."
    )
    scene: str = strawberry.field(
        description="The `scene` of a mini-program code (at most 32 characters, as WeChat "
        "requires); the page reads the code from it."
    )

    @classmethod
    def from_domain(cls, payload: m.SharePayload) -> ReferralShare:
        return cls(code=payload.code, share_path=payload.share_path, scene=payload.scene)


@strawberry.type(description="One invitation: waiting, rewarded, taken back, or refused.")
class Referral:
    id: strawberry.ID
    status: ReferralStatus
    reason: RefusalReason | None = strawberry.field(description="Why it was refused.")
    referrer_rewarded: bool = strawberry.field(
        description="False when the referrer's monthly cap was reached."
    )
    created_at: datetime
    decided_at: datetime | None
    invitee_id: strawberry.ID | None = strawberry.field(description="CS only.")
    referrer_id: strawberry.ID | None = strawberry.field(description="CS only.")

    @classmethod
    def from_domain(cls, referral: m.Referral, *, ids: bool) -> Referral:
        return cls(
            id=encode_id("Referral", referral.id),
            status=referral.status,
            reason=referral.reason,
            referrer_rewarded=referral.referrer_paid,
            created_at=referral.created_at,
            decided_at=referral.decided_at,
            invitee_id=encode_id("Member", referral.invitee_id) if ids else None,
            referrer_id=(
                encode_id("Member", referral.referrer_id) if ids and referral.referrer_id else None
            ),
        )


@strawberry.type(description="A member's referrals: counts, and the latest 100, newest first.")
class Referrals:
    invited: int = strawberry.field(description="Attributed invitees (not the refused).")
    rewarded: int
    pending: int = strawberry.field(description="Waiting for their first order's hand-over.")
    items: list[Referral] = strawberry.field(
        description="Whom the member invited; refused ones only for CS."
    )
    referred_by: Referral | None = strawberry.field(
        description="The member's own attribution (or its refusal), if they came with a code."
    )

    @classmethod
    def from_domain(cls, found: services.ReferralSummary, *, cs: bool) -> Referrals:
        own = found.referred_by
        return cls(
            invited=found.counts.invited,
            rewarded=found.counts.rewarded,
            pending=found.counts.pending,
            items=[Referral.from_domain(r, ids=cs) for r in found.items],
            referred_by=Referral.from_domain(own, ids=cs) if own else None,
        )
