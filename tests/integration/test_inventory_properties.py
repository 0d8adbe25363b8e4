"""Random sequences of every stock operation against a real database, checked after every
step against the invariants and against a small in-memory model of what should happen.

Two locations x three variants. The rules drive the real domain services: multi-line
reservations, release, commit, extend, sweeps after the clock moves, adjustments (up and
down, with replayed and conflicting idempotency keys), counts (compare-and-swap with the
right and a wrong expected value), till sales (overselling too, and replayed till
transactions), transfers (created, shipped, received short or over), safety stock and the
ERP's bulk sync. After every step:

* no level is negative (on_hand, reserved >= 0);
* each level's `reserved` is the sum of its ACTIVE and AT_RISK reservations;
* the movement ledger sums to (on_hand, reserved) of every level;
* levels and reservation states are what the model predicts (so a refused operation
  changed nothing, and an accepted one changed exactly what it should; a till sale, an
  adjustment or a count that takes the shelf below what is reserved puts the newest
  reservations AT_RISK until what is still ACTIVE fits).

Every example starts with random stock and a few reservations, so whichever rules
Hypothesis enables for it meet reservations; two rules aim at them on purpose (a till sale
below what is reserved, a transfer wanting reserved units).

Hypothesis runs many examples inside one test, so each example empties the inventory
tables itself. The state machine's rules are synchronous; they run each coroutine to
completion on the session's event loop (the one the Tortoise connections belong to).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ClassVar, TypeVar
from uuid import UUID

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from domain.catalog.services import ProductDraft, VariantDraft, create_product
from domain.errors import CommonError, CommonErrorCode, InventoryError, InventoryErrorCode
from domain.identity.model import Principal, PrincipalKind, StaffRole
from domain.ids import new_id
from domain.inventory import reservations, stock, transfers
from domain.inventory.deps import InventoryDeps
from domain.inventory.model import (
    InsufficientStock,
    MovementKind,
    ReservationState,
    StaleQuantity,
    StockLine,
    TillLine,
)
from domain.inventory.stock import Adjustment, BulkRow
from infra.db.models.inventory import (
    DiscrepancyRow,
    IdempotencyRow,
    MovementRow,
    PosTransactionRow,
    ReservationRow,
    StockLevelRow,
    TransferRow,
)
from infra.runtime import Runtime
from tests.support import MovableClock

T = TypeVar("T")

ADMIN = Principal(kind=PrincipalKind.STAFF, id=new_id(), role=StaffRole.ADMIN)
SLOT = timedelta(minutes=30)  # TTLs and clock moves are whole slots: real time is noise
OWNERS = [f"order-{i}" for i in range(5)]
KEYS = ["key-a", "key-b", "key-c"]
HOLDING = (ReservationState.ACTIVE, ReservationState.AT_RISK)
INVENTORY_ROWS = (
    StockLevelRow,
    ReservationRow,
    MovementRow,
    TransferRow,
    PosTransactionRow,
    DiscrepancyRow,
    IdempotencyRow,
)

Key = tuple[int, int]  # (location index, variant index)

LINES = st.lists(
    st.tuples(st.integers(0, 2), st.integers(1, 6)),
    min_size=1,
    max_size=3,
    unique_by=lambda line: line[0],
)


@dataclass
class Env:
    runtime: Runtime
    clock: MovableClock
    loop: asyncio.AbstractEventLoop
    locations: list[UUID]
    location_codes: list[str]
    variants: list[UUID]
    variant_codes: list[str]


@dataclass
class LevelModel:
    on_hand: int = 0
    reserved: int = 0
    safety: int = 0

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved - self.safety


@dataclass
class ReservationModel:
    id: UUID
    owner: str
    key: Key
    quantity: int
    state: ReservationState
    expires: int  # slot
    seq: int  # creation order (created_at, then id)


@dataclass
class TransferModel:
    id: UUID
    source: int
    destination: int
    lines: list[tuple[int, int]]  # (variant index, quantity), in variant-id order
    state: str = "CREATED"


@dataclass
class Model:
    levels: dict[Key, LevelModel] = field(default_factory=dict)
    reservations: dict[UUID, ReservationModel] = field(default_factory=dict)
    transfers: dict[UUID, TransferModel] = field(default_factory=dict)
    adjust_keys: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    till_sales: dict[tuple[int, str], Any] = field(default_factory=dict)  # -> first result
    slot: int = 0
    seq: int = 0
    counter: int = 0


class InventoryMachine(RuleBasedStateMachine):
    env: ClassVar[Env]

    transfer_ids = Bundle("transfers")

    def __init__(self) -> None:
        super().__init__()
        self.model = Model()
        self.env.clock.offset = timedelta()
        self.run(self._empty_tables())

    # ------------------------------------------------------------------ plumbing

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.env.loop.run_until_complete(coro)

    def attempt(self, coro: Coroutine[Any, Any, T]) -> T | Exception:
        """Run a use case; an expected domain error is returned, anything else raises."""
        try:
            return self.run(coro)
        except (InventoryError, CommonError) as error:
            return error

    async def _empty_tables(self) -> None:
        for row in INVENTORY_ROWS:
            await row.all().delete()

    @property
    def deps(self) -> InventoryDeps:
        return self.env.runtime.inventory

    def loc(self, index: int) -> UUID:
        return self.env.locations[index]

    def var(self, index: int) -> UUID:
        return self.env.variants[index]

    def level(self, key: Key) -> LevelModel | None:
        return self.model.levels.get(key)

    def ensure(self, key: Key) -> LevelModel:
        return self.model.levels.setdefault(key, LevelModel())

    def holding(self, owner: str) -> list[ReservationModel]:
        return [
            r for r in self.model.reservations.values() if r.owner == owner and r.state in HOLDING
        ]

    def holders(self) -> list[str]:
        return sorted({r.owner for r in self.model.reservations.values() if r.state in HOLDING})

    def pick_owner(self, data: st.DataObject) -> str:
        """Mostly an owner that holds something; sometimes anyone (perhaps holding nothing)."""
        holders = self.holders()
        choices = st.sampled_from(OWNERS)
        if holders:
            choices = st.sampled_from(holders) | choices
        return data.draw(choices, label="owner")

    def in_variant_order(self, lines: list[tuple[int, int]]) -> list[tuple[int, int]]:
        return sorted(lines, key=lambda line: self.var(line[0]))

    # ------------------------------------------------------------------ setup

    @initialize(
        shelf=st.lists(st.integers(0, 10), min_size=6, max_size=6),
        holds=st.lists(
            st.tuples(st.integers(0, 1), LINES, st.sampled_from(OWNERS), st.integers(1, 4)),
            max_size=6,
        ),
    )
    def seed(
        self, shelf: list[int], holds: list[tuple[int, list[tuple[int, int]], str, int]]
    ) -> None:
        """Every example starts with stock and a few reservations (some refused), so that
        whichever rules it enables meet reservations."""
        for i, quantity in enumerate(shelf):
            if quantity:
                key = (i // 3, i % 3)
                self.run(
                    stock_adjust(
                        self.deps, self.loc(key[0]), self.var(key[1]), quantity, "RECEIPT", None
                    )
                )
                self.ensure(key).on_hand += quantity
        for location, lines, owner, ttl in holds:
            self.reserve(location, lines, owner, ttl)

    # ------------------------------------------------------------------ reservations

    @rule(
        location=st.integers(0, 1),
        lines=LINES,
        owner=st.sampled_from(OWNERS),
        ttl=st.integers(1, 4),
    )
    def reserve(self, location: int, lines: list[tuple[int, int]], owner: str, ttl: int) -> None:
        short = {}
        for v, quantity in lines:
            level = self.level((location, v))
            available = level.available if level else 0
            if available < quantity:
                short[self.var(v)] = max(0, available)
        outcome = self.attempt(
            reservations.reserve(
                self.deps,
                [StockLine(self.var(v), q) for v, q in lines],
                self.loc(location),
                owner,
                ttl * SLOT,
            )
        )
        event(f"reserve: {'refused' if short else 'held'}")
        if short:
            assert isinstance(outcome, InsufficientStock), outcome
            assert {s.variant_id: s.available for s in outcome.shortages} == short
            return
        assert isinstance(outcome, list), outcome
        by_variant = {r.variant_id: r for r in outcome}
        self.model.seq += 1
        for v, quantity in lines:
            made = by_variant[self.var(v)]
            assert made.quantity == quantity and made.location_id == self.loc(location)
            self.model.reservations[made.id] = ReservationModel(
                made.id,
                owner,
                (location, v),
                quantity,
                ReservationState.ACTIVE,
                self.model.slot + ttl,
                self.model.seq,
            )
            self.ensure((location, v)).reserved += quantity

    @precondition(lambda self: bool(self.holders()))
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        owner = self.pick_owner(data)
        expected = self.holding(owner)
        outcome = self.run(reservations.release(self.deps, owner))
        assert {r.id for r in outcome} == {r.id for r in expected}
        for r in expected:
            r.state = ReservationState.RELEASED
            self.ensure(r.key).reserved -= r.quantity

    @precondition(lambda self: bool(self.holders()))
    @rule(data=st.data())
    def commit(self, data: st.DataObject) -> None:
        owner = self.pick_owner(data)
        held = self.holding(owner)
        wanted: dict[Key, int] = {}
        for r in held:
            wanted[r.key] = wanted.get(r.key, 0) + r.quantity
        fits = all(self.ensure(key).on_hand >= quantity for key, quantity in wanted.items())
        outcome = self.attempt(reservations.commit(self.deps, owner))
        event(f"commit: {'nothing held' if not held else 'fits' if fits else 'short'}")
        if not fits:
            assert isinstance(outcome, InsufficientStock), outcome
            return
        assert isinstance(outcome, list), outcome
        assert {r.id for r in outcome} == {r.id for r in held}
        for r in held:
            r.state = ReservationState.COMMITTED
            level = self.ensure(r.key)
            level.on_hand -= r.quantity
            level.reserved -= r.quantity

    @rule(data=st.data(), ttl=st.integers(1, 4))
    def extend(self, data: st.DataObject, ttl: int) -> None:
        owner = self.pick_owner(data)
        held = self.holding(owner)
        outcome = self.attempt(reservations.extend(self.deps, owner, ttl * SLOT))
        if not held:
            assert isinstance(outcome, InventoryError), outcome
            assert outcome.code is InventoryErrorCode.RESERVATION_NOT_FOUND
            return
        assert outcome == len(held)
        for r in held:
            r.expires = self.model.slot + ttl

    @rule(slots=st.integers(0, 5))
    def sweep(self, slots: int) -> None:
        self.env.clock.advance(slots * SLOT)
        self.model.slot += slots
        due = [
            r
            for r in self.model.reservations.values()
            if r.state in HOLDING and r.expires <= self.model.slot
        ]
        assert self.run(reservations.sweep_expired(self.deps)) == len(due)
        event(f"sweep: {'expired some' if due else 'nothing due'}")
        for r in due:
            r.state = ReservationState.EXPIRED
            self.ensure(r.key).reserved -= r.quantity

    # ------------------------------------------------------------------ shelf changes

    @rule(
        location=st.integers(0, 1),
        variant=st.integers(0, 2),
        change=st.one_of(
            st.tuples(st.sampled_from(["RECEIPT", "RETURN"]), st.integers(1, 10)),
            st.tuples(st.just("ADJUSTMENT"), st.integers(-8, 8).filter(lambda d: d != 0)),
        ),
        key=st.none() | st.sampled_from(KEYS),
    )
    def adjust(self, location: int, variant: int, change: tuple[str, int], key: str | None) -> None:
        kind, delta = change
        request = (location, variant, kind, delta)
        outcome = self.attempt(
            stock_adjust(self.deps, self.loc(location), self.var(variant), delta, kind, key)
        )
        if key is not None and key in self.model.adjust_keys:
            if self.model.adjust_keys[key] == request:
                assert isinstance(outcome, dict), outcome  # a replay: nothing changes
            else:
                assert isinstance(outcome, CommonError), outcome
                assert outcome.code is CommonErrorCode.IDEMPOTENCY_CONFLICT
            return
        level = self.level((location, variant))
        on_hand = level.on_hand if level else 0
        if on_hand + delta < 0:
            assert isinstance(outcome, InsufficientStock), outcome
            assert [(s.requested, s.available) for s in outcome.shortages] == [(-delta, on_hand)]
            return
        assert isinstance(outcome, dict), outcome
        self.ensure((location, variant)).on_hand += delta
        self.flag_at_risk((location, variant))  # a correction can undercut reservations
        if key is not None:
            self.model.adjust_keys[key] = request

    @rule(
        location=st.integers(0, 1),
        variant=st.integers(0, 2),
        on_hand=st.integers(0, 12),
        wrong_by=st.sampled_from([0, 0, 1, -1, 3]),
    )
    def inventory_set(self, location: int, variant: int, on_hand: int, wrong_by: int) -> None:
        level = self.level((location, variant))
        current = level.on_hand if level else 0
        expected = current + wrong_by if current + wrong_by >= 0 else current + 1
        outcome = self.attempt(
            stock.set_on_hand(
                self.deps,
                ADMIN,
                self.loc(location),
                self.var(variant),
                on_hand,
                expected,
                None,
            )
        )
        if expected != current:
            assert isinstance(outcome, StaleQuantity), outcome
            assert outcome.current_on_hand == current
            return
        assert isinstance(outcome, dict), outcome
        self.ensure((location, variant)).on_hand = on_hand
        self.flag_at_risk((location, variant))  # so can a count

    @rule(location=st.integers(0, 1), variant=st.integers(0, 2), quantity=st.integers(0, 3))
    def safety_stock(self, location: int, variant: int, quantity: int) -> None:
        self.run(
            stock.set_safety_stock(
                self.deps, ADMIN, self.loc(location), self.var(variant), quantity
            )
        )
        self.ensure((location, variant)).safety = quantity

    @rule(location=st.integers(0, 1), lines=LINES, replay=st.booleans())
    def pos_sale(self, location: int, lines: list[tuple[int, int]], replay: bool) -> None:
        earlier = [tx for at, tx in self.model.till_sales if at == location]
        if replay and earlier:  # the till sends a transaction again: nothing changes
            result = self.run(
                stock.record_pos_sale(
                    self.deps,
                    ADMIN,
                    self.loc(location),
                    earlier[-1],
                    [TillLine(self.var(v), q, 0) for v, q in lines],
                )
            )
            first = self.model.till_sales[(location, earlier[-1])]
            assert result.replayed  # and it reports what the first sale did
            assert (result.lines, result.discrepancies, result.at_risk) == (
                first.lines,
                first.discrepancies,
                first.at_risk,
            )
            return
        self.sell(location, lines)

    @precondition(lambda self: bool(self.holders()))
    @rule(data=st.data())
    def pos_sale_under_reservations(self, data: st.DataObject) -> None:
        """A till sale that takes the shelf below what is reserved (or oversells it)."""
        held = sorted(
            (r for r in self.model.reservations.values() if r.state in HOLDING),
            key=lambda r: (r.seq, r.id),
        )
        target = data.draw(st.sampled_from(held), label="reservation").key
        level = self.ensure(target)
        below = data.draw(st.integers(1, level.reserved + 1), label="below reserved")
        self.sell(target[0], [(target[1], max(1, level.on_hand - level.reserved + below))])

    def sell(self, location: int, lines: list[tuple[int, int]]) -> None:
        self.model.counter += 1
        tx_id = f"till-{self.model.counter}"
        result = self.run(
            stock.record_pos_sale(
                self.deps,
                ADMIN,
                self.loc(location),
                tx_id,
                [TillLine(self.var(v), q, 0) for v, q in lines],
            )
        )
        self.model.till_sales[(location, tx_id)] = result
        expected_lines, oversold, flagged = [], 0, 0
        for v, quantity in self.in_variant_order(lines):
            level = self.ensure((location, v))
            taken = min(quantity, level.on_hand)
            level.on_hand -= taken
            expected_lines.append((self.var(v), quantity, taken))
            oversold += taken < quantity
            flagged += self.flag_at_risk((location, v))
        if oversold:
            event("till sale oversold the system count")
        if flagged:
            event("till sale put reservations at risk")
        assert not result.replayed
        assert result.lines == expected_lines
        assert (result.discrepancies, result.at_risk) == (oversold, flagged)

    def flag_at_risk(self, key: Key) -> int:
        level = self.ensure(key)
        gap = level.reserved - level.on_hand
        flagged = 0
        held = sorted(
            (r for r in self.model.reservations.values() if r.key == key and r.state in HOLDING),
            key=lambda r: (r.seq, r.id),
            reverse=True,
        )
        for r in held:
            if gap <= 0:
                break
            if r.state is ReservationState.ACTIVE:
                r.state = ReservationState.AT_RISK
                flagged += 1
            gap -= r.quantity
        return flagged

    @rule(
        location=st.integers(0, 1),
        rows=st.lists(
            st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 12)),
            min_size=1,
            max_size=3,
        ),
    )
    def bulk_set(self, location: int, rows: list[tuple[int, int, int]]) -> None:
        batch, expected = [], []
        for index, (where, v, on_hand) in enumerate(rows):
            known = where < 2  # 2: a location code the ERP has and we do not
            code = self.env.location_codes[where] if known else "NOPE-1"
            batch.append(BulkRow(code, self.env.variant_codes[v], on_hand))
            if not known:
                expected.append((index, "UNKNOWN_LOCATION", None))
                continue
            level = self.ensure((where, v))
            if level.on_hand == on_hand:
                expected.append((index, "UNCHANGED", on_hand))
            else:
                level.on_hand = on_hand
                self.flag_at_risk((where, v))  # a lower count can undercut reservations
                expected.append((index, "SET", on_hand))
        outcomes = self.run(stock.bulk_set(self.deps, ADMIN, batch))
        assert [(o.index, o.status, o.on_hand) for o in outcomes] == expected

    # ------------------------------------------------------------------ transfers

    @rule(target=transfer_ids, source=st.integers(0, 1), lines=LINES)
    def create_transfer(self, source: int, lines: list[tuple[int, int]]) -> UUID:
        return self.new_transfer(source, lines)

    @precondition(lambda self: bool(self.holders()))
    @rule(target=transfer_ids, data=st.data())
    def create_transfer_of_reserved_stock(self, data: st.DataObject) -> UUID:
        """A transfer wanting units that are on the shelf but held for someone."""
        held = sorted(
            (r for r in self.model.reservations.values() if r.state in HOLDING),
            key=lambda r: (r.seq, r.id),
        )
        source, v = data.draw(st.sampled_from(held), label="reservation").key
        level = self.ensure((source, v))
        quantity = data.draw(
            st.integers(max(1, level.available + 1), max(1, level.on_hand, level.available + 1)),
            label="quantity",
        )
        return self.new_transfer(source, [(v, quantity)])

    def new_transfer(self, source: int, lines: list[tuple[int, int]]) -> UUID:
        destination = 1 - source
        transfer = self.run(
            transfers.create_transfer(
                self.deps,
                ADMIN,
                self.loc(source),
                self.loc(destination),
                [StockLine(self.var(v), q) for v, q in lines],
                None,
            )
        )
        self.model.transfers[transfer.id] = TransferModel(
            transfer.id, source, destination, self.in_variant_order(lines)
        )
        return transfer.id

    @rule(transfer_id=transfer_ids)
    def ship_transfer(self, transfer_id: UUID) -> None:
        model = self.model.transfers[transfer_id]
        outcome = self.attempt(transfers.ship_transfer(self.deps, ADMIN, transfer_id))
        if model.state != "CREATED":
            assert isinstance(outcome, InventoryError), outcome
            assert outcome.code is InventoryErrorCode.TRANSFER_ALREADY_SHIPPED
            return
        short = []
        for v, quantity in model.lines:
            level = self.level((model.source, v))
            if level is None or level.on_hand < quantity or level.available < quantity:
                short.append(self.var(v))
        event(f"ship: {'short' if short else 'shipped'}")
        if short:
            assert isinstance(outcome, InsufficientStock), outcome
            assert [s.variant_id for s in outcome.shortages] == short
            return
        assert not isinstance(outcome, Exception), outcome
        for v, quantity in model.lines:
            self.ensure((model.source, v)).on_hand -= quantity
        model.state = "SHIPPED"

    @rule(transfer_id=transfer_ids, data=st.data())
    def receive_transfer(self, transfer_id: UUID, data: st.DataObject) -> None:
        model = self.model.transfers[transfer_id]
        counted = {}
        for v, quantity in model.lines:  # short, exact, over, or left out (= as shipped)
            got = data.draw(st.none() | st.integers(0, quantity + 2), label=f"received {v}")
            if got is not None:
                counted[self.var(v)] = got
        outcome = self.attempt(transfers.receive_transfer(self.deps, ADMIN, transfer_id, counted))
        if model.state != "SHIPPED":
            assert isinstance(outcome, InventoryError), outcome
            assert outcome.code is (
                InventoryErrorCode.TRANSFER_NOT_SHIPPED
                if model.state == "CREATED"
                else InventoryErrorCode.TRANSFER_ALREADY_RECEIVED
            )
            return
        assert not isinstance(outcome, Exception), outcome
        for v, quantity in model.lines:
            got = counted.get(self.var(v), quantity)
            if got:
                self.ensure((model.destination, v)).on_hand += got
        model.state = "RECEIVED"

    # ------------------------------------------------------------------ invariants

    @invariant()
    def database_agrees(self) -> None:
        self.run(self._check())

    async def _check(self) -> None:
        levels = {(r.location_id, r.variant_id): r for r in await StockLevelRow.all()}
        rows = await ReservationRow.all()
        ledger = await self.env.runtime.repos.inventory.ledger_sums()

        holding: dict[tuple[UUID, UUID], int] = {}
        for r in rows:
            if r.state in HOLDING:
                holding[(r.location_id, r.variant_id)] = (
                    holding.get((r.location_id, r.variant_id), 0) + r.quantity
                )
        for key, level in levels.items():
            assert level.on_hand >= 0 and level.reserved >= 0, (key, level.on_hand)
            assert level.reserved == holding.get(key, 0), (key, level.reserved, holding)
            assert ledger.get(key, (0, 0)) == (level.on_hand, level.reserved), (
                key,
                ledger.get(key),
                level.on_hand,
                level.reserved,
            )
        assert set(ledger) <= set(levels), "ledger rows for a level that does not exist"
        assert set(holding) <= set(levels), "reservations on a level that does not exist"

        expected = {
            (self.loc(k[0]), self.var(k[1])): (m.on_hand, m.reserved, m.safety)
            for k, m in self.model.levels.items()
        }
        actual = {k: (r.on_hand, r.reserved, r.safety_stock) for k, r in levels.items()}
        assert actual == expected
        assert {r.id: r.state for r in rows} == {
            r.id: r.state for r in self.model.reservations.values()
        }


async def stock_adjust(
    deps: InventoryDeps,
    location_id: UUID,
    variant_id: UUID,
    delta: int,
    kind: str,
    key: str | None,
) -> dict[str, Any]:
    change = Adjustment(location_id, variant_id, delta, MovementKind(kind), "property test")
    return await stock.adjust(deps, ADMIN, change, key)


@pytest.fixture
async def env(runtime: Runtime, clock: MovableClock, stores: dict[str, Any]) -> Env:
    codes = ["PROP-V0", "PROP-V1", "PROP-V2"]
    product = await create_product(
        runtime.catalog,
        ProductDraft(
            name="Property Tea",
            variants=[VariantDraft(code=c, name=c, price=990) for c in codes],
        ),
    )
    by_code = {v.code: v.id for v in await runtime.repos.catalog.variants_of([product.id])}
    places = [stores["SH-A"], stores["WH-1"]]
    return Env(
        runtime=runtime,
        clock=clock,
        loop=asyncio.get_running_loop(),
        locations=[p.id for p in places],
        location_codes=[p.code for p in places],
        variants=[by_code[c] for c in codes],
        variant_codes=codes,
    )


def test_random_operation_sequences_keep_the_books_straight(env: Env) -> None:
    InventoryMachine.env = env
    run_state_machine_as_test(
        InventoryMachine,
        settings=settings(
            max_examples=50,
            stateful_step_count=30,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
