"""Referrals (老带新): an invitee who joins with a member's code earns both sides a reward when
the invitee's first order is handed over; a full refund of that order takes it back.

Anti-abuse: only a new person is attributed (a member OneID created at this login, none of
whose identifiers belonged to an erased member); codes of erased or merged members, one's
own code, a device that already brought an invitee (rings), and a later merge of invitee and
referrer are refused. A refusal is a recorded referral with its reason: login goes on."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from domain.errors import GrowthError, GrowthErrorCode, PromotionError
from domain.events import (
    EventHandlers,
    Exporter,
    MemberErasing,
    MemberLoggedIn,
    MembersMerged,
    OrderFullyRefunded,
    OrderHandedOver,
)
from domain.growth.deps import ReferralDeps
from domain.growth.referrals_model import (
    ProgramStatus,
    Referral,
    ReferralCounts,
    ReferralStatus,
    RefusalReason,
    SharePayload,
    clean_code,
    device_hash,
    referral_code,
    reward_month,
    share_payload,
)
from domain.identity.model import Principal
from domain.ids import new_id
from domain.loyalty.ledger import credit, debit
from domain.loyalty.model import MAX_POINTS, EntryKind
from domain.members.merge import absorbed_into_in_uow
from domain.members.model import MemberStatus
from domain.members.services import identity_hashes_in_uow, surviving_member_in_uow
from domain.ordering.services import is_cs
from domain.promotions.coupons import (
    grant_in_uow,
    revoke_unused_grant_in_uow,
)
from domain.uow import UnitOfWork

MAX_LISTED = 100  # referrals listed per member, newest first


async def share(deps: ReferralDeps, member_id: UUID) -> SharePayload:
    """The member's code and what a share carries (stored at first ask: a code someone
    enters is looked up, never decoded)."""
    code = referral_code(deps.key, member_id)
    async with deps.uow() as uow:
        await uow.referrals.put_code(member_id, code, deps.clock.now())
    return share_payload(code)


@dataclass(frozen=True)
class ReferralSummary:
    counts: ReferralCounts
    items: list[Referral]
    referred_by: Referral | None  # the member's own attribution (also a refused one)


async def summary(deps: ReferralDeps, member_id: UUID, *, refused: bool = False) -> ReferralSummary:
    """Whom the member invited (newest first; refused ones only for CS) and counts."""
    statuses = tuple(s for s in ReferralStatus if refused or s is not ReferralStatus.REFUSED)
    async with deps.uow() as uow:
        counts = await uow.referrals.counts(member_id)
        items = await uow.referrals.of_referrer(member_id, MAX_LISTED, statuses)
        own = await uow.referrals.of_invitee(member_id)
    return ReferralSummary(counts, items, own)


async def member_referrals(
    deps: ReferralDeps, actor: Principal, member_id: UUID
) -> ReferralSummary:
    """CS: a member's referrals, refused ones with their reasons."""
    if not is_cs(actor):
        raise GrowthError(GrowthErrorCode.FORBIDDEN, "Only CS sees a member's referrals.")
    return await summary(deps, member_id, refused=True)


# Reactions to other contexts' events, in their transactions. None of them raises on a
# refusal: a login, a hand-over or a refund never fails because of a referral.


async def _refusal(
    deps: ReferralDeps,
    uow: UnitOfWork,
    event: MemberLoggedIn,
    referrer_id: UUID | None,
    device: str | None,
) -> RefusalReason | None:
    if referrer_id is None:
        return RefusalReason.UNKNOWN_CODE
    if referrer_id == event.member_id:
        return RefusalReason.SELF_REFERRAL
    if not event.created:
        return RefusalReason.NOT_NEW
    if await uow.referrals.any_erased(event.identity_hashes):
        return RefusalReason.RETURNING
    referrer = await uow.members.get(referrer_id)
    if referrer is None or referrer.status is not MemberStatus.ACTIVE:
        return RefusalReason.REFERRER_GONE
    if device is not None:
        own = await uow.referrals.of_invitee(referrer_id)
        if own is not None and own.device_hash == device:
            return RefusalReason.SELF_REFERRAL
        if await uow.referrals.device_seen(device):
            return RefusalReason.SHARED_DEVICE
    return None


async def attribute_in_uow(
    deps: ReferralDeps, uow: UnitOfWork, event: MemberLoggedIn
) -> Referral | None:
    """A login that named a code: the invitee's one attribution (or its recorded refusal)."""
    if await uow.referrals.of_invitee(event.member_id) is not None:
        return None  # decided at an earlier login
    now = deps.clock.now()
    code = clean_code(event.referral_code)
    referrer_id = await uow.referrals.member_of_code(code) if code else None
    device = device_hash(deps.key, event.device)
    reason = await _refusal(deps, uow, event, referrer_id, device)
    program = await uow.referrals.active_program()
    if reason is None and (program is None or not program.live(now)):
        reason = RefusalReason.NO_PROGRAM
    referral = Referral(
        id=new_id(),
        invitee_id=event.member_id,
        referrer_id=referrer_id,
        code=code[:16],
        program_id=program.id if program is not None and reason is None else None,
        status=ReferralStatus.REFUSED if reason else ReferralStatus.PENDING,
        reason=reason,
        device_hash=device,
        order_id=None,
        referrer_paid=False,
        created_at=now,
        decided_at=now if reason else None,
    )
    return referral if await uow.referrals.add(referral) else None


def _key(referral: Referral, side: str, what: str = "reward") -> str:
    return f"referral-{what}:{referral.id}:{side}"


async def _grant(
    deps: ReferralDeps,
    uow: UnitOfWork,
    referral: Referral,
    side: str,
    member_id: UUID,
    points: int,
    template_id: UUID | None,
) -> int:
    """Pay one side; the points paid."""
    points = min(points, MAX_POINTS)
    if points > 0:
        await credit(
            deps.loyalty,
            uow,
            member_id,
            points,
            EntryKind.ADJUST,
            f"referral:{referral.id}",
            "SYSTEM",
            f"referral reward ({side})",
            _key(referral, side),
        )
    if template_id is not None:
        # A template that gives no more (paused, ended, sold out): the points still pay.
        with suppress(PromotionError):
            await grant_in_uow(deps.coupons, uow, template_id, member_id, _key(referral, side))
    return max(points, 0)


async def reward_in_uow(
    deps: ReferralDeps, uow: UnitOfWork, event: OrderHandedOver
) -> Referral | None:
    """The invitee's first order handed over: both sides rewarded once (keys on every
    grant), the referrer within the program's monthly cap."""
    referral = await uow.referrals.of_invitee(event.member_id, lock=True)
    if referral is None or referral.status is not ReferralStatus.PENDING:
        return None
    program = await uow.referrals.get_program(referral.program_id) if referral.program_id else None
    now = deps.clock.now()
    if program is None or program.status is ProgramStatus.ENDED or now >= program.ends_at:
        return None  # the program is over: nothing more is paid
    assert referral.referrer_id is not None
    referrer = await surviving_member_in_uow(uow, referral.referrer_id)
    referral.referrer_paid = (
        referrer is not None
        and referrer.status is MemberStatus.ACTIVE
        and await uow.referrals.take_month_slot(referrer.id, reward_month(now), program.monthly_cap)
    )
    if referral.referrer_paid and referrer is not None:
        referral.referrer_points = await _grant(
            deps,
            uow,
            referral,
            "referrer",
            referrer.id,
            program.referrer_points,
            program.referrer_template_id,
        )
    referral.invitee_points = await _grant(
        deps,
        uow,
        referral,
        "invitee",
        event.member_id,
        program.invitee_points_for(event.paid),
        program.invitee_template_id,
    )
    referral.status, referral.order_id, referral.decided_at = (
        ReferralStatus.REWARDED,
        event.order_id,
        now,
    )
    await uow.referrals.save(referral)
    return referral


async def _take_back(
    deps: ReferralDeps, uow: UnitOfWork, referral: Referral, side: str, member_id: UUID, points: int
) -> None:
    if points > 0:  # spent points become a debt, as the ledger records reversals
        await debit(
            deps.loyalty,
            uow,
            member_id,
            points,
            EntryKind.REVERSE,
            f"referral:{referral.id}",
            "SYSTEM",
            f"referral reward taken back ({side})",
            _key(referral, side, "back"),
            allow_debt=True,
        )
    await revoke_unused_grant_in_uow(uow, _key(referral, side), deps.clock.now())


async def claw_back_in_uow(
    deps: ReferralDeps, uow: UnitOfWork, event: OrderFullyRefunded
) -> Referral | None:
    """The rewarded first order was fully refunded (within its return window, which
    after-sales enforces): points taken back (a debt when spent), unused coupons revoked,
    used ones left. The referrer's monthly slot stays taken. An invitee merged into another
    member since: the order is the survivor's now, the referral still the absorbed member's
    (a merge moves no referral), so it is looked for under every id merged into the order's
    member too; what is taken back is taken from the survivor, who holds the points and
    coupons now."""
    referral = await _rewarded_for(uow, event)
    if referral is None:
        return None
    if referral.referrer_paid and referral.referrer_id is not None:
        referrer = await surviving_member_in_uow(uow, referral.referrer_id)
        if referrer is not None:
            await _take_back(deps, uow, referral, "referrer", referrer.id, referral.referrer_points)
    await _take_back(deps, uow, referral, "invitee", event.member_id, referral.invitee_points)
    referral.status, referral.decided_at = ReferralStatus.CLAWED_BACK, deps.clock.now()
    await uow.referrals.save(referral)
    return referral


async def _rewarded_for(uow: UnitOfWork, event: OrderFullyRefunded) -> Referral | None:
    """The REWARDED referral whose first order this is (locked), if any."""
    referral = await uow.referrals.of_invitee(event.member_id, lock=True)
    if referral is None or referral.order_id != event.order_id:
        referral = None
        for absorbed in await absorbed_into_in_uow(uow, event.member_id):
            found = await uow.referrals.of_invitee(absorbed, lock=True)
            if found is not None and found.order_id == event.order_id:
                referral = found
                break
    if referral is None or referral.status is not ReferralStatus.REWARDED:
        return None
    return referral


async def _on_merged(deps: ReferralDeps, uow: UnitOfWork, event: MembersMerged) -> None:
    """A merge shows who was one person: an invitee merged with its referrer referred
    themselves; an invitee merged into an older member was not new."""
    source, target = event.source_member_id, event.target_member_id
    for invitee, reason in (
        (source, RefusalReason.MERGED),
        (target, RefusalReason.SELF_REFERRAL),
    ):
        referral = await uow.referrals.of_invitee(invitee, lock=True)
        if referral is None or referral.status is not ReferralStatus.PENDING:
            continue
        if invitee == target and referral.referrer_id != source:
            continue  # the survivor absorbed someone else: its own attribution stands
        if invitee == source and referral.referrer_id == target:
            reason = RefusalReason.SELF_REFERRAL
        referral.status, referral.reason = ReferralStatus.REFUSED, reason
        referral.decided_at = deps.clock.now()
        await uow.referrals.save(referral)


def referrals_exporter(deps: ReferralDeps) -> Exporter:
    """The member's referral code, counts and own attribution, for their data export."""

    async def export(uow: UnitOfWork, member_id: UUID) -> dict[str, Any]:
        counts = await uow.referrals.counts(member_id)
        own = await uow.referrals.of_invitee(member_id)
        return {
            "code": referral_code(deps.key, member_id),
            "invited": counts.invited,
            "rewarded": counts.rewarded,
            "pending": counts.pending,
            "referredBy": (
                {
                    "status": own.status.value,
                    "reason": own.reason.value if own.reason else None,
                    "createdAt": own.created_at.isoformat(),
                }
                if own
                else None
            ),
        }

    return export


async def rewarded_for_order_in_uow(uow: UnitOfWork, event: OrderHandedOver) -> list[UUID]:
    """The members this hand-over's referral rewarded (the invitee, and the referrer unless
    capped), once `reward_in_uow` has run: engagement's REFERRAL_REWARDED trigger."""
    referral = await uow.referrals.of_invitee(event.member_id)
    if referral is None or referral.status is not ReferralStatus.REWARDED:
        return []
    if referral.order_id != event.order_id:
        return []
    rewarded = [referral.invitee_id]
    if referral.referrer_paid and referral.referrer_id is not None:
        rewarded.append(referral.referrer_id)
    return rewarded


def register_handlers(deps: ReferralDeps, events: EventHandlers) -> None:
    async def on_login(uow: UnitOfWork, event: MemberLoggedIn) -> None:
        if event.referral_code.strip():  # a login may name only a shopping guide's code
            await attribute_in_uow(deps, uow, event)

    async def on_handed_over(uow: UnitOfWork, event: OrderHandedOver) -> None:
        await reward_in_uow(deps, uow, event)

    async def on_refunded(uow: UnitOfWork, event: OrderFullyRefunded) -> None:
        await claw_back_in_uow(deps, uow, event)

    async def on_merged(uow: UnitOfWork, event: MembersMerged) -> None:
        await _on_merged(deps, uow, event)

    async def on_erasing(uow: UnitOfWork, event: MemberErasing) -> None:
        # Kept as keyed hashes (no identifier can be read back) so a returning person is
        # not a new one: the anti-abuse purpose PIPL allows to keep.
        hashes = await identity_hashes_in_uow(uow, event.member_id)
        await uow.referrals.remember_erased(hashes, deps.clock.now())

    events.register(MemberLoggedIn, on_login)
    events.register(OrderHandedOver, on_handed_over)
    events.register(OrderFullyRefunded, on_refunded)
    events.register(MembersMerged, on_merged)
    events.register(MemberErasing, on_erasing)
