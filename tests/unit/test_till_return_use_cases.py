"""Till returns over the in-memory fakes: the shares of a line add up to what it was paid,
and a return that is refused for one line takes nothing back on the others. (Races and
points are tests/integration's and tests/api's job.)"""

from __future__ import annotations

from uuid import UUID

import pytest

from domain.aftersales.model import Condition
from domain.errors import InventoryError, InventoryErrorCode
from domain.identity.model import DeviceKind, Principal, PrincipalKind
from domain.ids import new_id
from domain.inventory.deps import InventoryDeps
from domain.inventory.model import MovementKind, TillLine
from domain.inventory.stock import record_pos_sale
from domain.inventory.till_model import RefundMethod, ReturnedLine
from domain.inventory.till_returns import PosReturnRequest, record_pos_return
from tests.fakes.deps import inventory_deps
from tests.fakes.shop import FakeShop


@pytest.fixture
def shop() -> FakeShop:
    return FakeShop()


@pytest.fixture
def deps(shop: FakeShop) -> InventoryDeps:
    return inventory_deps(shop.db, shop.clock)


def till_of(store_id: UUID) -> Principal:
    return Principal(
        kind=PrincipalKind.DEVICE,
        id=new_id(),
        device_kind=DeviceKind.POS,
        store_ids=frozenset({store_id}),
    )


async def test_returns_of_a_line_add_up_to_what_it_was_paid(
    shop: FakeShop, deps: InventoryDeps
) -> None:
    store, tea = shop.store("SH-A", 31.23, 121.47), shop.variant("T-1", 400)
    shop.stock(store, tea, 10)
    till = till_of(store.id)
    await record_pos_sale(deps, till, store.id, "T-1", [TillLine(tea.id, 7, 1000)])

    def one(quantity: int, condition: Condition) -> PosReturnRequest:
        return PosReturnRequest(
            store.id, "T-1", [ReturnedLine(tea.id, quantity, condition)], RefundMethod.CASH, "ok"
        )

    amounts = [
        (await record_pos_return(deps, till, one(q, c))).refund_amount
        for q, c in ((3, Condition.RESALEABLE), (1, Condition.DAMAGED), (3, Condition.RESALEABLE))
    ]
    assert amounts == [1000 * 3 // 7, 1000 * 4 // 7 - 1000 * 3 // 7, 1000 - 1000 * 4 // 7]
    assert sum(amounts) == 1000
    assert shop.level(store, tea) == (3 + 6, 0)  # 7 sold, 7 back, 1 of them written off
    kinds = [(m.kind, m.on_hand_delta) for m in shop.db.tables.movements[-4:]]
    assert kinds == [
        (MovementKind.RETURN, 3),
        (MovementKind.RETURN, 1),
        (MovementKind.ADJUSTMENT, -1),
        (MovementKind.RETURN, 3),
    ]


async def test_a_return_refused_on_one_line_takes_nothing_back(
    shop: FakeShop, deps: InventoryDeps
) -> None:
    store = shop.store("SH-A", 31.23, 121.47)
    tea, cup = shop.variant("T-1", 400), shop.variant("C-1", 900)
    shop.stock(store, tea, 10)
    shop.stock(store, cup, 10)
    till = till_of(store.id)
    await record_pos_sale(
        deps, till, store.id, "T-2", [TillLine(tea.id, 2, 800), TillLine(cup.id, 1, 900)]
    )
    before = (len(shop.db.tables.movements), shop.level(store, tea), shop.level(store, cup))
    lines = [
        ReturnedLine(tea.id, 2, Condition.RESALEABLE),
        ReturnedLine(cup.id, 2, Condition.RESALEABLE),
    ]
    with pytest.raises(InventoryError) as refused:
        await record_pos_return(
            deps, till, PosReturnRequest(store.id, "T-2", lines, RefundMethod.CARD, "ok")
        )
    assert (refused.value.code, refused.value.field) == (
        InventoryErrorCode.QUANTITY_EXCEEDED,
        ["lines", "1", "quantity"],
    )
    after = (len(shop.db.tables.movements), shop.level(store, tea), shop.level(store, cup))
    assert after == before and shop.db.tables.pos_returns == {}
    # The teas were not counted as returned: both still come back.
    tea_back = PosReturnRequest(store.id, "T-2", lines[:1], RefundMethod.CARD, "ok")
    assert (await record_pos_return(deps, till, tea_back)).refund_amount == 800
