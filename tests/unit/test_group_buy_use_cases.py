"""Group-buy use cases over the fakes (domain/growth/group_buys.py): seats are orders at the
group price taken in the order's transaction, a full group refuses before any order exists, a
paid order waits for its group, the last payment completes it, and a group past its time
fails with every order cancelled (the paid one refunded)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.errors import GrowthError, GrowthErrorCode, OrderError, OrderErrorCode
from domain.growth.deps import GroupBuyDeps
from domain.growth.group_buys import (
    CampaignTerms,
    Where,
    create_campaign,
    fail_expired_groups,
    join_group,
    open_group,
    register_handlers,
)
from domain.growth.group_buys_model import GroupBuyCampaign, GroupStatus, SeatStatus
from domain.identity.model import Principal, PrincipalKind, StaffRole
from domain.ids import new_id
from domain.locations.model import Location
from domain.ordering.lifecycle import start_preparing
from domain.ordering.model import OrderStatus, PaymentKind
from domain.ordering.payments import record_in_store_payment
from tests.fakes.deps import ordering_deps
from tests.fakes.shop import FakeShop

ADMIN = Principal(kind=PrincipalKind.STAFF, id=new_id(), role=StaffRole.ADMIN)


@pytest.fixture
def shop() -> FakeShop:
    return FakeShop()


@pytest.fixture
def store(shop: FakeShop) -> Location:
    return shop.store("SH-A", 31.2304, 121.4737)


@pytest.fixture
def deps(shop: FakeShop) -> GroupBuyDeps:
    ordering = ordering_deps(shop.db, shop.clock)
    found = GroupBuyDeps(uow=shop.db, clock=shop.clock, ordering=ordering, live=ordering.live)
    register_handlers(found)
    return found


async def campaign_of(
    shop: FakeShop, deps: GroupBuyDeps, store: Location, size: int = 2
) -> GroupBuyCampaign:
    peach = shop.variant("P-2", 5900)
    shop.stock(store, peach, 10)
    now = shop.clock.now()
    return await create_campaign(
        deps,
        ADMIN,
        CampaignTerms(
            peach.id,
            3900,
            size,
            timedelta(minutes=30),
            1,
            now,
            now + timedelta(days=1),
            20,
            (store.id,),
        ),
        None,
    )


async def test_a_full_group_refuses_before_any_order_and_the_last_payment_completes_it(
    shop: FakeShop, deps: GroupBuyDeps, store: Location
) -> None:
    campaign = await campaign_of(shop, deps, store, size=2)
    leader, second, late = shop.member("张三"), shop.member("李四"), shop.member("王五")
    group, first = await open_group(deps, leader, campaign.id, Where(store.id))
    _, other = await join_group(deps, second, group.id, Where(store.id))
    assert [line.unit_price for line in first.lines + other.lines] == [3900, 3900]
    orders_before = dict(shop.db.tables.orders)

    with pytest.raises(GrowthError) as refused:
        await join_group(deps, late, group.id, Where(store.id))
    assert refused.value.code is GrowthErrorCode.GROUP_FULL
    assert shop.db.tables.orders == orders_before

    staff = shop.staff(store)
    await record_in_store_payment(deps.ordering, staff, first.id, "CASH", first.amount_due)
    with pytest.raises(OrderError) as held:
        await start_preparing(deps.ordering, staff, first.id)
    assert held.value.code is OrderErrorCode.ILLEGAL_TRANSITION
    await record_in_store_payment(deps.ordering, staff, other.id, "CASH", other.amount_due)
    found = await deps.uow().group_buys.get_group(group.id)
    assert found is not None and (found.status, found.paid) == (GroupStatus.COMPLETED, 2)
    assert [s.label for s in found.seats] == ["张**", "李**"]
    assert (await start_preparing(deps.ordering, staff, first.id)).status is OrderStatus.PREPARING


async def test_a_group_past_its_time_fails_and_its_orders_are_cancelled_and_refunded(
    shop: FakeShop, deps: GroupBuyDeps, store: Location
) -> None:
    campaign = await campaign_of(shop, deps, store, size=3)
    leader, unpaid = shop.member("张三"), shop.member("李四")
    group, paid_order = await open_group(deps, leader, campaign.id, Where(store.id))
    _, unpaid_order = await join_group(deps, unpaid, group.id, Where(store.id))
    staff = shop.staff(store)
    await record_in_store_payment(deps.ordering, staff, paid_order.id, "CASH", 3900)

    shop.clock.advance(timedelta(minutes=31))
    assert await fail_expired_groups(deps) == 1 + 2  # the group, then both its orders
    found = await deps.uow().group_buys.get_group(group.id)
    assert found is not None and found.status is GroupStatus.FAILED
    assert [s.status for s in found.seats] == [SeatStatus.CANCELLED] * 2
    orders = shop.db.tables.orders
    assert orders[paid_order.id].status is OrderStatus.CANCELLED
    assert orders[unpaid_order.id].status is OrderStatus.CANCELLED
    refunds = [
        p
        for p in shop.db.tables.payments.values()
        if p.order_id == paid_order.id and p.kind is PaymentKind.REFUND
    ]
    assert [p.amount for p in refunds] == [3900]
    assert shop.db.tables.group_buy_campaigns[campaign.id].units_taken == 0
    assert await fail_expired_groups(deps) == 0


async def test_a_payment_after_the_time_limit_does_not_complete_the_group_and_is_refunded(
    shop: FakeShop, deps: GroupBuyDeps, store: Location
) -> None:
    campaign = await campaign_of(shop, deps, store, size=2)
    leader, last = shop.member("张三"), shop.member("李四")
    group, first = await open_group(deps, leader, campaign.id, Where(store.id))
    _, second = await join_group(deps, last, group.id, Where(store.id))
    staff = shop.staff(store)
    await record_in_store_payment(deps.ordering, staff, first.id, "CASH", 3900)

    shop.clock.advance(timedelta(minutes=31))  # past the group's end, before the job runs
    await record_in_store_payment(deps.ordering, staff, second.id, "CASH", 3900)
    found = await deps.uow().group_buys.get_group(group.id)
    assert found is not None and (found.status, found.paid) == (GroupStatus.OPEN, 1)

    assert await fail_expired_groups(deps) == 1 + 2
    orders = shop.db.tables.orders
    assert {orders[o.id].status for o in (first, second)} == {OrderStatus.CANCELLED}
    refunded = {
        p.order_id for p in shop.db.tables.payments.values() if p.kind is PaymentKind.REFUND
    }
    assert refunded == {first.id, second.id}
