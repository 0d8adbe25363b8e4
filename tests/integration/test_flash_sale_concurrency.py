"""Flash sales raced on PostgreSQL (issue 17, part 3): each buyer's checkout is its own
transaction on its own pooled connection, so they overlap for real and only the conditional
updates of the sale's counter and the member's counter decide. Never more than the units
offered, never a member past the limit, and cancellations racing new buyers give back exactly
what they took. (SQLite serialises writers: the API tests cover it there.)"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from domain.errors import DomainError
from domain.identity.model import Principal
from domain.ordering.lifecycle import cancel_order
from domain.ordering.model import Order
from domain.promotions.flash_sales_model import FlashSale
from infra.runtime import Runtime
from tests.support import is_postgres
from tests.support.racing import (
    a_sale,
    a_variant,
    attempt,
    members,
    pickup,
    receive,
)


@pytest.fixture(autouse=True)
def postgres_only(runtime: Runtime) -> None:
    if not is_postgres(runtime.settings.database_url):
        pytest.skip("concurrency is decided by PostgreSQL's row locks")


async def sold(runtime: Runtime, sale: FlashSale) -> int:
    found = await runtime.repos.flash_sales.get_flash_sale(sale.id)
    assert found is not None
    return found.units_sold


def outcome(results: list[Any]) -> Counter[str]:
    return Counter("ORDER" if isinstance(r, Order) else str(r.code) for r in results)


@pytest.mark.parametrize("buyers", [50, 200])
async def test_concurrent_buyers_get_exactly_the_units_offered(
    runtime: Runtime, stores: dict[str, Any], buyers: int
) -> None:
    store = stores["SH-A"].id
    variant = await a_variant(runtime)
    await receive(runtime, store, variant, 500)
    sale = await a_sale(runtime, variant, store, units=30, limit=1)
    crowd = await members(runtime, buyers)

    results = await asyncio.gather(
        *(attempt(runtime, b, pickup(b, store, variant), f"fs-{n}") for n, b in enumerate(crowd))
    )

    assert outcome(results) == {"ORDER": 30, "FLASH_SALE_SOLD_OUT": buyers - 30}
    orders = [r for r in results if isinstance(r, Order)]
    assert {line.unit_price for order in orders for line in order.lines} == {990}
    assert len({order.member_id for order in orders}) == 30
    assert await sold(runtime, sale) == 30
    level = await runtime.repos.inventory.level(store, variant)
    assert level is not None and level.reserved == 30  # refusals reserved nothing


async def test_one_member_in_many_tabs_never_passes_the_limit(
    runtime: Runtime, stores: dict[str, Any]
) -> None:
    store = stores["SH-A"].id
    variant = await a_variant(runtime)
    await receive(runtime, store, variant, 100)
    sale = await a_sale(runtime, variant, store, units=50, limit=3)
    [member] = await members(runtime, 1)

    results = await asyncio.gather(
        *(attempt(runtime, member, pickup(member, store, variant), f"tab-{n}") for n in range(60))
    )

    assert outcome(results) == {"ORDER": 3, "FLASH_SALE_LIMIT_REACHED": 57}
    assert await sold(runtime, sale) == 3


async def test_cancellations_racing_new_buyers_give_back_exactly_what_they_took(
    runtime: Runtime, stores: dict[str, Any]
) -> None:
    store = stores["SH-A"].id
    variant = await a_variant(runtime)
    await receive(runtime, store, variant, 500)
    sale = await a_sale(runtime, variant, store, units=40, limit=1)
    first, second = await members(runtime, 40, "first"), await members(runtime, 80, "second")
    placed = await asyncio.gather(
        *(attempt(runtime, b, pickup(b, store, variant), f"a-{n}") for n, b in enumerate(first))
    )
    orders = [r for r in placed if isinstance(r, Order)]
    assert len(orders) == 40 and await sold(runtime, sale) == 40

    async def cancel(buyer: Principal, order: Order) -> Any:
        try:
            return await cancel_order(runtime.ordering, buyer, order.id, "changed my mind")
        except DomainError as error:
            return error

    cancelled_half = list(zip(first[:20], orders[:20], strict=True))
    results = await asyncio.gather(
        *(cancel(b, o) for b, o in cancelled_half),
        *(attempt(runtime, b, pickup(b, store, variant), f"b-{n}") for n, b in enumerate(second)),
    )
    cancels, buys = results[:20], results[20:]
    assert all(isinstance(c, Order) for c in cancels), cancels
    won = sum(isinstance(r, Order) for r in buys)
    # Each new buyer saw some of the 20 given back, never more.
    assert 0 <= won <= 20
    assert outcome(buys)["FLASH_SALE_SOLD_OUT"] == 80 - won
    assert await sold(runtime, sale) == 20 + won
    # The cancelled members may buy again: their own counts came back.
    again = await asyncio.gather(
        *(
            attempt(runtime, b, pickup(b, store, variant), f"c-{n}")
            for n, b in enumerate(first[:20])
        )
    )
    assert sum(isinstance(r, Order) for r in again) == 20 - won
    assert await sold(runtime, sale) == 40
