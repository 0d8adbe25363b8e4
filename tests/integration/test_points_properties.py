"""Random sequences of points operations against a real database, checked after every step
against the ledger's invariants and against a small in-memory model.

Two members per example. The rules drive the real domain code: earnings (with short and
policy expiry dates), daily check-ins, purchases (tier multipliers) and their refunds (a
debt when the points were spent), holds for several owners, posting, releasing, reversing
a posted redemption, CS adjustments up and down (with replayed and conflicting keys), the
expiry and tier jobs after the clock moves, and one merge of the second member into the
first (after which the second one's operations go to the survivor). After every step:

* the books balance for every account (tests/support/points.py `check_books`);
* no entry was changed or deleted, only new ones appended;
* each account's balance, held and debt, and each hold's state, are what the model says
  (so a refused operation changed nothing and an accepted one exactly what it should);
* after the tier job: growth over the last 12 months and the tier are the model's.

Hypothesis runs many examples inside one test, so each example empties the loyalty tables
itself (the application never deletes entries; the test's cleanup may). The rules are
synchronous and run each coroutine on the session's event loop, which owns the connections.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar
from uuid import UUID

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from domain.errors import CommonError, CommonErrorCode, PointsError, PointsErrorCode
from domain.loyalty import ledger, services
from domain.loyalty.deps import LoyaltyDeps
from domain.loyalty.model import Entry, EntryKind, Hold, HoldState
from domain.members.merge import merge_members
from infra.db.models.loyalty import (
    GrowthRecordRow,
    PointsAccountRow,
    PointsEntryRow,
    PointsHoldRow,
    PointsLotRow,
    TierChangeRow,
)
from infra.runtime import Runtime
from tests.support import MovableClock
from tests.support.clock import STORE_ZONE
from tests.support.points import CS, Snapshot, assert_only_appended, check_books, new_member

T = TypeVar("T")
LOYALTY_ROWS = (
    PointsEntryRow,
    PointsHoldRow,
    PointsLotRow,
    PointsAccountRow,
    GrowthRecordRow,
    TierChangeRow,
)
OWNERS = [f"order-{n}" for n in range(6)]
KEYS = ["ticket-1", "ticket-2", "ticket-3"]
# Whole days plus 7 minutes: no sum of moves lands exactly on an expiry or window edge.
MOVES = [timedelta(days=d, minutes=7) for d in (1, 3, 16, 40, 200, 400)]
EXPIRIES = [None, timedelta(days=2), timedelta(days=15), timedelta(days=45)]
MEMBER = st.integers(0, 1)
POINTS = st.integers(1, 400)


@dataclass
class Env:
    runtime: Runtime
    clock: MovableClock
    loop: asyncio.AbstractEventLoop


@dataclass
class Books:
    balance: int = 0
    held: int = 0
    debt: int = 0

    @property
    def available(self) -> int:
        return max(0, self.balance - self.held)

    @property
    def spendable(self) -> int:
        """What the lots have left that is not held: balance = lots - debt."""
        return self.balance - self.held + self.debt

    def credit(self, points: int) -> None:
        paid = min(points, self.debt)
        self.debt -= paid
        self.balance += points

    def debit(self, points: int) -> None:
        taken = min(points, self.spendable)
        self.debt += points - taken
        self.balance -= points


@dataclass
class HoldModel:
    member: int
    amount: int
    state: HoldState


@dataclass
class Purchase:
    member: int
    paid: int
    points: int
    refunds: dict[int, int] = field(default_factory=dict)  # refunded fen -> points taken


class PointsMachine(RuleBasedStateMachine):
    env: ClassVar[Env]
    examples: ClassVar[int] = 0

    def __init__(self) -> None:
        super().__init__()
        PointsMachine.examples += 1
        self.env.clock.offset = timedelta()
        self.run(self._empty_tables())
        rt = self.env.runtime
        self.members = [
            self.run(new_member(rt, f"prop-{PointsMachine.examples}-{n}")) for n in range(2)
        ]
        self.books = [Books(), Books()]
        self.holds: dict[str, HoldModel] = {}
        self.purchases: dict[str, Purchase] = {}
        self.growth: list[list[tuple[datetime, int]]] = [[], []]
        self.adjust_keys: dict[tuple[int, str], int] = {}
        self.checked_in: set[tuple[int, str]] = set()
        self.merged = False
        self.snapshot: Snapshot = {}
        self.counter = 0

    # ------------------------------------------------------------------ plumbing

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.env.loop.run_until_complete(coro)

    def attempt(self, coro: Coroutine[Any, Any, T]) -> T | Exception:
        """Run an operation; an expected domain error is returned, anything else raises."""
        try:
            return self.run(coro)
        except (PointsError, CommonError) as error:
            return error

    async def _empty_tables(self) -> None:
        for row in LOYALTY_ROWS:
            await row.all().delete()

    @property
    def deps(self) -> LoyaltyDeps:
        return self.env.runtime.loyalty

    def alive(self, index: int) -> int:
        """The second member was merged into the first: its operations go to the survivor."""
        return 0 if self.merged else index

    def now(self) -> datetime:
        return self.env.clock.now()

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    async def _in_uow(self, operation: Any, *args: Any, **kwargs: Any) -> Any:
        async with self.deps.uow() as uow:
            return await operation(self.deps, uow, *args, **kwargs)

    def window_growth(self, index: int) -> int:
        since = self.now() - self.deps.policy.growth_window
        return sum(amount for at, amount in self.growth[index] if at >= since)

    # ------------------------------------------------------------------ earning

    @rule(who=MEMBER, points=POINTS, expiry=st.sampled_from(EXPIRIES))
    def earn(self, who: int, points: int, expiry: timedelta | None) -> None:
        m = self.alive(who)
        expires_at = self.now() + expiry if expiry is not None else None
        entry = self.run(
            self._in_uow(
                ledger.credit,
                self.members[m],
                points,
                EntryKind.EARN,
                "prop:earn",
                "SYSTEM",
                "property test",
                None,
                expires_at=expires_at,
            )
        )
        self.books[m].credit(points)
        assert (entry.amount, entry.balance_after) == (points, self.books[m].balance)

    @rule(who=MEMBER)
    def check_in(self, who: int) -> None:
        m = self.alive(who)
        day = self.now().astimezone(STORE_ZONE).date().isoformat()
        result = self.attempt(services.daily_check_in(self.deps, self.members[m]))
        if (m, day) in self.checked_in:
            assert isinstance(result, PointsError), result
            assert result.code is PointsErrorCode.ALREADY_CHECKED_IN
            return
        assert isinstance(result, Entry), result
        self.checked_in.add((m, day))
        self.books[m].credit(self.deps.policy.check_in_points)

    @rule(who=MEMBER, yuan=st.integers(0, 3000))
    def purchase(self, who: int, yuan: int) -> None:
        m = self.alive(who)
        paid = yuan * 100 + (37 if yuan % 3 == 0 else 0)  # some odd fen too
        reference = self.fresh("pos")
        at = self.now()
        entry = self.run(self._in_uow(services.earn_for_purchase, self.members[m], paid, reference))
        self.growth[m].append((at, paid))
        policy = self.deps.policy
        tier = policy.tier_for(self.window_growth(m)).name
        expected = policy.earned_for(paid, tier)
        if expected == 0:
            assert entry is None
        else:
            assert isinstance(entry, Entry) and entry.amount == expected, (entry, tier)
            self.books[m].credit(expected)
        self.purchases[reference] = Purchase(m, paid, expected)

    def _own_purchases(self) -> list[str]:
        # Entries stay with the account that wrote them: after the merge, a purchase of the
        # absorbed member is not found under the survivor (see the report).
        return [r for r, p in self.purchases.items() if not (self.merged and p.member == 1)]

    def _replayable(self) -> list[str]:
        # A purchase that earned nothing has no entry to recognise a replay by (see the report).
        return [r for r in self._own_purchases() if self.purchases[r].points > 0]

    @precondition(lambda self: self._replayable())
    @rule(data=st.data())
    def replay_purchase(self, data: st.DataObject) -> None:
        reference = data.draw(st.sampled_from(self._replayable()))
        bought = self.purchases[reference]
        entry = self.run(
            self._in_uow(
                services.earn_for_purchase, self.members[bought.member], bought.paid, reference
            )
        )
        assert isinstance(entry, Entry) and entry.amount == bought.points

    @precondition(lambda self: self._own_purchases())
    @rule(data=st.data(), share=st.sampled_from([1, 2, 4]))
    def refund(self, data: st.DataObject, share: int) -> None:
        reference = data.draw(st.sampled_from(self._own_purchases()))
        bought = self.purchases[reference]
        m = bought.member
        refunded = bought.paid // share
        replay = refunded in bought.refunds
        if replay and bought.refunds[refunded] == 0:
            return  # nothing was taken back, so nothing recognises the replay (see the report)
        if not replay and sum(bought.refunds) + refunded > bought.paid:
            return  # ordering never refunds more than was paid
        entry = self.run(
            self._in_uow(
                services.reverse_for_refund, self.members[m], reference, refunded, bought.paid
            )
        )
        if bought.points == 0:  # nothing was earned: nothing to take back, growth stays
            assert entry is None
            return
        if replay:
            assert isinstance(entry, Entry) and entry.amount == -bought.refunds[refunded]
            return
        points = bought.points * refunded // bought.paid
        self.growth[m].append((self.now(), -refunded))
        bought.refunds[refunded] = points
        if points == 0:
            assert entry is None
            return
        assert isinstance(entry, Entry) and entry.amount == -points
        self.books[m].debit(points)

    # ------------------------------------------------------------------ redeeming

    @rule(who=MEMBER, owner=st.sampled_from(OWNERS), points=POINTS)
    def hold(self, who: int, owner: str, points: int) -> None:
        m = self.alive(who)
        result = self.attempt(
            self._in_uow(ledger.hold, self.members[m], points, owner, "MEMBER:prop")
        )
        if owner in self.holds:  # the owner's hold, whatever was asked
            assert isinstance(result, Hold), result
            assert result.amount == self.holds[owner].amount
            return
        if points > self.books[m].available:
            assert isinstance(result, PointsError), result
            assert result.code is PointsErrorCode.INSUFFICIENT_POINTS
            return
        assert isinstance(result, Hold) and result.state is HoldState.OPEN, result
        self.holds[owner] = HoldModel(m, points, HoldState.OPEN)
        self.books[m].held += points

    @precondition(lambda self: len(self.holds) < len(OWNERS))
    @rule(who=MEMBER)
    def redeem_everything(self, who: int) -> None:
        """Hold all that is available under an unused owner and post it at once (so that
        refunds later find the points spent and leave a debt)."""
        m = self.alive(who)
        points = self.books[m].available
        if points == 0:
            return
        owner = next(o for o in OWNERS if o not in self.holds)
        self.run(self._in_uow(ledger.hold, self.members[m], points, owner, "MEMBER:prop"))
        posted = self.run(self._in_uow(ledger.post_hold, owner, "SYSTEM"))
        assert posted is not None and posted.state is HoldState.POSTED
        self.holds[owner] = HoldModel(m, points, HoldState.POSTED)
        self.books[m].balance -= points

    @rule(owner=st.sampled_from(OWNERS))
    def post(self, owner: str) -> None:
        result = self.run(self._in_uow(ledger.post_hold, owner, "SYSTEM"))
        model = self.holds.get(owner)
        if model is None:
            assert result is None
            return
        if model.state is HoldState.OPEN:
            model.state = HoldState.POSTED
            self.books[model.member].held -= model.amount
            self.books[model.member].balance -= model.amount
        assert result is not None and result.state is model.state

    @rule(owner=st.sampled_from(OWNERS))
    def release(self, owner: str) -> None:
        result = self.run(self._in_uow(ledger.release_hold, owner, "SYSTEM"))
        model = self.holds.get(owner)
        if model is None:
            assert result is None
            return
        if model.state is HoldState.OPEN:
            model.state = HoldState.RELEASED
            self.books[model.member].held -= model.amount
        assert result is not None and result.state is model.state

    @rule(owner=st.sampled_from(OWNERS))
    def reverse(self, owner: str) -> None:
        entry = self.run(self._in_uow(ledger.reverse_redemption, owner, "SYSTEM"))
        model = self.holds.get(owner)
        if model is None or model.state is not HoldState.POSTED:
            assert entry is None
            return
        assert isinstance(entry, Entry) and entry.amount == model.amount
        model.state = HoldState.REVERSED
        self.books[model.member].credit(model.amount)

    # ------------------------------------------------------------------ customer service

    @rule(
        who=MEMBER,
        delta=st.integers(-300, 300).filter(bool),
        key=st.sampled_from([None, *KEYS]),
    )
    def adjust(self, who: int, delta: int, key: str | None) -> None:
        m = self.alive(who)
        result = self.attempt(
            services.adjust_points(self.deps, CS, self.members[m], delta, "property test", key)
        )
        if key is not None and (m, key) in self.adjust_keys:
            if self.adjust_keys[(m, key)] == delta:
                assert isinstance(result, Entry) and result.amount == delta, result
            else:
                assert isinstance(result, CommonError), result
                assert result.code is CommonErrorCode.IDEMPOTENCY_CONFLICT
            return
        if delta < 0 and -delta > self.books[m].available:
            assert isinstance(result, PointsError), result
            assert result.code is PointsErrorCode.INSUFFICIENT_POINTS
            return
        assert isinstance(result, Entry) and result.actor == CS.label, result
        if key is not None:
            self.adjust_keys[(m, key)] = delta
        if delta > 0:
            self.books[m].credit(delta)
        else:
            self.books[m].debit(-delta)

    # ------------------------------------------------------------------ time

    @rule(move=st.sampled_from(MOVES))
    def time_passes(self, move: timedelta) -> None:
        self.env.clock.advance(move)
        now = self.now()
        due = self.run(PointsLotRow.filter(expires_at__lte=now, remaining__gt=0))
        expected: dict[UUID, int] = {}
        for lot in due:
            expected[lot.member_id] = expected.get(lot.member_id, 0) + lot.remaining
        assert self.run(ledger.expire_due(self.deps)) == sum(expected.values())
        for m, member in enumerate(self.members):
            self.books[m].balance -= expected.get(member, 0)

        self.run(services.recompute_all_tiers(self.deps))
        policy = self.deps.policy
        for m, member in enumerate(self.members):
            found = self.run(self.env.runtime.repos.loyalty.get_account(member))
            if found is None:
                continue
            growth = self.window_growth(m)
            assert (found.growth_value, found.tier) == (growth, policy.tier_for(growth).name)

    # ------------------------------------------------------------------ merge

    @precondition(lambda self: not self.merged)
    @rule()
    def merge(self) -> None:
        source, target = self.members[1], self.members[0]
        self.run(merge_members(self.env.runtime.members, CS, source, target, "same person"))
        self.merged = True
        into, out = self.books[0], self.books[1]
        into.balance, into.held, into.debt = (
            into.balance + out.balance,
            into.held + out.held,
            into.debt + out.debt,
        )
        self.books[1] = Books()
        for model in self.holds.values():
            model.member = 0
        self.growth[0].extend(self.growth[1])
        self.growth[1] = []

    # ------------------------------------------------------------------ invariants

    @invariant()
    def books_balance(self) -> None:
        self.run(check_books())
        self.snapshot = self.run(assert_only_appended(self.snapshot))
        for m, member in enumerate(self.members):
            found = self.run(self.env.runtime.repos.loyalty.get_account(member))
            got = (found.balance, found.held, found.debt) if found else (0, 0, 0)
            want = self.books[m]
            assert got == (want.balance, want.held, want.debt), (m, got, want)
        rows = self.run(PointsHoldRow.all())
        assert {r.owner: str(r.state) for r in rows} == {
            owner: h.state.value for owner, h in self.holds.items()
        }
        for r in rows:
            assert r.member_id == self.members[self.holds[r.owner].member]


@pytest.fixture
async def env(runtime: Runtime, clock: MovableClock) -> Env:
    return Env(runtime=runtime, clock=clock, loop=asyncio.get_running_loop())


def test_random_operation_sequences_keep_the_points_books_straight(env: Env) -> None:
    PointsMachine.env = env
    run_state_machine_as_test(
        PointsMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=30,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
