"""The frequency cap under concurrency (PostgreSQL): runs at once that act for the same member
through different automations take turns on the member's automation row, so each counts the
messages the other wrote before writing its own, and the cap holds across processes."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import pytest

from domain.catalog.model import Variant
from domain.engagement.automations_run import run_due
from domain.engagement.automations_triggers import scan_candidates
from domain.engagement.deps import AutomationPolicy
from infra.runtime import Runtime
from tests.support import MovableClock
from tests.support.api import Api, relogin
from tests.support.automations import consent, create, detail, messages, run
from tests.support.orders import lid, make_variants, order_input, pay_online, placed, receive
from tests.support.shoppers import Shopper, shopper

pytestmark = pytest.mark.usefixtures("store_morning")
CAP = {"messages": 1, "days": 7}


async def _quiet_members(
    client: httpx.AsyncClient,
    api: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    clock: MovableClock,
    count: int,
) -> list[Shopper]:
    """`count` consenting members whose only paid order is 8 days old."""
    [mango] = await make_variants(runtime, ("MANGO", "1kg", 3000))
    await receive(runtime, stores["SH-A"].id, mango, 50)
    members = [await shopper(api, f"cap-{n}") for n in range(count)]
    for who in members:
        await consent(who)
        await _paid(client, runtime, who, stores, mango)
    clock.put(clock.today() + timedelta(days=8), hour=10)
    return members


async def _paid(
    client: httpx.AsyncClient, runtime: Runtime, who: Shopper, stores: dict[str, Any], v: Variant
) -> None:
    order = await placed(who.api, order_input([(v, 1)], pickup=lid(stores, "SH-A")))
    await pay_online(client, runtime, who, order)


async def _two_automations(api: Api) -> list[dict[str, Any]]:
    admin = await relogin(api, "admin")
    return [
        await create(
            admin,
            name=name,
            trigger={"kind": "NO_ORDER_FOR_DAYS", "days": 7},
            action={"kind": "SEND_MESSAGE", "channel": "WECHAT", "text": text},
            frequencyCap=CAP,
        )
        for name, text in (("回访", "好久不见"), ("唤醒", "回来看看"))
    ]


async def _outcomes(api: Api, made: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Each member's send outcomes across the automations, sorted."""
    admin = await relogin(api, "admin")
    found: dict[str, list[str]] = {}
    for automation in made:
        for send in (await detail(admin, automation))["sends"]["nodes"]:
            found.setdefault(send["memberId"], []).append(send["outcome"])
    return {member: sorted(outcomes) for member, outcomes in found.items()}


@pytest.mark.usefixtures("postgres")
async def test_runs_at_once_for_two_automations_keep_the_cap_of_one_message_per_member(
    client: httpx.AsyncClient,
    api: Api,
    admin: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    clock: MovableClock,
) -> None:
    members = await _quiet_members(client, api, runtime, stores, clock, 3)
    made = await _two_automations(api)
    await scan_candidates(runtime.automations)
    # A send per transaction: the runs take the sends of one member for both automations at
    # the same time, each in its own transaction on its own connection.
    one_each = replace(runtime.automations, policy=AutomationPolicy(batch=1))
    await asyncio.gather(*(run_due(one_each) for _ in range(2 * len(members))))
    assert await _outcomes(api, made) == {m.id: ["BLOCKED_CAP", "DONE"] for m in members}
    for who in members:
        assert len(await messages(who)) == 1


@pytest.mark.usefixtures("postgres")
async def test_whole_job_runs_at_once_keep_the_cap_and_send_once_per_period(
    client: httpx.AsyncClient,
    api: Api,
    admin: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    clock: MovableClock,
) -> None:
    members = await _quiet_members(client, api, runtime, stores, clock, 3)
    made = await _two_automations(api)
    await asyncio.gather(run(runtime), run(runtime))
    await asyncio.gather(run(runtime), run(runtime))  # the period is taken: nothing more
    assert await _outcomes(api, made) == {m.id: ["BLOCKED_CAP", "DONE"] for m in members}
    for who in members:
        assert len(await messages(who)) == 1
