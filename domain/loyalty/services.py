"""Loyalty use cases: check-in, CS adjustments, earning on hand-over, tiers, reading."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from domain.errors import CommonError, CommonErrorCode, PointsError, PointsErrorCode
from domain.idempotency import clean_key
from domain.identity.model import Principal, StaffRole
from domain.ids import new_id
from domain.loyalty.deps import LoyaltyDeps
from domain.loyalty.ledger import account_for, credit, credit_locked, debit, standing_changed
from domain.loyalty.model import (
    BPS,
    MAX_POINTS,
    Account,
    ClaimState,
    Entry,
    EntryKind,
    PointsClaim,
    Tier,
)
from domain.pagination import Page, PageRequest
from domain.uow import UnitOfWork


async def daily_check_in(deps: LoyaltyDeps, member_id: UUID) -> Entry:
    """Once per local day, whatever retries or processes do (the entry key is the day)."""
    day = deps.clock.now().astimezone(ZoneInfo(deps.policy.timezone)).date().isoformat()
    key = f"checkin:{day}"
    async with deps.uow() as uow:
        await account_for(deps, uow, member_id)
        if await uow.loyalty.entry_by_key(member_id, key) is not None:
            raise PointsError(
                PointsErrorCode.ALREADY_CHECKED_IN,
                f"Already checked in on {day}; come back tomorrow.",
            )
        return await credit(
            deps,
            uow,
            member_id,
            deps.policy.check_in_points,
            EntryKind.CHECK_IN,
            key,
            f"MEMBER:{member_id}",
            "daily check-in",
            key,
        )


async def credit_reward_in_uow(
    deps: LoyaltyDeps,
    uow: UnitOfWork,
    member_id: UUID,
    points: int,
    source: str,
    reason: str,
    key: str,
) -> Entry:
    """Points another context gives a member inside its own transaction (growth's rewards):
    once per `key`, a second call with it returns the first entry."""
    return await credit(deps, uow, member_id, points, EntryKind.REWARD, source, source, reason, key)


async def adjust_points(
    deps: LoyaltyDeps,
    actor: Principal,
    member_id: UUID,
    delta: int,
    reason: str,
    idempotency_key: str | None,
) -> Entry:
    """CS corrections, with the actor and the reason on the entry."""
    why = reason.strip()
    if not 3 <= len(why) <= 200:
        raise PointsError(
            PointsErrorCode.INVALID_INPUT, "Give a reason (3-200 characters).", ["reason"]
        )
    if delta == 0 or abs(delta) > MAX_POINTS:
        raise PointsError(
            PointsErrorCode.INVALID_INPUT,
            f"`delta` is a non-zero change up to {MAX_POINTS}.",
            ["delta"],
        )
    key = clean_key(idempotency_key)
    async with deps.uow() as uow:
        if await uow.members.get(member_id) is None:
            raise PointsError(PointsErrorCode.NOT_FOUND, "Unknown member.", ["memberId"])
        scoped = f"adjust:{key}" if key else None
        if scoped and (first := await uow.loyalty.entry_by_key(member_id, scoped)) is not None:
            if first.amount != delta:
                raise CommonError(
                    CommonErrorCode.IDEMPOTENCY_CONFLICT,
                    "This idempotencyKey was used for a different adjustment.",
                    ["idempotencyKey"],
                )
            return first
        if delta > 0:
            return await credit(
                deps,
                uow,
                member_id,
                delta,
                EntryKind.ADJUST,
                f"cs:{actor.id}",
                actor.label,
                why,
                scoped,
            )
        try:
            return await debit(
                deps,
                uow,
                member_id,
                -delta,
                EntryKind.ADJUST,
                f"cs:{actor.id}",
                actor.label,
                why,
                scoped,
            )
        except PointsError as error:  # point at the input field the caller gave
            raise PointsError(error.code, error.message, ["delta"]) from None


async def earn_for_purchase(
    deps: LoyaltyDeps,
    uow: UnitOfWork,
    member_id: UUID,
    paid_fen: int,
    reference: str,
    actor: str = "SYSTEM",
    points: int | None = None,
) -> Entry | None:
    """Goods handed over: points per yuan paid times the tier multiplier (or the `points`
    an approver agreed to); growth counts."""
    account = await account_for(deps, uow, member_id)
    if (earned := await uow.loyalty.entry_by_key(member_id, f"earn:{reference}")) is not None:
        return earned  # a replayed hand-over: its growth and points were counted already
    now = deps.clock.now()
    await uow.loyalty.add_growth(member_id, paid_fen, now, reference)
    await _retier(deps, uow, account)
    if points is None:
        points = deps.policy.earned_for(paid_fen, account.tier)
    if points <= 0:
        await uow.loyalty.save_account(account)
        return None
    return await credit_locked(  # saves the account (its new tier and growth too)
        deps,
        uow,
        account,
        points,
        EntryKind.EARN,
        reference,
        actor,
        f"purchase {reference}",
        f"earn:{reference}",
    )


@dataclass(frozen=True)
class TillPoints:
    """What a till sale did for the member: points earned now, or points waiting."""

    earned: int = 0
    pending: int = 0
    claim_id: UUID | None = None


async def earn_for_till_sale(
    deps: LoyaltyDeps,
    uow: UnitOfWork,
    member_id: UUID,
    location_id: UUID,
    paid_fen: int,
    reference: str,
) -> TillPoints:
    """Points and growth from what the till recorded as paid. A sale that would earn more than
    the per-sale cap still counts as a sale, but its points and growth wait as a PENDING
    claim: a till (or whoever holds its token) cannot mint points or jump tiers alone."""
    if paid_fen <= 0:
        return TillPoints()
    account = await account_for(deps, uow, member_id)
    if (claim := await uow.loyalty.claim_by_reference(reference)) is not None:
        return TillPoints(pending=claim.points, claim_id=claim.id)  # a replayed sale
    points = deps.policy.earned_for(paid_fen, account.tier)
    if points > deps.policy.till_points_cap:
        claim = PointsClaim(
            new_id(),
            member_id,
            location_id,
            reference,
            paid_fen,
            points,
            ClaimState.PENDING,
            deps.clock.now(),
        )
        await uow.loyalty.add_claim(claim)
        return TillPoints(pending=points, claim_id=claim.id)
    entry = await earn_for_purchase(deps, uow, member_id, paid_fen, reference)
    return TillPoints(earned=entry.amount if entry else 0)


async def redeem_for_till_sale(
    deps: LoyaltyDeps,
    uow: UnitOfWork,
    member_id: UUID,
    paid_fen: int,
    points: int,
    reference: str,
) -> int:
    """Points a member spends on a till sale (they showed their member code: their consent),
    at most the policy's share of what the till charged; the fen they paid for."""
    if points <= 0:
        return 0
    value = deps.policy.value_of(points)
    cap = paid_fen * deps.policy.max_redeem_bps // BPS
    if value > cap:
        raise PointsError(
            PointsErrorCode.POINTS_CAP_EXCEEDED,
            f"Points may pay at most {cap} fen of this sale "
            f"({cap * deps.policy.points_per_yuan_redeemed // 100} points).",
            ["pointsToRedeem"],
        )
    try:
        await debit(
            deps,
            uow,
            member_id,
            points,
            EntryKind.REDEEM,
            reference,
            f"MEMBER:{member_id}",
            "paid at the till",
            f"redeem:{reference}",
        )
    except PointsError as error:
        raise PointsError(error.code, error.message, ["pointsToRedeem"]) from None
    return value


async def decide_claim(
    deps: LoyaltyDeps, actor: Principal, claim_id: UUID, approve: bool, reason: str
) -> PointsClaim:
    """A STORE_MANAGER of the sale's store, a CS agent or an admin approves a claim (its points,
    as shown, and the sale's growth are earned now) or rejects it. Deciding again the same
    way answers the same claim; the other way is CLAIM_ALREADY_DECIDED."""
    why = reason.strip()
    if len(why) > 200 or (not approve and len(why) < 3):
        raise PointsError(
            PointsErrorCode.INVALID_INPUT,
            "Give a reason (3-200 characters) to reject; at most 200 to approve.",
            ["reason"],
        )
    async with deps.uow() as uow:
        found = await uow.loyalty.get_claim(claim_id)
        if found is None or not _may_decide(actor, found.location_id):
            raise PointsError(PointsErrorCode.NOT_FOUND, "Unknown points claim.", ["claimId"])
        await account_for(deps, uow, found.member_id)  # the account first, as every writer
        claim = await uow.loyalty.get_claim(claim_id, lock=True)
        assert claim is not None
        wanted = ClaimState.APPROVED if approve else ClaimState.REJECTED
        if claim.state is not ClaimState.PENDING:
            if claim.state is wanted:
                return claim
            raise PointsError(
                PointsErrorCode.CLAIM_ALREADY_DECIDED,
                f"This claim was {claim.state.value.lower()} by {claim.decided_by}.",
                ["claimId"],
            )
        claim.state, claim.decided_by = wanted, actor.label
        claim.decided_at, claim.reason = deps.clock.now(), why
        if approve:
            await earn_for_purchase(
                deps, uow, claim.member_id, claim.paid, claim.reference, actor.label, claim.points
            )
        await uow.loyalty.save_claim(claim)
        return claim


def _may_decide(actor: Principal, location_id: UUID) -> bool:
    if actor.has_role(StaffRole.ADMIN, StaffRole.CS_AGENT):
        return True
    return actor.has_role(StaffRole.STORE_MANAGER) and location_id in actor.store_ids


async def claims(
    deps: LoyaltyDeps,
    actor: Principal,
    location_id: UUID | None,
    state: ClaimState | None,
    page: PageRequest,
) -> Page[PointsClaim]:
    """Claims to decide: a store manager sees their stores' (or one of them), CS all."""
    if actor.has_role(StaffRole.ADMIN, StaffRole.CS_AGENT):
        stores: list[UUID] | None = None if location_id is None else [location_id]
    elif actor.has_role(StaffRole.STORE_MANAGER):
        if location_id is not None and location_id not in actor.store_ids:
            raise PointsError(
                PointsErrorCode.FORBIDDEN, "Only your own stores' claims.", ["locationId"]
            )
        stores = [location_id] if location_id else sorted(actor.store_ids)
    else:
        raise PointsError(PointsErrorCode.FORBIDDEN, "Store managers and CS decide claims.")
    async with deps.uow() as uow:
        return await uow.loyalty.claims(stores, state, page)


async def reverse_for_refund(
    deps: LoyaltyDeps,
    uow: UnitOfWork,
    member_id: UUID,
    reference: str,
    refunded_fen: int,
    paid_fen: int,
    refund_key: str | None = None,
    earned_by: Sequence[UUID] = (),
) -> Entry | None:
    """A refund takes back the proportional points; spent ones become a recorded debt.
    `refund_key` names the refund when a purchase has several (after-sales of some lines);
    without it, the refunded amount does. `earned_by`: members merged into `member_id`, one
    of whom may have earned on the purchase (their entries stay with their accounts); the
    points are taken from `member_id`, which holds their balance now."""
    key = f"earn:{reference}"
    earned = await uow.loyalty.entry_by_key(member_id, key)
    if earned is None and earned_by:
        earned = await uow.loyalty.entry_by_key_of_any(earned_by, key)
    if earned is None or paid_fen <= 0:
        return None
    await account_for(deps, uow, member_id)  # replays of this refund wait for each other
    key = f"reverse-earn:{reference}:{refund_key or refunded_fen}"
    if (done := await uow.loyalty.entry_by_key(member_id, key)) is not None:
        return done  # a replayed refund: its growth and points were taken back already
    points = earned.amount * min(refunded_fen, paid_fen) // paid_fen
    await uow.loyalty.add_growth(member_id, -refunded_fen, deps.clock.now(), f"refund:{reference}")
    if points <= 0:
        return None
    return await debit(
        deps,
        uow,
        member_id,
        points,
        EntryKind.REVERSE,
        f"refund:{reference}",
        "SYSTEM",
        f"refund of {reference}",
        key,
        allow_debt=True,
    )


async def return_redeemed_in_uow(
    deps: LoyaltyDeps,
    uow: UnitOfWork,
    member_id: UUID,
    points: int,
    reference: str,
    refund_key: str,
) -> Entry | None:
    """Part of a purchase's redeemed points comes back: the lines they paid for were
    refunded (a whole order's redemption is `reverse_redemption`). Once per `refund_key`."""
    if points <= 0:
        return None
    await account_for(deps, uow, member_id)
    key = f"return-redeemed:{reference}:{refund_key}"
    if (done := await uow.loyalty.entry_by_key(member_id, key)) is not None:
        return done
    return await credit(
        deps,
        uow,
        member_id,
        points,
        EntryKind.REVERSE,
        f"refund:{reference}",
        "SYSTEM",
        f"points of refunded lines of {reference}",
        key,
    )


async def recompute_tier(deps: LoyaltyDeps, uow: UnitOfWork, account: Account) -> None:
    await _retier(deps, uow, account)
    await uow.loyalty.save_account(account)


async def _retier(deps: LoyaltyDeps, uow: UnitOfWork, account: Account) -> None:
    """The account's growth and tier from its growth records (a change is recorded); the
    caller saves the account."""
    now = deps.clock.now()
    growth = (
        await uow.loyalty.growth_since([account.member_id], now - deps.policy.growth_window)
    ).get(account.member_id, 0)
    tier = deps.policy.tier_for(growth).name
    account.growth_value = growth
    if tier != account.tier:
        await uow.loyalty.add_tier_change(account.member_id, account.tier, tier, now)
        account.tier = tier
        await standing_changed(deps, uow, account)


async def recompute_all_tiers(deps: LoyaltyDeps, batch: int = 500) -> int:
    """Nightly job: growth leaves the rolling window, so tiers go down as well as up."""
    after: UUID | None = None
    changed = 0
    while True:
        async with deps.uow() as uow:
            accounts = await uow.loyalty.accounts_page(after, batch)
            for account in accounts:
                before = account.tier
                locked = await account_for(deps, uow, account.member_id)
                await recompute_tier(deps, uow, locked)
                changed += locked.tier != before
        if len(accounts) < batch:
            return changed
        after = accounts[-1].member_id


@dataclass(frozen=True)
class PointsSummary:
    account: Account
    tier: str  # PointsPolicy.tier_of: the one answer to "which tier is this member in"
    next_tier: Tier | None
    expiring: list[tuple[datetime, int]]


async def tiers_in_uow(
    deps: LoyaltyDeps, uow: UnitOfWork, member_ids: Sequence[UUID]
) -> dict[UUID, str]:
    """Each member's tier (`PointsPolicy.tier_of`), in one read: engagement's conditions."""
    found = {a.member_id: a for a in await uow.loyalty.get_accounts(member_ids)}
    return {m: deps.policy.tier_of(found.get(m)) for m in member_ids}


async def members_with_points_expiring_in_uow(
    uow: UnitOfWork, by: datetime, limit: int, after: UUID | None = None
) -> list[UUID]:
    """Members with points left in lots that expire by `by`, in id order after `after`
    (engagement's POINTS_EXPIRING trigger)."""
    return await uow.loyalty.members_with_expired_lots(by, limit, after)


async def summary(deps: LoyaltyDeps, member_id: UUID) -> PointsSummary:
    async with deps.uow() as uow:
        found = await uow.loyalty.get_account(member_id)
        account = found or Account(member_id, 0, 0, 0, 0, deps.policy.tier_of(None))
        lots = await uow.loyalty.lots(member_id)
    horizon = deps.clock.now() + deps.policy.expiring_soon
    soon: dict[datetime, int] = defaultdict(int)
    for lot in lots:
        if lot.expires_at <= horizon and lot.remaining > 0:
            soon[lot.expires_at] += lot.remaining
    return PointsSummary(
        account=account,
        tier=deps.policy.tier_of(found),
        next_tier=deps.policy.next_tier(account.growth_value),
        expiring=sorted(soon.items()),
    )
