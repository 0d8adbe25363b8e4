"""The points ledger against a real database: every operation of domain.loyalty, the books
checked after each one.

The books (`check_books`) hold for every account at every moment:

* balance == sum of its entry amounts, held == sum of its entries' held changes, and each
  entry's balance_after / held_after is the running total up to it;
* balance == sum over the member's lots of (remaining + held) - debt;
* held == sum of the member's OPEN holds == sum of its lots' held, and each lot's held is
  what the open holds earmarked on it;
* available == balance - held (never below zero unless there is a debt).

Entries are never changed or deleted: tests snapshot them and compare after further
operations, and the repository's source is checked for updates/deletes of entry rows.

The helpers, `check_books` among them, are in tests/support/points.py.
"""

from __future__ import annotations

import ast
import re
from datetime import datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest

import infra.repositories.loyalty as loyalty_repository
from domain.errors import CommonError, CommonErrorCode, PointsError, PointsErrorCode
from domain.ids import new_id
from domain.loyalty import ledger, services
from domain.loyalty.model import EntryKind, HoldState, PointsPolicy
from domain.members.merge import merge_members
from infra.db.models.loyalty import (
    GrowthRecordRow,
    PointsEntryRow,
    PointsHoldRow,
    PointsLotRow,
    TierChangeRow,
)
from infra.runtime import Runtime
from tests.support import STORE_ZONE, MovableClock
from tests.support.points import (
    CS,
    DAY,
    account,
    assert_only_appended,
    check_books,
    earn,
    entries_of,
    entry_snapshot,
    hold,
    kinds_of,
    local_time,
    lots_of,
    new_member,
    numbers,
    post,
    purchase,
    refund,
    release,
    reverse,
    spend,
)

ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------- fixtures


@pytest.fixture
async def alice(runtime: Runtime) -> UUID:
    return await new_member(runtime, "points-alice")


@pytest.fixture
async def bob(runtime: Runtime) -> UUID:
    return await new_member(runtime, "points-bob")


# ---------------------------------------------------------------- append-only


AMEND = re.compile(
    r"PointsEntryRow\s*\.\s*filter\s*\((?:[^()]|\([^()]*\))*\)"  # PointsEntryRow.filter(...)
    r"(?:\s*\.\s*\w+\s*\((?:[^()]|\([^()]*\))*\))*"  # .more(...).chained(...)
    r"\s*\.\s*(?:update|delete)\s*\("
)
RAW_AMEND = re.compile(r"\b(?:UPDATE\s+\"?points_entry\b|DELETE\s+FROM\s+\"?points_entry\b)", re.I)


def _chain_root(node: ast.AST) -> str | None:
    while True:
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Attribute):
            node = node.value
        elif isinstance(node, ast.Name):
            return node.id
        else:
            return None


def test_the_application_never_updates_or_deletes_an_entry() -> None:
    source = Path(loyalty_repository.__file__).read_text()
    assert "PointsEntryRow" in source
    # the patterns do find what they look for
    assert AMEND.search("await PointsEntryRow.filter(id=x).update(amount=1)")
    assert AMEND.search("PointsEntryRow.filter(member_id=m, kind__in=list(k)).first().delete()")
    assert RAW_AMEND.search('DELETE FROM "points_entry" WHERE id = $1')
    assert not AMEND.search(source), "the repository updates or deletes entry rows"

    writes = {"update", "delete", "bulk_update", "update_or_create", "update_from_dict", "save"}
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in writes
        ):
            assert _chain_root(node.func) != "PointsEntryRow", ast.unparse(node)

    for folder in ("domain", "infra", "api"):
        for path in (ROOT / folder).rglob("*.py"):
            assert not RAW_AMEND.search(path.read_text()), f"{path} amends points_entry"


async def test_entries_never_change_while_the_ledger_moves(
    runtime: Runtime, clock: MovableClock, alice: UUID, bob: UUID
) -> None:
    snapshot = await entry_snapshot()
    steps = [
        lambda: earn(runtime, alice, 500, expires_in=10 * DAY),
        lambda: earn(runtime, alice, 300),
        lambda: hold(runtime, alice, 200, "order-1"),
        lambda: post(runtime, "order-1"),
        lambda: hold(runtime, alice, 100, "order-2"),
        lambda: release(runtime, "order-2"),
        lambda: reverse(runtime, "order-1"),
        lambda: spend(runtime, alice, 50),
        lambda: services.daily_check_in(runtime.loyalty, bob),
        lambda: ledger.expire_due(runtime.loyalty),
        lambda: hold(runtime, alice, 400, "order-3"),
        lambda: _advance_and_expire(runtime, clock, 11 * DAY),
        lambda: release(runtime, "order-3"),
        lambda: ledger.expire_due(runtime.loyalty),
        lambda: purchase(runtime, bob, 20_000, "pos:1"),
        lambda: spend(runtime, bob, 200),
        lambda: refund(runtime, bob, "pos:1", 20_000, 20_000),
        lambda: _merge(runtime, bob, alice),
    ]
    counts = [len(snapshot)]
    for step in steps:
        await step()
        await check_books()
        snapshot = await assert_only_appended(snapshot)
        counts.append(len(snapshot))
    assert counts == sorted(counts) and counts[-1] > counts[0]


async def _advance_and_expire(runtime: Runtime, clock: MovableClock, by: timedelta) -> int:
    clock.advance(by)
    return await ledger.expire_due(runtime.loyalty)


async def _merge(runtime: Runtime, source: UUID, target: UUID) -> None:
    deps = runtime.loyalty
    async with deps.uow() as uow:
        await ledger.merge_accounts(deps, uow, source, target, new_id())


# ---------------------------------------------------------------- expiry dates


@pytest.mark.parametrize(
    ("earned", "expires"),
    [
        # local (Shanghai) earning time -> end of that month, 12 months later, local
        ("2026-01-31T10:00:00+08:00", "2027-01-31T23:59:59+08:00"),
        ("2026-03-01T00:00:00+08:00", "2027-03-31T23:59:59+08:00"),
        ("2027-02-10T12:00:00+08:00", "2028-02-29T23:59:59+08:00"),  # leap year
        ("2026-12-31T23:59:59+08:00", "2027-12-31T23:59:59+08:00"),
        # 17:00 UTC on 31 Dec is already January in Shanghai
        ("2026-12-31T17:00:00+00:00", "2028-01-31T23:59:59+08:00"),
        # 15:59 UTC on 30 Nov is still November there
        ("2026-11-30T15:59:00+00:00", "2027-11-30T23:59:59+08:00"),
    ],
)
def test_points_expire_at_the_end_of_the_month_twelve_months_later_in_shanghai(
    earned: str, expires: str
) -> None:
    got = PointsPolicy().expiry_for(datetime.fromisoformat(earned))
    assert got == datetime.fromisoformat(expires)
    assert got.tzinfo is not None and got.utcoffset() == timedelta(0)  # stored in UTC


async def test_credit_makes_a_lot_that_expires_by_the_policy(runtime: Runtime, alice: UUID) -> None:
    entry = await earn(runtime, alice, 120, key="first")
    assert (entry.kind, entry.amount, entry.balance_after, entry.held_after) == (
        EntryKind.EARN,
        120,
        120,
        0,
    )
    [lot] = await lots_of(alice)
    assert (lot.amount, lot.remaining, lot.held) == (120, 120, 0)
    expected = PointsPolicy().expiry_for(lot.earned_at)
    assert lot.expires_at == expected
    local = lot.expires_at.astimezone(STORE_ZONE)
    earned = lot.earned_at.astimezone(STORE_ZONE)
    assert (local.hour, local.minute, local.second) == (23, 59, 59)
    assert (local + timedelta(seconds=1)).day == 1  # the last second of a month
    months = (local.year - earned.year) * 12 + local.month - earned.month
    assert months == 12
    assert await numbers(runtime, alice) == (120, 0, 120, 0)
    await check_books()


# ---------------------------------------------------------------- credit / debit


async def test_spending_takes_the_soonest_expiring_lots_first(
    runtime: Runtime, alice: UUID
) -> None:
    await earn(runtime, alice, 100, expires_in=30 * DAY)
    await earn(runtime, alice, 100, expires_in=10 * DAY)
    await earn(runtime, alice, 100, expires_in=20 * DAY)
    await earn(runtime, alice, 100)  # the policy's ~12 months

    def remaining(rows: list[PointsLotRow]) -> list[int]:
        return [r.remaining for r in rows]  # soonest expiry first

    await spend(runtime, alice, 150)
    assert remaining(await lots_of(alice)) == [0, 50, 100, 100]
    await hold(runtime, alice, 100, "order-soonest")
    rows = await lots_of(alice)
    assert remaining(rows) == [0, 0, 50, 100]
    assert [r.held for r in rows] == [0, 50, 50, 0]
    assert await numbers(runtime, alice) == (250, 100, 150, 0)
    await check_books()


async def test_a_debit_beyond_what_is_available_is_refused_and_changes_nothing(
    runtime: Runtime, alice: UUID
) -> None:
    await earn(runtime, alice, 300)
    await hold(runtime, alice, 200, "order-x")
    before = await entry_snapshot()
    with pytest.raises(PointsError) as refused:
        await spend(runtime, alice, 101)
    assert refused.value.code is PointsErrorCode.INSUFFICIENT_POINTS
    for bad in (0, -5, 100_000_001):
        with pytest.raises(PointsError) as invalid:
            await spend(runtime, alice, bad)
        assert invalid.value.code is PointsErrorCode.INVALID_INPUT
        with pytest.raises(PointsError) as invalid:
            await earn(runtime, alice, bad)
        assert invalid.value.code is PointsErrorCode.INVALID_INPUT
    assert await entry_snapshot() == before
    assert await numbers(runtime, alice) == (300, 200, 100, 0)
    await spend(runtime, alice, 100)
    assert await numbers(runtime, alice) == (200, 200, 0, 0)
    await check_books()


async def test_an_idempotency_key_is_used_once_per_account(
    runtime: Runtime, alice: UUID, bob: UUID
) -> None:
    first = await earn(runtime, alice, 100, key="grant-1")
    again = await earn(runtime, alice, 100, key="grant-1")
    assert again == first
    other = await earn(runtime, bob, 100, key="grant-1")  # per account: another member's own
    assert other.id != first.id
    taken = await spend(runtime, alice, 30, key="take-1")
    assert await spend(runtime, alice, 30, key="take-1") == taken
    assert await numbers(runtime, alice) == (70, 0, 70, 0)
    assert await PointsEntryRow.filter(member_id=alice).count() == 2
    # without a key every call is new
    await earn(runtime, alice, 5)
    await earn(runtime, alice, 5)
    assert await numbers(runtime, alice) == (80, 0, 80, 0)
    await check_books()


# ---------------------------------------------------------------- holds


async def test_a_hold_earmarks_points_until_it_is_posted(runtime: Runtime, alice: UUID) -> None:
    await earn(runtime, alice, 1000)
    held = await hold(runtime, alice, 300, "order-1")
    assert (held.amount, held.state, held.owner) == (300, HoldState.OPEN, "order-1")
    assert await numbers(runtime, alice) == (1000, 300, 700, 0)
    assert await hold(runtime, alice, 300, "order-1") == held  # the same owner: the same hold
    assert await hold(runtime, alice, 50, "order-1") == held
    assert await numbers(runtime, alice) == (1000, 300, 700, 0)
    with pytest.raises(PointsError) as refused:
        await hold(runtime, alice, 701, "order-2")
    assert refused.value.code is PointsErrorCode.INSUFFICIENT_POINTS
    assert await PointsHoldRow.filter(owner="order-2").count() == 0

    posted = await post(runtime, "order-1")
    assert posted is not None and posted.state is HoldState.POSTED
    assert await numbers(runtime, alice) == (700, 0, 700, 0)
    assert await post(runtime, "order-1") is not None  # again: nothing more
    late = await release(runtime, "order-1")  # a release after posting changes nothing
    assert late is not None and late.state is HoldState.POSTED
    assert await numbers(runtime, alice) == (700, 0, 700, 0)
    [hold_entry, redeem] = [e for e in await entries_of(alice) if e.kind != EntryKind.EARN]
    assert (hold_entry.kind, hold_entry.amount, hold_entry.held_change) == ("HOLD", 0, 300)
    assert (redeem.kind, redeem.amount, redeem.held_change) == ("REDEEM", -300, -300)
    assert (redeem.balance_after, redeem.held_after) == (700, 0)
    [lot] = await lots_of(alice)
    assert (lot.remaining, lot.held) == (700, 0)
    assert await post(runtime, "no-such-order") is None
    assert await release(runtime, "no-such-order") is None
    await check_books()


async def test_a_released_hold_gives_the_points_back_to_the_same_lots(
    runtime: Runtime, alice: UUID
) -> None:
    await earn(runtime, alice, 100, expires_in=5 * DAY)
    await earn(runtime, alice, 100, expires_in=50 * DAY)
    await hold(runtime, alice, 150, "order-r")
    assert [(r.remaining, r.held) for r in await lots_of(alice)] == [(0, 100), (50, 50)]
    released = await release(runtime, "order-r")
    assert released is not None and released.state is HoldState.RELEASED
    assert [(r.remaining, r.held) for r in await lots_of(alice)] == [(100, 0), (100, 0)]
    assert await numbers(runtime, alice) == (200, 0, 200, 0)
    assert await release(runtime, "order-r") is not None
    assert await post(runtime, "order-r") is not None  # posting a released hold: nothing
    assert await numbers(runtime, alice) == (200, 0, 200, 0)
    assert await kinds_of(alice) == ["EARN", "EARN", "HOLD", "RELEASE"]
    await check_books()


async def test_reversing_a_redemption_restores_the_lots_it_came_from(
    runtime: Runtime, alice: UUID
) -> None:
    await earn(runtime, alice, 100, expires_in=5 * DAY)
    await earn(runtime, alice, 100, expires_in=50 * DAY)
    before = {r.id: r.expires_at for r in await lots_of(alice)}
    await hold(runtime, alice, 150, "order-paid")
    await post(runtime, "order-paid")
    assert [r.remaining for r in await lots_of(alice)] == [0, 50]
    await earn(runtime, alice, 40, expires_in=2 * DAY)  # a newer, even sooner lot
    assert await reverse(runtime, "order-unknown") is None

    entry = await reverse(runtime, "order-paid")
    assert entry is not None
    assert (entry.kind, entry.amount, entry.balance_after) == (EntryKind.REVERSE, 150, 240)
    rows = await lots_of(alice)
    assert [(r.amount, r.remaining, r.held) for r in rows] == [
        (40, 40, 0),
        (100, 100, 0),
        (100, 100, 0),
    ]
    assert {r.id: r.expires_at for r in rows if r.id in before} == before  # same lots, same dates
    assert (await PointsHoldRow.get(owner="order-paid")).state == HoldState.REVERSED
    assert await reverse(runtime, "order-paid") is None  # once
    assert await numbers(runtime, alice) == (240, 0, 240, 0)
    # an open or released hold is not a redemption: nothing to reverse
    await hold(runtime, alice, 10, "order-open")
    assert await reverse(runtime, "order-open") is None
    await release(runtime, "order-open")
    assert await reverse(runtime, "order-open") is None
    assert await numbers(runtime, alice) == (240, 0, 240, 0)
    await check_books()


# ---------------------------------------------------------------- expiry


async def test_the_expiry_job_writes_expire_entries(
    runtime: Runtime, clock: MovableClock, alice: UUID, bob: UUID
) -> None:
    await earn(runtime, alice, 70, expires_in=3 * DAY)
    await earn(runtime, alice, 30, expires_in=9 * DAY)
    await earn(runtime, bob, 20, expires_in=3 * DAY)
    await earn(runtime, bob, 500)
    assert await ledger.expire_due(runtime.loyalty) == 0

    clock.advance(4 * DAY)
    assert await ledger.expire_due(runtime.loyalty) == 90
    assert await ledger.expire_due(runtime.loyalty) == 0  # nothing twice
    assert await numbers(runtime, alice) == (30, 0, 30, 0)
    assert await numbers(runtime, bob) == (500, 0, 500, 0)
    [expired] = [e for e in await entries_of(alice) if e.kind == EntryKind.EXPIRE]
    assert (expired.amount, expired.balance_after, expired.actor) == (-70, 30, "SYSTEM")

    clock.advance(6 * DAY)
    assert await ledger.expire_due(runtime.loyalty) == 30
    assert await numbers(runtime, alice) == (0, 0, 0, 0)
    assert await kinds_of(alice) == ["EARN", "EARN", "EXPIRE", "EXPIRE"]
    await check_books()


async def test_an_open_hold_keeps_its_points_from_expiring_until_it_is_released(
    runtime: Runtime, clock: MovableClock, alice: UUID
) -> None:
    await earn(runtime, alice, 100, expires_in=2 * DAY)
    await hold(runtime, alice, 60, "order-h")
    clock.advance(3 * DAY)
    assert await ledger.expire_due(runtime.loyalty) == 40  # only the spendable part
    [lot] = await lots_of(alice)
    assert (lot.remaining, lot.held) == (0, 60)
    assert await numbers(runtime, alice) == (60, 60, 0, 0)
    assert await ledger.expire_due(runtime.loyalty) == 0
    await check_books()

    await release(runtime, "order-h")
    assert await numbers(runtime, alice) == (60, 0, 60, 0)  # back, but past its date
    await check_books()
    assert await ledger.expire_due(runtime.loyalty) == 60  # the next run takes it
    assert await numbers(runtime, alice) == (0, 0, 0, 0)
    assert await kinds_of(alice) == ["EARN", "HOLD", "EXPIRE", "RELEASE", "EXPIRE"]
    await check_books()


async def test_a_hold_posted_after_its_lot_expired_is_still_spent(
    runtime: Runtime, clock: MovableClock, alice: UUID
) -> None:
    await earn(runtime, alice, 100, expires_in=2 * DAY)
    await hold(runtime, alice, 60, "order-late")
    clock.advance(3 * DAY)
    assert await ledger.expire_due(runtime.loyalty) == 40
    await post(runtime, "order-late")
    assert await numbers(runtime, alice) == (0, 0, 0, 0)
    assert await ledger.expire_due(runtime.loyalty) == 0
    await check_books()


# ---------------------------------------------------------------- merges


async def test_merging_accounts_moves_lots_with_their_expiry_and_open_holds(
    runtime: Runtime, alice: UUID, bob: UUID
) -> None:
    await earn(runtime, bob, 100, expires_in=5 * DAY)
    await earn(runtime, bob, 200)
    await hold(runtime, bob, 150, "bob-order")
    await earn(runtime, alice, 50, expires_in=7 * DAY)
    bob_lots = {r.id: r.expires_at for r in await lots_of(bob)}
    merge_id = new_id()

    deps = runtime.loyalty
    async with deps.uow() as uow:
        await ledger.merge_accounts(deps, uow, bob, alice, merge_id)

    assert await numbers(runtime, bob) == (0, 0, 0, 0)
    assert await numbers(runtime, alice) == (350, 150, 200, 0)
    assert await lots_of(bob) == []
    moved = {r.id: r.expires_at for r in await lots_of(alice) if r.id in bob_lots}
    assert moved == bob_lots
    [out] = [e for e in await entries_of(bob) if e.kind == EntryKind.MERGE_OUT]
    assert (out.amount, out.held_change, out.balance_after, out.held_after) == (-300, -150, 0, 0)
    assert out.source == f"merge:{merge_id}"
    [into] = [e for e in await entries_of(alice) if e.kind == EntryKind.MERGE_IN]
    assert (into.amount, into.held_change, into.balance_after, into.held_after) == (
        300,
        150,
        350,
        150,
    )
    await check_books()
    # the moved hold is now the survivor's: posting it spends the survivor's points
    await post(runtime, "bob-order")
    assert await numbers(runtime, alice) == (200, 0, 200, 0)
    assert await numbers(runtime, bob) == (0, 0, 0, 0)
    await check_books()


async def test_a_redemption_reversed_after_a_merge_goes_to_the_survivor(
    runtime: Runtime, alice: UUID, bob: UUID
) -> None:
    """Bob spent everything before being merged: his account is empty, but the redemption
    (and the lot it came from) must still follow him to the survivor."""
    await earn(runtime, bob, 100, expires_in=40 * DAY)
    await purchase(runtime, bob, 30_000, "pos:bob")
    await hold(runtime, bob, 400, "bob-order")
    await post(runtime, "bob-order")
    assert await numbers(runtime, bob) == (0, 0, 0, 0)
    await earn(runtime, alice, 10)

    await merge_members(runtime.members, CS, bob, alice, "same person")

    entry = await reverse(runtime, "bob-order")
    assert entry is not None and entry.member_id == alice
    assert await numbers(runtime, alice) == (410, 0, 410, 0)
    assert await numbers(runtime, bob) == (0, 0, 0, 0)
    assert [r.member_id for r in await PointsLotRow.filter(member_id=bob)] == []
    growth = await GrowthRecordRow.filter(member_id=alice).values_list("amount", flat=True)
    assert list(growth) == [30_000]  # bob's spend counts for the survivor's tier
    await check_books()


async def test_members_merged_moves_the_points_in_the_merge_transaction(
    runtime: Runtime, alice: UUID, bob: UUID
) -> None:
    await earn(runtime, bob, 80, expires_in=12 * DAY)
    await merge_members(runtime.members, CS, bob, alice, "same person")
    assert await numbers(runtime, alice) == (80, 0, 80, 0)
    assert await kinds_of(bob) == ["EARN", "MERGE_OUT"]
    assert await kinds_of(alice) == ["MERGE_IN"]
    # merging again changes nothing
    await merge_members(runtime.members, CS, bob, alice, "clicked twice")
    assert await kinds_of(alice) == ["MERGE_IN"]
    await check_books()


# ---------------------------------------------------------------- purchases and refunds


async def test_a_refund_of_points_already_spent_leaves_a_debt_later_earnings_pay_first(
    runtime: Runtime, alice: UUID
) -> None:
    earned = await purchase(runtime, alice, 50_000, "pos:a")  # 500 yuan, MEMBER x1
    assert (earned.kind, earned.amount, earned.idempotency_key) == ("EARN", 500, "earn:pos:a")
    assert await purchase(runtime, alice, 50_000, "pos:a") == earned  # replayed hand-over
    await hold(runtime, alice, 400, "order-spent")
    await post(runtime, "order-spent")
    assert await numbers(runtime, alice) == (100, 0, 100, 0)

    reversed_ = await refund(runtime, alice, "pos:a", 50_000, 50_000)
    assert reversed_ is not None
    assert (reversed_.kind, reversed_.amount, reversed_.balance_after) == ("REVERSE", -500, -400)
    assert await refund(runtime, alice, "pos:a", 50_000, 50_000) == reversed_  # replayed
    assert await numbers(runtime, alice) == (-400, 0, 0, 400)
    assert [r.remaining for r in await lots_of(alice)] == [0]
    await check_books()
    with pytest.raises(PointsError) as refused:
        await hold(runtime, alice, 1, "order-in-debt")
    assert refused.value.code is PointsErrorCode.INSUFFICIENT_POINTS

    await purchase(runtime, alice, 30_000, "pos:b")  # 300 points: all of it pays the debt
    assert await numbers(runtime, alice) == (-100, 0, 0, 100)
    assert sum(r.remaining for r in await lots_of(alice)) == 0
    await earn(runtime, alice, 250)  # 100 to the debt, 150 spendable
    assert await numbers(runtime, alice) == (150, 0, 150, 0)
    assert sum(r.remaining for r in await lots_of(alice)) == 150
    await check_books()
    # growth follows the refund: 500 + 300 - 500 yuan
    assert (await account(runtime, alice)).growth_value == 30_000
    growth = await GrowthRecordRow.filter(member_id=alice).values_list("amount", flat=True)
    assert sorted(growth) == [-50_000, 30_000, 50_000]


async def test_a_partial_refund_takes_back_its_share_of_the_points(
    runtime: Runtime, alice: UUID
) -> None:
    await purchase(runtime, alice, 20_000, "pos:p")  # 200 points
    assert await refund(runtime, alice, "pos:p", 5_000, 20_000) is not None  # a quarter
    assert await numbers(runtime, alice) == (150, 0, 150, 0)
    assert await refund(runtime, alice, "pos:unknown", 100, 100) is None
    assert await refund(runtime, alice, "pos:p", 10, 20_000) is None  # rounds to no points
    assert await numbers(runtime, alice) == (150, 0, 150, 0)
    await check_books()


async def test_a_refund_while_points_are_held_spares_the_held_ones(
    runtime: Runtime, alice: UUID
) -> None:
    await purchase(runtime, alice, 10_000, "pos:h")  # 100 points
    await hold(runtime, alice, 70, "order-held")
    await refund(runtime, alice, "pos:h", 10_000, 10_000)
    # the 30 spendable go, 70 are owed; the held ones stay with their order
    assert await numbers(runtime, alice) == (0, 70, 0, 70)
    await check_books()
    await post(runtime, "order-held")
    assert await numbers(runtime, alice) == (-70, 0, 0, 70)
    await check_books()
    await earn(runtime, alice, 100)
    assert await numbers(runtime, alice) == (30, 0, 30, 0)
    await check_books()


# ---------------------------------------------------------------- tiers


async def test_tiers_follow_growth_over_a_rolling_twelve_months(
    runtime: Runtime, clock: MovableClock, alice: UUID
) -> None:
    first = await purchase(runtime, alice, 99_900, "pos:t1")
    assert first.amount == 999
    assert (await account(runtime, alice)).tier == "MEMBER"

    crossing = await purchase(runtime, alice, 10_000, "pos:t2")  # growth 109,900: SILVER
    silver = await account(runtime, alice)
    assert (silver.tier, silver.growth_value) == ("SILVER", 109_900)
    assert crossing.amount == 120  # 100 yuan x 1.2

    clock.advance(200 * DAY)
    gold = await purchase(runtime, alice, 400_000, "pos:t3")  # growth 509,900: GOLD
    assert gold.amount == 6000  # 4000 yuan x 1.5
    assert (await account(runtime, alice)).tier == "GOLD"
    changes = await TierChangeRow.filter(member_id=alice).order_by("at")
    assert [(c.old_tier, c.new_tier) for c in changes] == [("MEMBER", "SILVER"), ("SILVER", "GOLD")]

    assert await services.recompute_all_tiers(runtime.loyalty) == 0  # nothing left the window
    clock.advance(170 * DAY)  # 370 days after the first two purchases
    assert await services.recompute_all_tiers(runtime.loyalty) == 1
    after = await account(runtime, alice)
    assert (after.tier, after.growth_value) == ("SILVER", 400_000)
    assert (await purchase(runtime, alice, 10_000, "pos:t4")).amount == 120  # x1.2 again

    clock.advance(200 * DAY)
    assert await services.recompute_all_tiers(runtime.loyalty) == 1
    assert (await account(runtime, alice)).tier == "MEMBER"
    assert (
        await account(runtime, alice)
    ).growth_value == 10_000  # pos:t4 is still inside the window
    changes = await TierChangeRow.filter(member_id=alice).order_by("at")
    assert [c.new_tier for c in changes] == ["SILVER", "GOLD", "SILVER", "MEMBER"]
    assert (await purchase(runtime, alice, 10_000, "pos:t5")).amount == 100  # x1 again
    await check_books()


async def test_a_replayed_purchase_counts_its_growth_once(runtime: Runtime, alice: UUID) -> None:
    for _ in range(3):
        await purchase(runtime, alice, 60_000, "pos:replayed")
    found = await account(runtime, alice)
    assert (found.balance, found.growth_value, found.tier) == (600, 60_000, "MEMBER")
    for _ in range(2):
        await refund(runtime, alice, "pos:replayed", 60_000, 60_000)
    assert (await account(runtime, alice)).balance == 0
    growth = await GrowthRecordRow.filter(member_id=alice).values_list("amount", flat=True)
    assert sorted(growth) == [-60_000, 60_000]
    # a refund does not recompute the tier at once; the nightly job does
    await services.recompute_all_tiers(runtime.loyalty)
    assert (await account(runtime, alice)).growth_value == 0
    await check_books()


# ---------------------------------------------------------------- check-in


async def test_one_check_in_per_shanghai_day(
    runtime: Runtime, clock: MovableClock, alice: UUID
) -> None:
    deps = runtime.loyalty
    local_time(clock, 23, 30)  # 15:30 UTC
    first = await services.daily_check_in(deps, alice)
    assert (first.kind, first.amount) == (EntryKind.CHECK_IN, 10)
    for _ in range(3):  # retries on the same day
        with pytest.raises(PointsError) as again:
            await services.daily_check_in(deps, alice)
        assert again.value.code is PointsErrorCode.ALREADY_CHECKED_IN

    clock.advance(timedelta(hours=1))  # 00:30 next day in Shanghai, the same UTC date
    second = await services.daily_check_in(deps, alice)
    assert second.idempotency_key != first.idempotency_key
    clock.advance(timedelta(hours=8))  # 08:30 in Shanghai, a new UTC date
    with pytest.raises(PointsError) as again:
        await services.daily_check_in(deps, alice)
    assert again.value.code is PointsErrorCode.ALREADY_CHECKED_IN

    clock.advance(DAY)
    await services.daily_check_in(deps, alice)
    assert await numbers(runtime, alice) == (30, 0, 30, 0)
    assert await kinds_of(alice) == ["CHECK_IN"] * 3
    await check_books()


# ---------------------------------------------------------------- CS adjustments


async def test_cs_adjustments_record_the_actor_and_the_reason(
    runtime: Runtime, alice: UUID
) -> None:
    deps = runtime.loyalty
    up = await services.adjust_points(deps, CS, alice, 200, "  goodwill: late delivery ", "t-1")
    assert (up.kind, up.amount, up.actor, up.reason) == (
        EntryKind.ADJUST,
        200,
        f"STAFF:{CS.id}",
        "goodwill: late delivery",
    )
    assert up.source == f"cs:{CS.id}"
    assert await services.adjust_points(deps, CS, alice, 200, "clicked twice", "t-1") == up
    with pytest.raises(CommonError) as conflict:
        await services.adjust_points(deps, CS, alice, 300, "another amount", "t-1")
    assert conflict.value.code is CommonErrorCode.IDEMPOTENCY_CONFLICT

    down = await services.adjust_points(deps, CS, alice, -50, "duplicate grant", None)
    assert (down.amount, down.balance_after) == (-50, 150)
    with pytest.raises(PointsError) as short:
        await services.adjust_points(deps, CS, alice, -151, "too much", None)
    assert short.value.code is PointsErrorCode.INSUFFICIENT_POINTS

    for delta, reason, field in (
        (0, "nothing", "delta"),
        (100_000_001, "too big", "delta"),
        (5, "  ", "reason"),
        (5, "ab", "reason"),
        (5, "x" * 201, "reason"),
    ):
        with pytest.raises(PointsError) as bad:
            await services.adjust_points(deps, CS, alice, delta, reason, None)
        assert (bad.value.code, bad.value.field) == (PointsErrorCode.INVALID_INPUT, [field])
    with pytest.raises(PointsError) as unknown:
        await services.adjust_points(deps, CS, new_id(), 5, "who is this", None)
    assert unknown.value.code is PointsErrorCode.NOT_FOUND
    assert await numbers(runtime, alice) == (150, 0, 150, 0)
    await check_books()


# ---------------------------------------------------------------- reading


async def test_the_summary_shows_points_expiring_within_thirty_days(
    runtime: Runtime, alice: UUID
) -> None:
    await earn(runtime, alice, 40, expires_in=10 * DAY)
    await earn(runtime, alice, 60, expires_in=10 * DAY)
    await earn(runtime, alice, 25, expires_in=20 * DAY)
    await earn(runtime, alice, 500, expires_in=31 * DAY)
    await hold(runtime, alice, 50, "order-s")  # 40 + 10 of the soonest
    found = await services.summary(runtime.loyalty, alice)
    assert [amount for _, amount in found.expiring] == [50, 25]
    assert found.expiring[0][0] < found.expiring[1][0]
    assert (found.account.balance, found.account.held, found.tier) == (625, 50, "MEMBER")
    assert found.next_tier is not None and found.next_tier.name == "SILVER"
    empty = await services.summary(runtime.loyalty, new_id())
    assert (empty.account.balance, empty.expiring) == (0, [])


async def test_one_expiry_run_walks_every_member_batch_after_batch(
    runtime: Runtime, clock: MovableClock
) -> None:
    members = [await new_member(runtime, f"points-expiring-{n}") for n in range(5)]
    for member in members:
        await earn(runtime, member, 10, expires_in=3 * DAY)
    clock.advance(4 * DAY)
    assert await ledger.expire_due(runtime.loyalty, batch=2, max_batches=2) == 40  # bounded
    assert await ledger.expire_due(runtime.loyalty, batch=2) == 10  # the rest, in one run
    for member in members:
        assert await numbers(runtime, member) == (0, 0, 0, 0)
    await check_books()
