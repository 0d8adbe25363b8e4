"""Reservations through the inventory use cases, over the in-memory fakes: the safety stock
is never reserved, a reservation is all or nothing, each one moves once, and the sweeper
frees only what is past its expiry. (Concurrency is tests/integration's job.)"""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.errors import InventoryError, InventoryErrorCode
from domain.events import ReservationExpired
from domain.inventory.model import (
    InsufficientStock,
    MovementKind,
    ReservationState,
    StockLine,
)
from domain.inventory.reservations import (
    InventoryDeps,
    commit,
    extend,
    release,
    reserve,
    reserve_in_uow,
    sweep_expired,
)
from domain.uow import UnitOfWork
from tests.fakes.deps import inventory_deps
from tests.fakes.shop import FakeShop

TTL = timedelta(minutes=15)


@pytest.fixture
def shop() -> FakeShop:
    return FakeShop()


@pytest.fixture
def deps(shop: FakeShop) -> InventoryDeps:
    return inventory_deps(shop.db, shop.clock)


async def test_the_safety_stock_is_never_reserved(shop: FakeShop, deps: InventoryDeps) -> None:
    store, mango = shop.store("SH-A", 31.23, 121.47), shop.variant("M-1", 1990)
    shop.stock(store, mango, on_hand=10, safety=3)

    with pytest.raises(InsufficientStock) as refused:
        await reserve(deps, [StockLine(mango.id, 8)], store.id, "order:a", TTL)
    [shortage] = refused.value.shortages
    assert (shortage.requested, shortage.available) == (8, 7)
    assert shop.level(store, mango) == (10, 0)

    await reserve(deps, [StockLine(mango.id, 7)], store.id, "order:b", TTL)
    assert shop.level(store, mango) == (10, 7)
    assert [(m.kind, m.reserved_delta, m.reference) for m in shop.db.tables.movements] == [
        (MovementKind.RESERVE, 7, "order:b")
    ]


async def test_a_reservation_is_all_or_nothing_inside_the_callers_transaction(
    shop: FakeShop, deps: InventoryDeps
) -> None:
    store = shop.store("SH-A", 31.23, 121.47)
    plenty, scarce = shop.variant("M-1", 1990), shop.variant("M-2", 3500)
    shop.stock(store, plenty, 10)
    shop.stock(store, scarce, 1)

    async with deps.uow() as uow:
        with pytest.raises(InsufficientStock) as refused:
            await reserve_in_uow(
                deps, uow, [StockLine(plenty.id, 4), StockLine(scarce.id, 2)], store.id, "o:a", TTL
            )
        # A caller may go on in the same transaction (checkout tries the next location that
        # ships): the line that fitted was given back already, not only at rollback.
        assert shop.level(store, plenty) == (10, 0)

    assert [(s.variant_id, s.available) for s in refused.value.shortages] == [(scarce.id, 1)]
    assert shop.db.tables.reservations == {} and shop.db.tables.movements == []


async def test_release_gives_the_stock_back_once(shop: FakeShop, deps: InventoryDeps) -> None:
    store, mango = shop.store("SH-A", 31.23, 121.47), shop.variant("M-1", 1990)
    shop.stock(store, mango, 5)
    await reserve(deps, [StockLine(mango.id, 3)], store.id, "order:a", TTL)

    first = await release(deps, "order:a")
    again = await release(deps, "order:a")

    assert [r.quantity for r in first] == [3] and again == []
    assert shop.level(store, mango) == (5, 0)
    [held] = shop.db.tables.reservations.values()
    assert held.state is ReservationState.RELEASED


async def test_a_commit_the_shelf_cannot_cover_is_refused_and_rolled_back(
    shop: FakeShop, deps: InventoryDeps
) -> None:
    store, mango = shop.store("SH-A", 31.23, 121.47), shop.variant("M-1", 1990)
    shop.stock(store, mango, 5)
    await reserve(deps, [StockLine(mango.id, 4)], store.id, "order:a", TTL)
    shop.db.tables.levels[(store.id, mango.id)].on_hand = 2  # a till sold 3 in the meantime

    with pytest.raises(InsufficientStock):
        await commit(deps, "order:a")

    # The whole transaction rolled back: the reservation still holds, the shelf untouched.
    assert shop.level(store, mango) == (2, 4)
    [held] = shop.db.tables.reservations.values()
    assert held.state is ReservationState.ACTIVE
    assert shop.db.rollbacks == 1


async def test_the_sweeper_frees_only_expired_reservations_and_tells_their_owner(
    shop: FakeShop, deps: InventoryDeps
) -> None:
    store, mango = shop.store("SH-A", 31.23, 121.47), shop.variant("M-1", 1990)
    shop.stock(store, mango, 10)
    await reserve(deps, [StockLine(mango.id, 2)], store.id, "order:short", TTL)
    await reserve(deps, [StockLine(mango.id, 3)], store.id, "order:long", TTL * 4)
    told: list[ReservationExpired] = []

    async def on_expired(uow: UnitOfWork, event: ReservationExpired) -> None:
        told.append(event)

    deps.events.register(ReservationExpired, on_expired)
    shop.clock.advance(TTL)

    assert await sweep_expired(deps) == 1
    assert await sweep_expired(deps) == 0
    assert shop.level(store, mango) == (10, 3)
    assert [e.owner for e in told] == ["order:short"]


async def test_extending_what_an_owner_does_not_hold_is_a_typed_error(
    deps: InventoryDeps,
) -> None:
    with pytest.raises(InventoryError) as refused:
        await extend(deps, "order:nothing", TTL)
    assert refused.value.code is InventoryErrorCode.RESERVATION_NOT_FOUND
