"""`take_hot_rows_in_uow` on both databases: one statement on PostgreSQL
(infra/repositories/hot_rows.py), the contexts' own conditional updates one by one on SQLite.
The same answers either way: a sale sold out or a coupon another order holds stops everything
after it, every short line is named, and the pickup counter moves only when everything else
was taken."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from domain.ids import new_id
from domain.ordering.hot_take import take_hot_rows_in_uow
from domain.ordering.model import PICKUP_SERIES, PICKUP_SERIES_SIZE, pickup_number
from domain.ordering.ports import HotTake, HotTaken
from domain.promotions.coupons import claim_coupon
from domain.promotions.coupons_model import CouponHold, CouponStatus
from infra.db import sql
from infra.db.models.coupons import CouponRow
from infra.repositories.hot_rows import pickup_number_sql
from infra.runtime import Runtime
from tests.support import MovableClock, is_postgres
from tests.support.coupons import member, template
from tests.support.points import new_member
from tests.support.racing import a_sale, a_variant, receive


async def take(runtime: Runtime, hot: HotTake) -> HotTaken:
    async with runtime.ordering.uow() as uow:  # committed as it is: the test reads what moved
        return await take_hot_rows_in_uow(uow, hot)


async def reserved(runtime: Runtime, store: UUID, variant: UUID) -> int:
    level = await runtime.repos.inventory.level(store, variant)
    assert level is not None
    return level.reserved


async def units_sold(runtime: Runtime, sale_id: UUID) -> int:
    sale = await runtime.repos.flash_sales.get_flash_sale(sale_id)
    assert sale is not None
    return sale.units_sold


async def test_the_hot_rows_are_taken_together_or_refused_in_lock_order(
    runtime: Runtime, stores: dict[str, Any], clock: MovableClock
) -> None:
    clock.put(clock.today(), hour=12)
    store, day = stores["SH-A"].id, clock.today()
    order = new_id()  # no such row: the numbers are checked on real orders in the race tests
    a, b = sorted([await a_variant(runtime, "HOT-A"), await a_variant(runtime, "HOT-B")])
    await receive(runtime, store, a, 3)
    await receive(runtime, store, b, 1)
    sale_a, sale_b = (
        (await a_sale(runtime, a, store, 5, 1)).id,
        (await a_sale(runtime, b, store, 1, 1)).id,
    )
    both = sorted([(sale_a, 1), (sale_b, 1)])  # in sale-id order, as the checkout gives them

    # Everything fits: both counters, both shelves, then the pickup counter.
    first = await take(
        runtime,
        HotTake(store, sales=both, stock=[(a, 1), (b, 1)], pickup=(order, day)),
    )
    assert first == HotTaken(pickup_sequence=1)
    assert (await units_sold(runtime, sale_a), await units_sold(runtime, sale_b)) == (1, 1)
    assert (await reserved(runtime, store, a), await reserved(runtime, store, b)) == (1, 1)

    # B's sale is sold out: nothing after it moves (neither shelf nor the counter).
    second = await take(
        runtime,
        HotTake(store, sales=both, stock=[(a, 1), (b, 1)], pickup=(order, day)),
    )
    assert second == HotTaken(sold_out=sale_b)
    assert (await reserved(runtime, store, a), await reserved(runtime, store, b)) == (1, 1)

    # B's shelf is empty, and A's cannot give 5: both are named; the counter does not move.
    third = await take(runtime, HotTake(store, stock=[(a, 5), (b, 1)], pickup=(order, day)))
    assert third == HotTaken(short=(a, b))

    # Without a pickup day (nothing to number), only the rows asked for.
    assert await take(runtime, HotTake(store, stock=[(a, 1)])) == HotTaken()
    assert await reserved(runtime, store, a) == 2

    # The counter went on from where the last order that got everything left it.
    assert await take(runtime, HotTake(store, stock=[(a, 1)], pickup=(order, day))) == HotTaken(
        pickup_sequence=2
    )


async def coupon_state(coupon_id: UUID) -> tuple[CouponStatus, UUID | None, int]:
    row = await CouponRow.get(id=coupon_id)
    return CouponStatus(row.status), row.order_id, row.discount


async def test_the_order_coupons_are_held_in_the_take_after_the_sales_before_the_shelf(
    runtime: Runtime, stores: dict[str, Any], clock: MovableClock
) -> None:
    clock.put(clock.today(), hour=12)
    store, day = stores["SH-A"].id, clock.today()
    a = await a_variant(runtime, "HOT-C")
    await receive(runtime, store, a, 5)
    alice = await new_member(runtime, "hot-take-coupons")
    one, _ = await claim_coupon(runtime.coupons, member(alice), (await template(runtime)).id)
    two, _ = await claim_coupon(runtime.coupons, member(alice), (await template(runtime)).id)
    first, second = sorted([one.id, two.id], key=str)
    order, other, now = new_id(), new_id(), clock.now()
    holds = [CouponHold(c, alice, order, off, now) for c, off in ((first, 2000), (second, 500))]

    # Both coupons, then the shelf and the counter: everything in one take.
    taken = await take(runtime, HotTake(store, coupons=holds, stock=[(a, 1)], pickup=(order, day)))
    assert taken == HotTaken(pickup_sequence=1)
    assert await coupon_state(first) == (CouponStatus.HELD, order, 2000)
    assert await coupon_state(second) == (CouponStatus.HELD, order, 500)
    assert await reserved(runtime, store, a) == 1

    # Another order with the second coupon: it is named; the shelf and the counter stay.
    again = [CouponHold(second, alice, other, 500, now)]
    refused = await take(
        runtime, HotTake(store, coupons=again, stock=[(a, 1)], pickup=(other, day))
    )
    assert refused == HotTaken(unheld=second)
    assert await coupon_state(second) == (CouponStatus.HELD, order, 500)
    assert await reserved(runtime, store, a) == 1

    # Someone else's coupon, or one no longer valid, is not held either.
    mallory = await new_member(runtime, "hot-take-mallory")
    theirs, _ = await claim_coupon(runtime.coupons, member(mallory), (await template(runtime)).id)
    stolen = [CouponHold(theirs.id, alice, other, 2000, now)]
    late = [CouponHold(theirs.id, mallory, other, 2000, theirs.valid_until)]
    for wrong in (stolen, late):
        refused = await take(runtime, HotTake(store, coupons=wrong, stock=[(a, 1)]))
        assert refused == HotTaken(unheld=theirs.id)
    assert await coupon_state(theirs.id) == (CouponStatus.AVAILABLE, None, 0)
    assert await reserved(runtime, store, a) == 1

    # The counter went on only for the order that got everything.
    assert await take(runtime, HotTake(store, stock=[(a, 1)], pickup=(other, day))) == HotTaken(
        pickup_sequence=2
    )


async def test_the_statement_numbers_pickups_as_the_domain_does(runtime: Runtime) -> None:
    if not is_postgres(runtime.settings.database_url):
        pytest.skip("the pickup number is written in SQL on PostgreSQL only")
    last = PICKUP_SERIES_SIZE * len(PICKUP_SERIES)
    sequences = [1, 9, 10, 99, 100, 999, 1000, 1998, 1999, 12345, last, last + 1, last + 99]
    for sequence in sequences:
        [row] = await sql.fetch(f"SELECT {pickup_number_sql('$1::int')} AS n", sequence)
        assert row["n"] == pickup_number(sequence), sequence
