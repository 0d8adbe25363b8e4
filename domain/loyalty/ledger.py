"""The points ledger. Every operation locks the member's account row first (one row per
member, so no lock-order problem), writes immutable entries, and moves points between lots:
earnings make lots, spending takes the soonest-expiring lots first, holds earmark them."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from domain.errors import PointsError, PointsErrorCode
from domain.events import PointsStandingChanged
from domain.ids import new_id
from domain.loyalty.deps import LoyaltyDeps
from domain.loyalty.model import (
    MAX_POINTS,
    Account,
    Entry,
    EntryKind,
    Hold,
    HoldState,
    Lot,
)
from domain.uow import UnitOfWork

CREDITS = frozenset(
    {
        EntryKind.EARN,
        EntryKind.CHECK_IN,
        EntryKind.ADJUST,
        EntryKind.REVERSE,
        EntryKind.MERGE_IN,
        EntryKind.REWARD,
    }
)


def _check_points(points: int, path: str = "points") -> None:
    if not 0 < points <= MAX_POINTS:
        raise PointsError(
            PointsErrorCode.INVALID_INPUT, f"Points are 1 to {MAX_POINTS}; got {points}.", [path]
        )


async def account_for(deps: LoyaltyDeps, uow: UnitOfWork, member_id: UUID) -> Account:
    return await uow.loyalty.lock_account(member_id, deps.policy.tiers[0].name)


async def _record(
    deps: LoyaltyDeps,
    uow: UnitOfWork,
    account: Account,
    kind: EntryKind,
    amount: int,
    held_change: int,
    source: str,
    actor: str,
    reason: str,
    key: str | None,
) -> Entry:
    entry = Entry(
        id=new_id(),
        member_id=account.member_id,
        kind=kind,
        amount=amount,
        held_change=held_change,
        balance_after=account.balance,
        held_after=account.held,
        source=source,
        actor=actor,
        reason=reason[:200],
        idempotency_key=key or f"auto:{new_id()}",
        created_at=deps.clock.now(),
    )
    await uow.loyalty.add_entries([entry])
    await uow.loyalty.save_account(account)
    if amount:  # a hold or its release moves `held`, not the balance
        await standing_changed(deps, uow, account)
    return entry


async def standing_changed(deps: LoyaltyDeps, uow: UnitOfWork, account: Account) -> None:
    """Tell the read models (member facts) the account's balance and tier."""
    event = PointsStandingChanged(account.member_id, account.balance, account.tier)
    await deps.events.dispatch(uow, event)


async def credit(
    deps: LoyaltyDeps,
    uow: UnitOfWork,
    member_id: UUID,
    points: int,
    kind: EntryKind,
    source: str,
    actor: str,
    reason: str,
    key: str | None,
    *,
    expires_at: datetime | None = None,
) -> Entry:
    """Add points: debt is paid off first, the rest becomes a lot with an expiry date."""
    assert kind in CREDITS
    _check_points(points)
    account = await account_for(deps, uow, member_id)
    if key and (first := await uow.loyalty.entry_by_key(member_id, key)) is not None:
        return first
    return await credit_locked(
        deps, uow, account, points, kind, source, actor, reason, key, expires_at=expires_at
    )


async def credit_locked(
    deps: LoyaltyDeps,
    uow: UnitOfWork,
    account: Account,
    points: int,
    kind: EntryKind,
    source: str,
    actor: str,
    reason: str,
    key: str | None,
    *,
    expires_at: datetime | None = None,
) -> Entry:
    """`credit` for a caller that has locked the account and checked the key already."""
    assert kind in CREDITS
    _check_points(points)
    member_id = account.member_id
    now = deps.clock.now()
    paid_debt = min(points, account.debt)
    account.debt -= paid_debt
    account.balance += points
    if points > paid_debt:
        await uow.loyalty.add_lot(
            Lot(
                new_id(),
                member_id,
                points - paid_debt,
                points - paid_debt,
                0,
                now,
                expires_at or deps.policy.expiry_for(now),
                source,
            )
        )
    return await _record(deps, uow, account, kind, points, 0, source, actor, reason, key)


def _take(lots: list[Lot], points: int) -> dict[UUID, int]:
    """Spendable points from the soonest-expiring lots first."""
    taken: dict[UUID, int] = {}
    for lot in lots:
        if points <= 0:
            break
        part = min(lot.remaining, points)
        if part:
            lot.remaining -= part
            taken[lot.id] = part
            points -= part
    return taken


async def debit(
    deps: LoyaltyDeps,
    uow: UnitOfWork,
    member_id: UUID,
    points: int,
    kind: EntryKind,
    source: str,
    actor: str,
    reason: str,
    key: str | None,
    *,
    allow_debt: bool = False,
) -> Entry:
    """Take points now (CS corrections, reversals of earnings). Beyond what is spendable
    it is refused, or, for reversals of points already spent, recorded as debt."""
    _check_points(points)
    account = await account_for(deps, uow, member_id)
    if key and (first := await uow.loyalty.entry_by_key(member_id, key)) is not None:
        return first
    if points > account.available and not allow_debt:
        raise PointsError(
            PointsErrorCode.INSUFFICIENT_POINTS,
            f"Only {account.available} points are available.",
            ["points"],
        )
    lots = await uow.loyalty.lots(member_id)
    taken = _take(lots, points)
    await uow.loyalty.save_lots([lot for lot in lots if lot.id in taken])
    account.debt += points - sum(taken.values())
    account.balance -= points
    return await _record(deps, uow, account, kind, -points, 0, source, actor, reason, key)


async def hold(
    deps: LoyaltyDeps, uow: UnitOfWork, member_id: UUID, points: int, owner: str, actor: str
) -> Hold:
    """Phase one of a redemption: the points stop being spendable, earmarked on lots."""
    _check_points(points, "pointsToRedeem")
    account = await account_for(deps, uow, member_id)
    existing = await uow.loyalty.hold_by_owner(owner)
    if existing is not None:
        return existing
    if points > account.available:
        raise PointsError(
            PointsErrorCode.INSUFFICIENT_POINTS,
            f"Only {account.available} points are available.",
            ["pointsToRedeem"],
        )
    lots = await uow.loyalty.lots(member_id)
    taken = _take(lots, points)
    for lot in lots:
        lot.held += taken.get(lot.id, 0)
    await uow.loyalty.save_lots([lot for lot in lots if lot.id in taken])
    held = Hold(new_id(), member_id, owner, points, HoldState.OPEN, taken, deps.clock.now())
    await uow.loyalty.add_hold(held)
    account.held += points
    await _record(
        deps,
        uow,
        account,
        EntryKind.HOLD,
        0,
        points,
        owner,
        actor,
        "held for redemption",
        f"hold:{owner}",
    )
    return held


async def _locked_hold(
    deps: LoyaltyDeps, uow: UnitOfWork, owner: str
) -> tuple[Account, Hold] | None:
    """The hold, re-read under its member's account lock. A merge may move it to another
    member while we wait for that lock: then the survivor's account is locked instead."""
    found = await uow.loyalty.hold_by_owner(owner)
    while found is not None:
        account = await account_for(deps, uow, found.member_id)
        current = await uow.loyalty.hold_by_owner(owner)
        assert current is not None
        if current.member_id == found.member_id:
            return account, current
        found = current
    return None


async def _finish_hold(
    deps: LoyaltyDeps, uow: UnitOfWork, owner: str, to: HoldState, actor: str
) -> Hold | None:
    locked = await _locked_hold(deps, uow, owner)
    if locked is None:
        return None
    account, current = locked
    if current.state is not HoldState.OPEN:
        return current  # already posted or released: nothing more to do
    lots = {lot.id: lot for lot in await uow.loyalty.lots(current.member_id)}
    for lot_id, part in current.allocations.items():
        lot = lots.get(lot_id)
        if lot is None:
            continue
        lot.held -= part
        if to is HoldState.RELEASED:
            lot.remaining += part  # expired lots give it up at the next expiry run
    await uow.loyalty.save_lots([lots[i] for i in current.allocations if i in lots])
    current.state = to
    await uow.loyalty.save_hold(current)
    account.held -= current.amount
    if to is HoldState.POSTED:
        account.balance -= current.amount
        await _record(
            deps,
            uow,
            account,
            EntryKind.REDEEM,
            -current.amount,
            -current.amount,
            owner,
            actor,
            "redeemed",
            f"redeem:{owner}",
        )
    else:
        await _record(
            deps,
            uow,
            account,
            EntryKind.RELEASE,
            0,
            -current.amount,
            owner,
            actor,
            "hold released",
            f"release:{owner}",
        )
    return current


async def post_hold(deps: LoyaltyDeps, uow: UnitOfWork, owner: str, actor: str) -> Hold | None:
    """Phase two: the order is paid, the held points are spent."""
    return await _finish_hold(deps, uow, owner, HoldState.POSTED, actor)


async def release_hold(deps: LoyaltyDeps, uow: UnitOfWork, owner: str, actor: str) -> Hold | None:
    """The order was cancelled or timed out before payment: the points come back."""
    return await _finish_hold(deps, uow, owner, HoldState.RELEASED, actor)


async def reverse_redemption(
    deps: LoyaltyDeps, uow: UnitOfWork, owner: str, actor: str
) -> Entry | None:
    """A paid order was refunded: the redeemed points return to the lots they came from."""
    locked = await _locked_hold(deps, uow, owner)
    if locked is None or locked[1].state is not HoldState.POSTED:
        return None  # not a redemption, or a concurrent call reversed it a moment ago
    account, found = locked
    lots = {lot.id: lot for lot in await uow.loyalty.lots(found.member_id)}
    restored = []
    for lot_id, part in found.allocations.items():
        lot = lots.get(lot_id) or await _reopened(uow, found.member_id, lot_id)
        if lot is not None:
            lot.remaining += part
            restored.append(lot)
    await uow.loyalty.save_lots(restored)
    found.state = HoldState.REVERSED
    await uow.loyalty.save_hold(found)
    paid_debt = min(found.amount, account.debt)
    account.debt -= paid_debt
    account.balance += found.amount
    if paid_debt:  # points that paid a debt are not in a lot any more
        _take(restored, paid_debt)
        await uow.loyalty.save_lots(restored)
    return await _record(
        deps,
        uow,
        account,
        EntryKind.REVERSE,
        found.amount,
        0,
        owner,
        actor,
        "redemption reversed",
        f"reverse-redeem:{owner}",
    )


async def _reopened(uow: UnitOfWork, member_id: UUID, lot_id: UUID) -> Lot | None:
    """A fully spent lot is not listed among lots with points left; fetch it directly."""
    return await uow.loyalty.lot(lot_id)


async def expire_member(deps: LoyaltyDeps, uow: UnitOfWork, member_id: UUID) -> int:
    """Spendable points of lots past their expiry become EXPIRE entries."""
    account = await account_for(deps, uow, member_id)
    now = deps.clock.now()
    expired = 0
    lots = await uow.loyalty.lots(member_id)
    changed = []
    for lot in lots:
        if lot.expires_at <= now and lot.remaining > 0:
            points, lot.remaining = lot.remaining, 0
            changed.append(lot)
            account.balance -= points
            expired += points
            await _record(
                deps,
                uow,
                account,
                EntryKind.EXPIRE,
                -points,
                0,
                f"lot:{lot.id}",
                "SYSTEM",
                f"expired {lot.expires_at.date().isoformat()}",
                f"expire:{lot.id}:{points}:{now.isoformat()}",
            )
    await uow.loyalty.save_lots(changed)
    return expired


async def expire_due(deps: LoyaltyDeps, batch: int = 200, max_batches: int = 50) -> int:
    """Job: expire lots past their date (per member, idempotent). A run keeps taking batches
    of members while they come back full, up to `max_batches` (a New Year's backlog drains
    in one run, not 200 members an hour)."""
    total, after = 0, None
    for _ in range(max_batches):
        async with deps.uow() as uow:
            members = await uow.loyalty.members_with_expired_lots(deps.clock.now(), batch, after)
        for member_id in members:
            async with deps.uow() as uow:
                total += await expire_member(deps, uow, member_id)
        if len(members) < batch:
            break
        after = members[-1]
    return total


async def merge_accounts(
    deps: LoyaltyDeps, uow: UnitOfWork, source: UUID, target: UUID, merge_id: UUID
) -> None:
    """MembersMerged: lots (with their expiry dates), holds and balance move to the survivor."""
    first, second = sorted([source, target])
    accounts = {
        first: await account_for(deps, uow, first),
        second: await account_for(deps, uow, second),
    }
    src, dst = accounts[source], accounts[target]
    # Always move the rows: spent lots and posted holds (a later reversal restores them)
    # and growth records belong to the survivor even when the source's balance is zero.
    await uow.loyalty.move_member(source, target)
    if src.balance == 0 and src.held == 0 and src.debt == 0:
        return
    moved, held, debt = src.balance, src.held, src.debt
    src.balance, src.held, src.debt = 0, 0, 0
    await _record(
        deps,
        uow,
        src,
        EntryKind.MERGE_OUT,
        -moved,
        -held,
        f"merge:{merge_id}",
        "SYSTEM",
        f"merged into {target}",
        f"merge-out:{merge_id}",
    )
    dst.balance, dst.held, dst.debt = dst.balance + moved, dst.held + held, dst.debt + debt
    await _record(
        deps,
        uow,
        dst,
        EntryKind.MERGE_IN,
        moved,
        held,
        f"merge:{merge_id}",
        "SYSTEM",
        f"merged from {source}",
        f"merge-in:{merge_id}",
    )
