"""The points ledger on the test database: earning, spending and holding through the domain's
services, and `check_books`, every invariant of the books for every account."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, time, timedelta
from typing import Any
from uuid import UUID

from domain.identity.model import Principal, PrincipalKind, StaffRole
from domain.ids import new_id
from domain.loyalty import ledger, services
from domain.loyalty.model import Account, Entry, EntryKind, Hold, HoldState
from domain.members.login import login_with_wechat
from infra.db.models.loyalty import (
    PointsAccountRow,
    PointsEntryRow,
    PointsHoldRow,
    PointsLotRow,
)
from infra.runtime import Runtime
from tests.support import STORE_ZONE, MovableClock

CS = Principal(kind=PrincipalKind.STAFF, id=new_id(), role=StaffRole.CS_AGENT)
DAY = timedelta(days=1)


async def new_member(runtime: Runtime, openid: str) -> UUID:
    member, _, _ = await login_with_wechat(runtime.members, "wx-demo", f"test:{openid}")
    return member.id


async def earn(
    runtime: Runtime,
    member_id: UUID,
    points: int,
    *,
    key: str | None = None,
    expires_in: timedelta | None = None,
    kind: EntryKind = EntryKind.EARN,
) -> Entry:
    deps = runtime.loyalty
    expires_at = deps.clock.now() + expires_in if expires_in is not None else None
    async with deps.uow() as uow:
        return await ledger.credit(
            deps,
            uow,
            member_id,
            points,
            kind,
            "test:earn",
            "SYSTEM",
            "test earning",
            key,
            expires_at=expires_at,
        )


async def spend(
    runtime: Runtime,
    member_id: UUID,
    points: int,
    *,
    key: str | None = None,
    kind: EntryKind = EntryKind.ADJUST,
    allow_debt: bool = False,
) -> Entry:
    deps = runtime.loyalty
    async with deps.uow() as uow:
        return await ledger.debit(
            deps,
            uow,
            member_id,
            points,
            kind,
            "test:spend",
            "SYSTEM",
            "test spending",
            key,
            allow_debt=allow_debt,
        )


async def hold(runtime: Runtime, member_id: UUID, points: int, owner: str) -> Hold:
    deps = runtime.loyalty
    async with deps.uow() as uow:
        return await ledger.hold(deps, uow, member_id, points, owner, f"MEMBER:{member_id}")


async def post(runtime: Runtime, owner: str) -> Hold | None:
    deps = runtime.loyalty
    async with deps.uow() as uow:
        return await ledger.post_hold(deps, uow, owner, "SYSTEM")


async def release(runtime: Runtime, owner: str) -> Hold | None:
    deps = runtime.loyalty
    async with deps.uow() as uow:
        return await ledger.release_hold(deps, uow, owner, "SYSTEM")


async def reverse(runtime: Runtime, owner: str) -> Entry | None:
    deps = runtime.loyalty
    async with deps.uow() as uow:
        return await ledger.reverse_redemption(deps, uow, owner, "SYSTEM")


async def purchase(runtime: Runtime, member_id: UUID, paid_fen: int, reference: str) -> Any:
    deps = runtime.loyalty
    async with deps.uow() as uow:
        return await services.earn_for_purchase(deps, uow, member_id, paid_fen, reference)


async def refund(
    runtime: Runtime, member_id: UUID, reference: str, refunded_fen: int, paid_fen: int
) -> Any:
    deps = runtime.loyalty
    async with deps.uow() as uow:
        return await services.reverse_for_refund(
            deps, uow, member_id, reference, refunded_fen, paid_fen
        )


async def account(runtime: Runtime, member_id: UUID) -> Any:
    found = await runtime.repos.loyalty.get_account(member_id)
    assert found is not None, f"no account for {member_id}"
    return found


async def numbers(runtime: Runtime, member_id: UUID) -> tuple[int, int, int, int]:
    """(balance, held, available, debt) of the member's account."""
    a = await account(runtime, member_id)
    return a.balance, a.held, a.available, a.debt


async def lots_of(member_id: UUID) -> list[PointsLotRow]:
    return list(await PointsLotRow.filter(member_id=member_id).order_by("expires_at", "id"))


async def entries_of(member_id: UUID) -> list[PointsEntryRow]:
    rows = await PointsEntryRow.filter(member_id=member_id)
    return sorted(rows, key=lambda r: r.id)


async def kinds_of(member_id: UUID) -> list[str]:
    return [str(r.kind) for r in await entries_of(member_id)]


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


async def check_books() -> None:
    """Every invariant of the ledger, for every account."""
    accounts = await PointsAccountRow.all()
    entries: dict[UUID, list[PointsEntryRow]] = defaultdict(list)
    for e in await PointsEntryRow.all():
        entries[_uuid(e.member_id)].append(e)
    lots: dict[UUID, list[PointsLotRow]] = defaultdict(list)
    for lot in await PointsLotRow.all():
        lots[_uuid(lot.member_id)].append(lot)
    holds: dict[UUID, list[PointsHoldRow]] = defaultdict(list)
    for h in await PointsHoldRow.all():
        holds[_uuid(h.member_id)].append(h)
    known = {_uuid(a.member_id) for a in accounts}
    assert set(entries) <= known, "entries of a member without an account"
    assert set(lots) <= known, "lots of a member without an account"
    assert set(holds) <= known, "holds of a member without an account"
    assert len(known) == len(accounts), "two accounts for one member"

    for acc in accounts:
        member = _uuid(acc.member_id)
        where = f"member {member}"
        mine = sorted(entries[member], key=lambda e: e.id)
        assert acc.balance == sum(e.amount for e in mine), where
        assert acc.held == sum(e.held_change for e in mine), where
        balance = held = 0
        for e in mine:
            balance, held = balance + e.amount, held + e.held_change
            assert (e.balance_after, e.held_after) == (balance, held), (where, e.kind, e.id)
            if e.kind in (EntryKind.HOLD, EntryKind.RELEASE):
                assert e.amount == 0, (where, e.kind)
        keys = [e.idempotency_key for e in mine]
        assert len(keys) == len(set(keys)), f"{where}: an idempotency key used twice"

        for lot in lots[member]:
            assert lot.remaining >= 0 and lot.held >= 0, (where, lot.id)
            assert lot.remaining + lot.held <= lot.amount, (where, lot.id)
        assert acc.debt >= 0 and acc.held >= 0, where
        in_lots = sum(lot.remaining + lot.held for lot in lots[member])
        assert acc.balance == in_lots - acc.debt, (where, acc.balance, in_lots, acc.debt)

        open_holds = [h for h in holds[member] if str(h.state) == HoldState.OPEN.value]
        assert acc.held == sum(h.amount for h in open_holds), where
        assert acc.held == sum(lot.held for lot in lots[member]), where
        earmarked: dict[str, int] = defaultdict(int)
        for h in holds[member]:
            assert sum(int(v) for v in h.allocations.values()) == h.amount, (where, h.owner)
            if str(h.state) == HoldState.OPEN.value:
                for lot_id, part in h.allocations.items():
                    earmarked[str(lot_id)] += int(part)
        for lot in lots[member]:
            assert lot.held == earmarked.get(str(lot.id), 0), (where, lot.id)

        available = max(0, acc.balance - acc.held)
        domain = Account(  # the domain's own arithmetic
            member, acc.balance, acc.held, acc.debt, acc.growth_value, acc.tier
        )
        assert domain.available == available, where
        if acc.debt == 0:
            assert acc.balance - acc.held >= 0, where
        spendable = sum(lot.remaining for lot in lots[member])
        assert available <= spendable, where


Snapshot = dict[UUID, tuple[Any, ...]]


async def entry_snapshot() -> Snapshot:
    return {
        r.id: (
            str(r.member_id),
            str(r.kind),
            r.amount,
            r.held_change,
            r.balance_after,
            r.held_after,
            r.source,
            r.actor,
            r.reason,
            r.idempotency_key,
            r.created_at,
        )
        for r in await PointsEntryRow.all()
    }


async def assert_only_appended(before: Snapshot) -> Snapshot:
    """Every entry of `before` is still there, unchanged; returns the new snapshot."""
    after = await entry_snapshot()
    for entry_id, row in before.items():
        assert entry_id in after, f"entry {entry_id} was deleted"
        assert after[entry_id] == row, f"entry {entry_id} was changed: {row} -> {after[entry_id]}"
    return after


def local_time(clock: MovableClock, hour: int, minute: int = 0) -> None:
    """Move the clock forward to the next `hour:minute` in Shanghai."""
    now = clock.now()
    local = now.astimezone(STORE_ZONE)
    target = datetime.combine(local.date(), time(hour, minute), STORE_ZONE)
    if target <= local:
        target = datetime.combine(local.date() + DAY, time(hour, minute), STORE_ZONE)
    clock.advance(target - now)
