"""Group-buys raced on PostgreSQL (issue 18): each join is its own checkout transaction on its
own pooled connection, so they overlap for real and only the conditional update of the group's
seat counter decides. A group never holds more seats than its size, whatever the crowd, and
concurrent payments complete it exactly once with exactly its size paid. (SQLite serialises
writers: the API tests cover it there.)"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.errors import DomainError
from domain.growth.group_buys import (
    CampaignTerms,
    Where,
    create_campaign,
    fail_expired_groups,
    join_group,
    open_group,
)
from domain.growth.group_buys_model import Group, GroupBuyCampaign, GroupStatus, SeatStatus
from domain.identity.model import Principal
from domain.ordering.lifecycle import cancel_order
from domain.ordering.model import Order, OrderStatus, PaymentKind
from domain.ordering.payments import record_in_store_payment
from infra.runtime import Runtime
from tests.support import is_postgres
from tests.support.racing import ADMIN, a_variant, members, receive


@pytest.fixture(autouse=True)
def postgres_only(runtime: Runtime) -> None:
    if not is_postgres(runtime.settings.database_url):
        pytest.skip("concurrency is decided by PostgreSQL's row locks")


async def a_campaign(runtime: Runtime, variant: UUID, store: UUID, size: int) -> GroupBuyCampaign:
    now = runtime.clock.now()
    return await create_campaign(
        runtime.group_buys,
        ADMIN,
        CampaignTerms(
            variant_id=variant,
            price=990,
            group_size=size,
            time_limit=timedelta(hours=24),
            per_member_limit=1,
            starts_at=now,
            ends_at=now + timedelta(days=1),
            units_offered=10_000,
            location_ids=(store,),
        ),
        None,
    )


async def try_join(runtime: Runtime, member: Principal, group: UUID, store: UUID) -> Any:
    try:
        return await join_group(runtime.group_buys, member, group, Where(store))
    except DomainError as error:
        return error


async def try_pay(runtime: Runtime, order: Order) -> Any:
    try:
        return await record_in_store_payment(
            runtime.ordering, ADMIN, order.id, "CASH", order.amount_due
        )
    except DomainError as error:
        return error


def outcome(results: list[Any]) -> Counter[str]:
    return Counter("SEAT" if isinstance(r, tuple) else str(r.code) for r in results)


async def group_now(runtime: Runtime, group: UUID) -> Group:
    found = await runtime.repos.group_buys.get_group(group)
    assert found is not None
    return found


async def test_fifty_concurrent_joins_of_a_group_of_five_take_exactly_its_seats(
    runtime: Runtime, stores: dict[str, Any]
) -> None:
    store = stores["SH-A"].id
    variant = await a_variant(runtime)
    await receive(runtime, store, variant, 200)
    campaign = await a_campaign(runtime, variant, store, size=5)
    [leader] = await members(runtime, 1, "leader")
    crowd = await members(runtime, 50)
    group, first = await open_group(runtime.group_buys, leader, campaign.id, Where(store))

    results = await asyncio.gather(*(try_join(runtime, m, group.id, store) for m in crowd))

    assert outcome(results) == {"SEAT": 4, "GROUP_FULL": 46}
    found = await group_now(runtime, group.id)
    assert (found.seats_taken, len(found.seats)) == (5, 5)
    level = await runtime.repos.inventory.level(store, variant)
    assert level is not None and level.reserved == 5  # refused joins reserved nothing

    orders = [first] + [r[1] for r in results if isinstance(r, tuple)]
    paid = await asyncio.gather(*(try_pay(runtime, o) for o in orders))
    assert all(isinstance(p, Order) for p in paid), paid
    found = await group_now(runtime, group.id)
    assert (found.status, found.paid) == (GroupStatus.COMPLETED, 5)
    assert [s.status for s in found.seats] == [SeatStatus.PAID] * 5


async def test_a_thousand_concurrent_joins_across_two_hundred_groups_fill_each_and_none_over(
    runtime: Runtime, stores: dict[str, Any]
) -> None:
    store = stores["SH-A"].id
    variant = await a_variant(runtime)
    await receive(runtime, store, variant, 2000)
    campaign = await a_campaign(runtime, variant, store, size=5)
    leaders = await members(runtime, 200, "leader")
    opened = await asyncio.gather(
        *(open_group(runtime.group_buys, m, campaign.id, Where(store)) for m in leaders)
    )
    groups = [group for group, _ in opened]
    crowd = await members(runtime, 1000)  # five for each group's four free seats

    # The five of a group start side by side, so they race for its last seat for real.
    results = await asyncio.gather(
        *(try_join(runtime, m, groups[n // 5].id, store) for n, m in enumerate(crowd))
    )

    assert outcome(results) == {"SEAT": 800, "GROUP_FULL": 200}
    for group in groups:
        found = await group_now(runtime, group.id)
        assert (found.status, found.seats_taken, len(found.seats)) == (GroupStatus.OPEN, 5, 5)
    level = await runtime.repos.inventory.level(store, variant)
    assert level is not None and level.reserved == 1000

    orders = [first for _, first in opened] + [r[1] for r in results if isinstance(r, tuple)]
    paid = await asyncio.gather(*(try_pay(runtime, o) for o in orders))
    assert all(isinstance(p, Order) for p in paid), [p for p in paid if not isinstance(p, Order)]
    for group in groups:
        found = await group_now(runtime, group.id)
        assert (found.status, found.paid, found.seats_taken) == (GroupStatus.COMPLETED, 5, 5)


async def test_cancellations_racing_new_joiners_never_put_a_group_over_its_size(
    runtime: Runtime, stores: dict[str, Any]
) -> None:
    store = stores["SH-A"].id
    variant = await a_variant(runtime)
    await receive(runtime, store, variant, 200)
    campaign = await a_campaign(runtime, variant, store, size=5)
    [leader] = await members(runtime, 1, "leader")
    first, crowd = await members(runtime, 3, "first"), await members(runtime, 20, "late")
    group, _ = await open_group(runtime.group_buys, leader, campaign.id, Where(store))
    seated = [await join_group(runtime.group_buys, m, group.id, Where(store)) for m in first]

    async def leave(member: Principal, order: Order) -> Any:
        try:
            return await cancel_order(runtime.ordering, member, order.id, "changed my mind")
        except DomainError as error:
            return error

    results = await asyncio.gather(
        *(leave(m, order) for m, (_, order) in zip(first[:2], seated, strict=False)),
        *(try_join(runtime, m, group.id, store) for m in crowd),
    )

    assert all(isinstance(r, Order) for r in results[:2]), results[:2]
    joined = outcome(results[2:])["SEAT"]
    assert 1 <= joined <= 3  # one seat was free; two more came free while they raced
    found = await group_now(runtime, group.id)
    assert found.seats_taken == len(found.seats) == 2 + joined <= 5
    level = await runtime.repos.inventory.level(store, variant)
    assert level is not None and level.reserved == found.seats_taken


async def test_a_payment_racing_the_failure_of_its_group_is_refunded_with_the_others(
    runtime: Runtime, stores: dict[str, Any]
) -> None:
    store = stores["SH-A"].id
    variant = await a_variant(runtime)
    await receive(runtime, store, variant, 50)
    campaign = await a_campaign(runtime, variant, store, size=5)
    [leader] = await members(runtime, 1, "leader")
    others = await members(runtime, 4)
    group, first = await open_group(runtime.group_buys, leader, campaign.id, Where(store))
    orders = [first] + [
        (await join_group(runtime.group_buys, m, group.id, Where(store)))[1] for m in others
    ]
    for order in orders[:4]:
        assert isinstance(await try_pay(runtime, order), Order)

    runtime.clock.advance(timedelta(hours=24, seconds=1))  # type: ignore[attr-defined]
    await asyncio.gather(try_pay(runtime, orders[4]), fail_expired_groups(runtime.group_buys))
    await fail_expired_groups(runtime.group_buys)  # an order locked by its payment waits a run

    found = await group_now(runtime, group.id)
    assert (found.status, found.paid) == (GroupStatus.FAILED, 4)
    for order in orders:
        now = await runtime.repos.orders.get(order.id)
        assert now is not None and now.status is OrderStatus.CANCELLED
    payments = await runtime.repos.orders.payments_of([o.id for o in orders])
    paid = {p.order_id for p in payments if p.kind is PaymentKind.PAYMENT}
    refunded = {p.order_id for p in payments if p.kind is PaymentKind.REFUND}
    assert refunded == paid and len(paid) >= 4
