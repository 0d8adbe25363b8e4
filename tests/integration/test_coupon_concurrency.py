"""Coupon claims and holds racing each other on a real database.

On PostgreSQL every racer runs its own transaction on its own pooled connection: the
conditional update of the template's `issued` counter (which locks its row) and the unique
(template, member, slot) key decide. SQLite serialises writers; the outcomes hold there too."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any
from uuid import UUID

from domain.errors import PromotionError
from domain.ids import new_id
from domain.promotions.coupons import claim_coupon
from domain.promotions.coupons_checkout import hold_in_uow
from domain.promotions.coupons_model import CartLine, CouponCart, CouponStatus
from infra.db.models.coupons import CouponRow, CouponTemplateRow
from infra.runtime import Runtime
from tests.support.coupons import member, template
from tests.support.points import new_member


def outcomes(results: list[Any]) -> Counter[str]:
    seen: Counter[str] = Counter()
    for result in results:
        if isinstance(result, PromotionError):
            seen[result.code.value] += 1
        elif isinstance(result, BaseException):
            raise result
        else:
            seen[type(result).__name__] += 1
    return seen


async def members(runtime: Runtime, count: int, prefix: str) -> list[UUID]:
    return list(await asyncio.gather(*(new_member(runtime, f"{prefix}-{n}") for n in range(count))))


async def test_five_hundred_claims_of_a_hundred_coupons_issue_a_hundred(
    runtime: Runtime,
) -> None:
    offered = await template(runtime, total_quantity=100)
    people = await members(runtime, 500, "claim")

    results = await asyncio.gather(
        *(claim_coupon(runtime.coupons, member(m), offered.id) for m in people),
        return_exceptions=True,
    )

    assert outcomes(results) == {"tuple": 100, "TEMPLATE_SOLD_OUT": 400}
    assert await CouponRow.filter(template_id=offered.id).count() == 100
    row = await CouponTemplateRow.get(id=offered.id)
    assert row.issued == 100
    winners = {r[0].member_id for r in results if isinstance(r, tuple)}
    assert len(winners) == 100  # one each


async def test_a_member_racing_themselves_gets_no_more_than_the_limit(runtime: Runtime) -> None:
    offered = await template(runtime, total_quantity=1000, per_member_limit=2)
    people = await members(runtime, 10, "greedy")

    results = await asyncio.gather(
        *(claim_coupon(runtime.coupons, member(m), offered.id) for m in people for _ in range(5)),
        return_exceptions=True,
    )

    assert outcomes(results) == {"tuple": 20, "COUPON_LIMIT_REACHED": 30}
    for m in people:
        slots = await CouponRow.filter(template_id=offered.id, member_id=m).values_list(
            "slot", flat=True
        )
        assert sorted(slots) == [1, 2]
    assert (
        await CouponTemplateRow.get(id=offered.id)
    ).issued == 20  # the losers' counts rolled back


async def test_two_orders_holding_one_coupon_one_wins(runtime: Runtime) -> None:
    offered = await template(runtime)
    alice = (await members(runtime, 1, "holder"))[0]
    coupon, _ = await claim_coupon(runtime.coupons, member(alice), offered.id)
    cart = CouponCart([CartLine(new_id(), new_id(), None, 1, 12000)], "MINI_PROGRAM")
    orders = [new_id() for _ in range(8)]

    async def place(order_id: UUID) -> Any:
        async with runtime.unit_of_work() as uow:
            return await hold_in_uow(runtime.coupons, uow, alice, [coupon.id], order_id, cart)

    results = await asyncio.gather(*(place(o) for o in orders), return_exceptions=True)

    assert outcomes(results) == {"list": 1, "COUPON_UNAVAILABLE": 7}
    row = await CouponRow.get(id=coupon.id)
    assert row.status == CouponStatus.HELD
    winner = next(o for o, r in zip(orders, results, strict=True) if isinstance(r, list))
    assert row.order_id == winner
