"""The checkout's hot rows taken last and together (domain/ordering/hot_take.py), raced on
PostgreSQL with the admission gate off, so only the database's locks order the buyers: two-line
orders naming their lines in opposite orders never deadlock (a deadlock would surface here as
an error: these calls are not retried) and never sell past a sale's units or a shelf, and the
pickup counter moves only for an order that got everything, so the day's numbers have no gaps.
(SQLite serialises writers: the API tests cover the same path there.)"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest

from domain.inventory.model import StockLine
from domain.ordering.checkout import Checkout
from domain.ordering.model import Order, SalesChannel, pickup_number
from infra.db.models.orders import OrderLineRow, OrderRow
from infra.runtime import Runtime
from tests.support import MovableClock, is_postgres
from tests.support.racing import a_sale, a_variant, assert_ledger_agrees, attempt, members, receive

BUYERS = 60


@pytest.fixture(autouse=True)
def postgres_only(runtime: Runtime) -> None:
    if not is_postgres(runtime.settings.database_url):
        pytest.skip("concurrency is decided by PostgreSQL's row locks")


@pytest.fixture
def ungated(runtime: Runtime) -> Iterator[None]:
    gate = runtime.ordering.hot_rows
    per_key, gate.per_key = gate.per_key, 0
    yield
    gate.per_key = per_key


def both(member_id: UUID, store: UUID, first: UUID, second: UUID) -> Checkout:
    return Checkout(
        channel=SalesChannel.MINI_PROGRAM,
        lines=[StockLine(first, 1), StockLine(second, 1)],
        member_id=member_id,
        pickup_location_id=store,
    )


@pytest.mark.parametrize(
    ("shelf_b", "sale_b", "refusal"),
    [
        (40, 15, "FLASH_SALE_SOLD_OUT"),
        (15, 40, "INSUFFICIENT_STOCK"),
        (15, None, "INSUFFICIENT_STOCK"),
    ],
)
async def test_two_line_orders_in_opposite_orders_never_deadlock_or_oversell(
    runtime: Runtime,
    stores: dict[str, Any],
    clock: MovableClock,
    ungated: None,
    shelf_b: int,
    sale_b: int | None,
    refusal: str,
) -> None:
    """Every order takes one A and one B; B's sale (or B's shelf) runs out at 15 orders.
    Without sales, nothing but the shelves' own locks orders the buyers."""
    clock.put(clock.today(), hour=12)  # noon in the store: the racers share one local day
    store = stores["SH-A"].id
    a, b = await a_variant(runtime, "HOT-A"), await a_variant(runtime, "HOT-B")
    await receive(runtime, store, a, 40)
    await receive(runtime, store, b, shelf_b)
    sales = (
        {
            a: (await a_sale(runtime, a, store, 40, 1)).id,
            b: (await a_sale(runtime, b, store, sale_b, 1)).id,
        }
        if sale_b is not None
        else {}
    )
    buyers = await members(runtime, BUYERS)

    results = await asyncio.gather(
        *(
            attempt(runtime, m, both(m.id, store, *((a, b) if n % 2 else (b, a))), f"k-{n}")
            for n, m in enumerate(buyers)
        )
    )

    orders = [r for r in results if isinstance(r, Order)]
    outcomes = Counter("ORDER" if isinstance(r, Order) else str(r.code) for r in results)
    assert outcomes == {"ORDER": 15, refusal: BUYERS - 15}
    sold = {
        v: found.units_sold
        for v, sale_id in sales.items()
        if (found := await runtime.repos.flash_sales.get_flash_sale(sale_id)) is not None
    }
    assert sold == ({a: 15, b: 15} if sales else {})
    for variant, shelf in ((a, 40), (b, shelf_b)):
        level = await runtime.repos.inventory.level(store, variant)
        assert level is not None and (level.on_hand, level.reserved) == (shelf, 15)
    lines = await OrderLineRow.filter(order_id__in=[o.id for o in orders]).count()
    assert lines == 2 * 15
    # The counter moved only for the 15 orders that got everything: A001 to A015, no gaps.
    assert sorted(o.pickup_number or "" for o in orders) == [pickup_number(n) for n in range(1, 16)]
    rows = await OrderRow.filter(id__in=[o.id for o in orders]).values_list("id", "pickup_number")
    assert dict(rows) == {o.id: o.pickup_number for o in orders}  # written in the statement
    await assert_ledger_agrees(runtime)
