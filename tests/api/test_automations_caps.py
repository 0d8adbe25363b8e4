"""The frequency cap under concurrency (PostgreSQL): runs at once that act for the same member
through different automations take turns on the member's automation row, so each counts the
messages the other wrote before writing its own, and the cap holds across processes. And, on
both databases, a run's batch read and written in constant statements, the cap of whom a
merged member's send reaches, and the scans' sweeps resuming across runs, in turns."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import pytest

from domain.catalog.model import Variant
from domain.engagement.automations_run import run_automations, run_due
from domain.engagement.automations_triggers import scan_candidates
from domain.engagement.deps import AutomationPolicy
from domain.members.merge import merge_members
from infra.db.models.automations import AutomationScanRow
from infra.runtime import Runtime
from tests.support import MovableClock, count_sql
from tests.support.api import Api, relogin
from tests.support.automations import consent, create, detail, messages, run
from tests.support.orders import (
    ROOT,
    lid,
    make_variants,
    order_input,
    pay_online,
    placed,
    receive,
)
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
    prefix: str = "cap",
    without_consent: int = 0,
) -> list[Shopper]:
    """`count` members whose only paid order is 8 days old, consenting but the last
    `without_consent`."""
    [mango] = await make_variants(runtime, (f"MANGO-{prefix.upper()}", "1kg", 3000))
    await receive(runtime, stores["SH-A"].id, mango, 50)
    members = [await shopper(api, f"{prefix}-{n}") for n in range(count)]
    for n, who in enumerate(members):
        if n < count - without_consent:
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


async def test_a_run_reads_and_writes_a_batch_in_statements_constant_in_its_size(
    client: httpx.AsyncClient,
    api: Api,
    admin: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    clock: MovableClock,
) -> None:
    """The scan writes a batch's sends in one statement; a run reads the batch's members,
    facts, stores and consents once and writes its messages and sends together: 2 members or
    6 (one without consent), the same statements."""

    async def statements(count: int) -> tuple[int, int]:
        members = await _quiet_members(
            client, api, runtime, stores, clock, count, f"batch{count}", without_consent=1
        )
        with count_sql() as scanned:
            assert await scan_candidates(runtime.automations) == count
        with count_sql() as acted:
            tally = await run_due(runtime.automations)
        assert tally.counts == {"DONE": count - 1, "BLOCKED_CONSENT": 1}
        for who in members:
            assert len(await messages(who)) == (0 if who is members[-1] else 1)
        return len(scanned), len(acted)

    await create(
        await relogin(api, "admin"),
        trigger={"kind": "NO_ORDER_FOR_DAYS", "days": 7},
        action={"kind": "SEND_MESSAGE", "channel": "WECHAT", "text": "好久不见"},
    )
    assert await statements(2) == await statements(6)


async def test_the_cap_counts_the_messages_of_whom_a_merged_members_send_reaches(
    client: httpx.AsyncClient,
    api: Api,
    admin: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    clock: MovableClock,
) -> None:
    """Two quiet members with sends of the same periods merge: the absorbed one's sends
    stay under its id (the survivor has those periods) and reach the survivor, whose cap of
    one message counts what the survivor was sent, a send per run."""
    survivor, duplicate = await _quiet_members(client, api, runtime, stores, clock, 2)
    made = await _two_automations(api)
    assert await scan_candidates(runtime.automations) == 4
    await merge_members(runtime.members, ROOT, duplicate.key, survivor.key, "same person")
    one_each = replace(runtime.automations, policy=AutomationPolicy(batch=1, max_batches=1))
    for _ in range(4):
        await run_due(one_each)
    outcomes = await _outcomes(api, made)
    assert sorted(o for found in outcomes.values() for o in found) == [
        "BLOCKED_CAP",
        "BLOCKED_CAP",
        "BLOCKED_CAP",
        "DONE",
    ]
    assert set(outcomes) == {survivor.id, duplicate.id}  # the absorbed member's stayed its own
    assert len(await messages(survivor)) == 1 and await messages(duplicate) == []


async def test_a_sweep_resumes_across_runs_and_the_next_begins_when_it_ends(
    client: httpx.AsyncClient,
    api: Api,
    admin: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    clock: MovableClock,
) -> None:
    """A run scans at most its share (here one batch of two members): five quiet members
    take three runs, each going on from where the last stopped; the fourth begins a new
    sweep and finds every period taken. The due sends are acted on meanwhile."""
    members = await _quiet_members(client, api, runtime, stores, clock, 5, "sweep")
    made = await create(
        await relogin(api, "admin"),
        trigger={"kind": "NO_ORDER_FOR_DAYS", "days": 7},
        action={"kind": "SEND_MESSAGE", "channel": "WECHAT", "text": "好久不见"},
    )
    small = replace(runtime.automations, policy=AutomationPolicy(batch=2, max_batches=1))
    assert [await scan_candidates(small) for _ in range(3)] == [2, 2, 1]
    [scan] = await AutomationScanRow.all()
    assert scan.cursor is None  # the sweep is over
    assert await scan_candidates(small) == 0  # a new one: every period is taken
    [scan] = await AutomationScanRow.all()
    assert scan.cursor is not None
    while sum((await run_due(small)).counts.values()):
        pass
    assert await _outcomes(api, [made]) == {m.id: ["DONE"] for m in members}


async def test_the_automation_scanned_longest_ago_goes_first_and_a_spent_budget_scans_nothing(
    client: httpx.AsyncClient,
    api: Api,
    admin: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    clock: MovableClock,
) -> None:
    """One batch a run: the first run sweeps one automation, the second the other (not the
    first again), each whole; with no seconds to spend a run scans nothing."""
    members = await _quiet_members(client, api, runtime, stores, clock, 3, "turns")
    first, second = await _two_automations(api)
    none_left = replace(runtime.automations, policy=AutomationPolicy(scan_seconds=0))
    assert await scan_candidates(none_left) == 0
    one_batch = replace(runtime.automations, policy=AutomationPolicy(max_batches=1))
    assert await scan_candidates(one_batch) == 3
    assert len(await _outcomes(api, [first])) + len(await _outcomes(api, [second])) == 3
    assert await scan_candidates(one_batch) == 3
    ids = {m.id for m in members}
    assert set(await _outcomes(api, [first])) == set(await _outcomes(api, [second])) == ids


async def test_a_run_past_its_seconds_scans_but_begins_no_batch_of_due_sends(
    client: httpx.AsyncClient,
    api: Api,
    admin: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    clock: MovableClock,
) -> None:
    members = await _quiet_members(client, api, runtime, stores, clock, 2, "late")
    made = await create(
        await relogin(api, "admin"),
        trigger={"kind": "NO_ORDER_FOR_DAYS", "days": 7},
        action={"kind": "SEND_MESSAGE", "channel": "WECHAT", "text": "好久不见"},
    )
    spent = replace(runtime.automations, policy=AutomationPolicy(run_seconds=0))
    assert (await run_automations(spent)).counts == {}
    assert await _outcomes(api, [made]) == {m.id: ["PENDING"] for m in members}
    assert (await run_automations(runtime.automations)).counts == {"DONE": 2}
