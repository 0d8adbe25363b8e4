from __future__ import annotations

from datetime import timedelta
from typing import Any

from domain.catalog.services import ProductDraft, VariantDraft, create_product
from domain.identity.model import Principal, PrincipalKind, StaffRole
from domain.ids import new_id
from domain.inventory.model import MovementKind, StockLine
from domain.inventory.stock import Adjustment, adjust
from domain.members.login import login_with_wechat
from domain.pagination import PageRequest
from domain.subscriptions import plans, renewals, services
from domain.subscriptions.model import Interval, IntervalUnit, SubscriptionStatus
from infra.runtime import Runtime
from tests.support import MovableClock


async def test_weekly_renewals_make_one_order_each(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any]
) -> None:
    admin = Principal(kind=PrincipalKind.STAFF, id=new_id(), role=StaffRole.ADMIN)
    product = await create_product(
        runtime.catalog,
        ProductDraft(
            name="Fruit box", variants=[VariantDraft(code="FB-1", name="box", price=5000)]
        ),
    )
    variant = (await runtime.repos.catalog.variants_of([product.id]))[0]
    await adjust(
        runtime.inventory,
        admin,
        Adjustment(stores["SH-A"].id, variant.id, 100, MovementKind.RECEIPT, "in"),
        None,
    )
    member, _, _ = await login_with_wechat(runtime.members, "wx-demo", "test:sub-1")
    me = Principal(kind=PrincipalKind.MEMBER, id=member.id)
    plan = await plans.create_plan(
        runtime.subscriptions, "Weekly fruit", [variant.id], Interval(IntervalUnit.WEEK, 1), 10, 0
    )
    first = clock.today() + timedelta(days=5)
    sub = await services.create_subscription(
        runtime.subscriptions,
        me,
        services.SignUp(
            plan.id,
            [StockLine(variant.id, 2)],
            first,
            pickup_location_id=stores["SH-A"].id,
            payment_agreement="agreement-1",
        ),
        "signup-1",
    )
    assert sub.lines[0].unit_price == 4500  # locked, with the plan discount
    for _week in range(4):
        clock.advance(timedelta(days=7))
        await renewals.renew_due(runtime.subscriptions)
        await renewals.renew_due(runtime.subscriptions)  # a second worker run: no second order
    cycles = await runtime.repos.subscriptions.cycles_of([sub.id])
    assert [c.number for c in cycles] == [1, 2, 3, 4]
    assert {c.status.value for c in cycles} == {"PAID"}
    orders = await runtime.repos.orders.search(PageRequest(first=50), member_id=member.id)
    assert len(orders.items) == 4
    assert all(o.total == 9000 for o in orders.items)
    after = await runtime.repos.subscriptions.get(sub.id)
    assert after is not None and after.status is SubscriptionStatus.ACTIVE
    assert after.next_date == first + timedelta(weeks=4)


async def test_pause_until_a_date_resumes_by_itself(
    runtime: Runtime, clock: MovableClock, stores: dict[str, Any]
) -> None:
    product = await create_product(
        runtime.catalog,
        ProductDraft(name="Milk", variants=[VariantDraft(code="MK-1", name="1L", price=1200)]),
    )
    variant = (await runtime.repos.catalog.variants_of([product.id]))[0]
    member, _, _ = await login_with_wechat(runtime.members, "wx-demo", "test:sub-pause")
    me = Principal(kind=PrincipalKind.MEMBER, id=member.id)
    plan = await plans.create_plan(
        runtime.subscriptions, "Weekly milk", [variant.id], Interval(IntervalUnit.WEEK, 1), 0, 0
    )
    first = clock.today() + timedelta(days=5)
    sub = await services.create_subscription(
        runtime.subscriptions,
        me,
        services.SignUp(
            plan.id,
            [StockLine(variant.id, 1)],
            first,
            pickup_location_id=stores["SH-A"].id,
            payment_agreement="agreement-2",
        ),
        None,
    )
    until = first + timedelta(days=10)
    await services.pause(runtime.subscriptions, me, sub.id, until)
    clock.advance(timedelta(days=8))
    assert await services.resume_paused_until_due(runtime.subscriptions) == 0  # not yet
    clock.advance(timedelta(days=8))
    assert await services.resume_paused_until_due(runtime.subscriptions) == 1
    assert await services.resume_paused_until_due(runtime.subscriptions) == 0  # once
    after = await runtime.repos.subscriptions.get(sub.id)
    assert after is not None and after.status is SubscriptionStatus.ACTIVE
    assert after.paused_until is None
    assert after.next_date > clock.today()
    assert (after.next_date - first).days % 7 == 0  # still on the weekly schedule
