"""Points operations racing each other on a real database.

On PostgreSQL every racer runs in its own transaction on its own pooled connection, so they
really overlap: the row lock on the member's account (and the unique idempotency key of an
entry) decide who wins. SQLite serialises writers; the same outcomes must hold there. The
books (see tests/support/points.py `check_books`) are checked after every race.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import Counter
from typing import Any
from uuid import UUID

import pytest

from api.relay import encode_id
from domain.errors import PointsError, PointsErrorCode
from domain.identity.model import StaffRole
from domain.identity.services import create_staff
from domain.loyalty import services
from domain.loyalty.model import EntryKind, Hold, HoldState
from infra.db.models.loyalty import GrowthRecordRow, PointsEntryRow, PointsHoldRow
from infra.runtime import Runtime
from tests.support.api import Api, login
from tests.support.points import (
    DAY,
    check_books,
    earn,
    hold,
    kinds_of,
    new_member,
    numbers,
    post,
    purchase,
    release,
    reverse,
    spend,
)


@pytest.fixture
async def alice(runtime: Runtime) -> UUID:
    return await new_member(runtime, "race-alice")


def outcomes(results: list[Any]) -> Counter[str]:
    """What each racer got: a value's type, or a domain error's code. Anything else fails."""
    seen: Counter[str] = Counter()
    for result in results:
        if isinstance(result, PointsError):
            seen[result.code.value] += 1
        elif isinstance(result, BaseException):
            raise result
        else:
            seen[type(result).__name__] += 1
    return seen


async def test_fifty_holds_race_for_a_thousand_points(runtime: Runtime, alice: UUID) -> None:
    for expires in (5, 20, 60, 90):  # several lots, so the racers also share lot rows
        await earn(runtime, alice, 250, expires_in=expires * DAY)

    results = await asyncio.gather(
        *(hold(runtime, alice, 100, f"order-{n}") for n in range(50)), return_exceptions=True
    )

    assert outcomes(results) == {"Hold": 10, PointsErrorCode.INSUFFICIENT_POINTS.value: 40}
    assert await numbers(runtime, alice) == (1000, 1000, 0, 0)
    won = {r.owner for r in results if isinstance(r, Hold)}
    assert (
        set(await PointsHoldRow.filter(state=HoldState.OPEN).values_list("owner", flat=True)) == won
    )
    assert (await kinds_of(alice)).count("HOLD") == 10
    await check_books()

    # and they all settle: half posted, half released, at the same time
    owners = sorted(won)
    settled = await asyncio.gather(
        *(post(runtime, o) for o in owners[:5]), *(release(runtime, o) for o in owners[5:])
    )
    assert [h.state for h in settled if h] == [HoldState.POSTED] * 5 + [HoldState.RELEASED] * 5
    assert await numbers(runtime, alice) == (500, 0, 500, 0)
    await check_books()


async def test_concurrent_check_ins_of_one_member_on_one_day_give_one_entry(
    runtime: Runtime, alice: UUID
) -> None:
    """The first check-in also creates the account: the racers create it together too."""
    results = await asyncio.gather(
        *(services.daily_check_in(runtime.loyalty, alice) for _ in range(25)),
        return_exceptions=True,
    )
    assert outcomes(results) == {"Entry": 1, PointsErrorCode.ALREADY_CHECKED_IN.value: 24}
    assert await kinds_of(alice) == ["CHECK_IN"]
    assert await numbers(runtime, alice) == (10, 0, 10, 0)
    await check_books()


async def test_a_post_racing_a_release_settles_the_hold_once(runtime: Runtime, alice: UUID) -> None:
    await earn(runtime, alice, 1000)
    owners = [f"order-{n}" for n in range(10)]
    for owner in owners:
        await hold(runtime, alice, 50, owner)
    racers = [f(runtime, o) for o in owners for f in (post, release, post, release)]
    results = await asyncio.gather(*racers)
    for owner in owners:
        states = {h.state for h in results if h is not None and h.owner == owner}
        assert len(states) == 1 and states <= {HoldState.POSTED, HoldState.RELEASED}, states
    posted = await PointsHoldRow.filter(state=HoldState.POSTED).count()
    entries = Counter(await kinds_of(alice))
    assert entries["REDEEM"] == posted and entries["RELEASE"] == 10 - posted
    assert await numbers(runtime, alice) == (1000 - 50 * posted, 0, 1000 - 50 * posted, 0)
    await check_books()


async def test_a_redemption_reversed_by_racers_is_reversed_once(
    runtime: Runtime, alice: UUID
) -> None:
    await earn(runtime, alice, 300, expires_in=9 * DAY)
    await hold(runtime, alice, 200, "order-refunded")
    await post(runtime, "order-refunded")
    results = await asyncio.gather(
        *(reverse(runtime, "order-refunded") for _ in range(10)), return_exceptions=True
    )
    reversed_ = [r for r in results if r is not None and not isinstance(r, BaseException)]
    failures = [r for r in results if isinstance(r, BaseException)]
    assert failures == [], failures
    assert len({r.id for r in reversed_}) == 1
    assert (await kinds_of(alice)).count("REVERSE") == 1
    assert await numbers(runtime, alice) == (300, 0, 300, 0)
    await check_books()


async def test_racing_debits_never_overdraw(runtime: Runtime, alice: UUID) -> None:
    await earn(runtime, alice, 200)
    await earn(runtime, alice, 100, expires_in=3 * DAY)
    results = await asyncio.gather(
        *(spend(runtime, alice, 10) for _ in range(40)),
        *(hold(runtime, alice, 10, f"order-{n}") for n in range(10)),
        return_exceptions=True,
    )
    seen = outcomes(results)
    assert seen["Entry"] + seen["Hold"] == 30
    assert seen[PointsErrorCode.INSUFFICIENT_POINTS.value] == 20
    balance, held, available, debt = await numbers(runtime, alice)
    assert (available, debt) == (0, 0)
    assert (balance, held) == (300 - 10 * seen["Entry"], 10 * seen["Hold"])
    await check_books()


async def test_replayed_hand_overs_earn_once(runtime: Runtime, alice: UUID) -> None:
    results = await asyncio.gather(
        *(purchase(runtime, alice, 25_000, "pos:S1:T1") for _ in range(10)),
        return_exceptions=True,
    )
    assert outcomes(results) == {"Entry": 10}
    assert len({r.id for r in results}) == 1
    assert await numbers(runtime, alice) == (250, 0, 250, 0)
    assert await GrowthRecordRow.filter(member_id=alice).count() == 1
    await check_books()


async def test_earning_and_spending_by_many_members_at_once(runtime: Runtime) -> None:
    members = [await new_member(runtime, f"race-many-{n}") for n in range(6)]

    async def life(n: int, member: UUID) -> None:
        await earn(runtime, member, 500, key=f"grant-{n}")
        await asyncio.gather(
            earn(runtime, member, 500, key=f"grant-{n}"),  # a replay
            hold(runtime, member, 200, f"order-{n}"),
            services.daily_check_in(runtime.loyalty, member),
            spend(runtime, member, 100),
        )
        await asyncio.gather(post(runtime, f"order-{n}"), post(runtime, f"order-{n}"))

    await asyncio.gather(*(life(n, m) for n, m in enumerate(members)))
    for member in members:
        assert await numbers(runtime, member) == (210, 0, 210, 0)
    await check_books()


# ---------------------------------------------------------------- over the API

ADJUST = """
mutation($input: AdjustPointsInput!) {
  adjustPoints(input: $input) {
    entry { kind amount balanceAfter actor reason }
    errors { code message field }
  }
}"""


@pytest.fixture
async def cs(api: Api, runtime: Runtime) -> Api:
    await create_staff(runtime.auth, "cs-agent", "long-enough-pw", StaffRole.CS_AGENT, [])
    result = await login(api, "cs-agent", "long-enough-pw")
    assert result["errors"] == [], result
    return api.as_(result["tokens"]["accessToken"])


async def test_concurrent_identical_adjustments_with_one_key_make_one_entry(
    runtime: Runtime, cs: Api, alice: UUID
) -> None:
    variables = {
        "input": {
            "memberId": encode_id("Member", alice),
            "delta": 150,
            "reason": "goodwill for ticket 42",
            "idempotencyKey": "ticket-42",
        }
    }
    bodies = await asyncio.gather(*(cs(ADJUST, variables) for _ in range(20)))
    payloads = [b["data"]["adjustPoints"] for b in bodies]
    assert all(p["errors"] == [] for p in payloads), payloads
    assert {
        (p["entry"]["kind"], p["entry"]["amount"], p["entry"]["balanceAfter"]) for p in payloads
    } == {("ADJUST", 150, 150)}
    assert await PointsEntryRow.filter(member_id=alice, kind=EntryKind.ADJUST).count() == 1
    assert await numbers(runtime, alice) == (150, 0, 150, 0)

    # and a debit with one key, raced: one entry too
    variables["input"].update(delta=-100, idempotencyKey="ticket-43", reason="revert grant")
    bodies = await asyncio.gather(*(cs(ADJUST, variables) for _ in range(20)))
    assert all(b["data"]["adjustPoints"]["errors"] == [] for b in bodies), bodies
    assert await PointsEntryRow.filter(member_id=alice, kind=EntryKind.ADJUST).count() == 2
    assert await numbers(runtime, alice) == (50, 0, 50, 0)
    await check_books()


async def test_settling_a_hold_while_its_member_is_merged_keeps_both_accounts_straight(
    runtime: Runtime,
) -> None:
    """The merge moves the hold to the survivor while the settling call waits for the
    source's account lock: it must settle on the survivor's account, not the source's."""
    from domain.members.merge import merge_in_uow

    for settle in (post, release, reverse):
        source = await new_member(runtime, f"race-src-{settle.__name__}")
        target = await new_member(runtime, f"race-dst-{settle.__name__}")
        await earn(runtime, source, 300)
        await earn(runtime, target, 100)
        owner = f"order-{settle.__name__}"
        await hold(runtime, source, 200, owner)
        if settle is reverse:
            await post(runtime, owner)

        outside = contextvars.copy_context()  # the racer's own transaction, not the merge's
        async with runtime.members.auth.uow() as uow:
            await merge_in_uow(runtime.members, uow, source, target, "same person", "STAFF:x")
            waiting = asyncio.get_running_loop().create_task(
                settle(runtime, owner), context=outside
            )
            await asyncio.sleep(0.3)  # it reads the hold (still the source's) and waits
        settled = await waiting
        assert settled is not None

        assert await numbers(runtime, source) == (0, 0, 0, 0)
        expected = {post: 200, release: 400, reverse: 400}[settle]
        assert await numbers(runtime, target) == (expected, 0, expected, 0)
        await check_books()
