"""The member-facts rebuild resumes across the job's runs (engagement, issue 19 "Scale"), on
PostgreSQL and SQLite: a cycle cut after one batch leaves the RFM scores and automatic tags as
they were, the next call goes on from the cursor with the cycle's own cutoffs and ends with the
rows a whole rebuild gives; the job's call starts no new cycle within 20 h of the last one's
start and does after; a call without a budget rebuilds at once; the scoring after the last
batch waits for a call with budget left; two budgeted calls at once share the batches."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any

import httpx
import pytest

from domain.catalog.model import Variant
from domain.engagement.deps import FactsDeps
from domain.engagement.facts import rebuild_member_facts
from domain.engagement.facts_model import RebuildBudget
from infra.db.models.facts import FactsRebuildRow, MemberFactsRow
from infra.db.models.members import MemberRow
from infra.db.models.tags import MemberTagRow
from infra.jobs import find_job, run_job
from infra.repositories.facts import FACT_COLUMNS, RFM_FIELDS
from infra.runtime import Runtime
from tests.support.api import Api
from tests.support.clock import MovableClock
from tests.support.orders import lid, make_variants, order_input, pay_online, placed, receive
from tests.support.shoppers import shopper

ONE_STEP = RebuildBudget(seconds=None, max_steps=1)
UNBOUNDED = RebuildBudget(seconds=None)  # the job's call, never cut
CREATE = """mutation($i: CreateTagInput!) { createTag(input: $i) { errors { code } } }"""


@pytest.fixture
async def world(
    api: Api, client: httpx.AsyncClient, runtime: Runtime, stores: dict[str, Any]
) -> list[str]:
    """Five members: four who paid 1, 1, 2 and 3 orders, one who never ordered."""
    [mango] = await make_variants(runtime, ("MANGO", "1kg", 3000))
    await receive(runtime, stores["SH-A"].id, mango, 60)
    ids = []
    for n, orders in enumerate((1, 1, 2, 3, 0)):
        who = await shopper(api, f"rebuild-{n}")
        for _ in range(orders):
            await _paid(client, runtime, who, stores, mango)
        ids.append(who.id)
    return ids


async def _paid(
    client: httpx.AsyncClient, runtime: Runtime, who: Any, stores: dict[str, Any], v: Variant
) -> None:
    order = await placed(who.api, order_input([(v, 1)], pickup=lid(stores, "SH-A")))
    await pay_online(client, runtime, who, order)


def _small(runtime: Runtime) -> FactsDeps:
    return dataclasses.replace(runtime.member_facts, batch_size=2)


async def _rows() -> dict[Any, tuple[Any, ...]]:
    """Every row's facts and RFM, without `updated_at` (a whole rebuild's is its own start)."""
    columns = [c for c in FACT_COLUMNS if c != "updated_at"] + list(RFM_FIELDS)
    return {r.member_id: tuple(getattr(r, c) for c in columns) for r in await MemberFactsRow.all()}


async def _tagged() -> set[Any]:
    return set(await MemberTagRow.all().values_list("member_id", flat=True))


async def _cycle() -> FactsRebuildRow:
    return await FactsRebuildRow.get(name="member_facts")


async def test_a_cut_cycle_resumes_from_its_cursor_and_ends_as_a_whole_rebuild(
    world: list[str], runtime: Runtime, clock: MovableClock, admin: Api
) -> None:
    made = await admin.data(
        CREATE, {"i": {"name": "Regular", "kind": "AUTOMATIC", "rule": "orders_365 >= 2"}}
    )
    assert made["createTag"]["errors"] == [], made
    members = await MemberRow.filter(status="ACTIVE").order_by("id").values_list("id", flat=True)
    assert len(members) == 5
    before = await _rows()  # the events' rows, never scored
    assert before and all(row[-4:] == (None,) * 4 for row in before.values())

    cut = await rebuild_member_facts(_small(runtime), ONE_STEP)
    assert (cut.members, cut.scored, cut.finished) == (2, 0, False)
    cycle = await _cycle()
    assert cycle.cursor == members[1] and cycle.finished_at is None
    assert all(row[-4:] == (None,) * 4 for row in (await _rows()).values())  # nothing scored
    assert await _tagged() == set()  # no automatic tag applied yet

    clock.advance(timedelta(minutes=10))  # the job's next run
    resumed = await rebuild_member_facts(_small(runtime), UNBOUNDED)
    assert (resumed.members, resumed.scored, resumed.finished) == (3, 4, True)
    finished = await _cycle()
    assert finished.started_at == cycle.started_at and finished.finished_at is not None
    assert finished.cursor == members[-1]
    # Every batch of the cycle, both runs', took its cutoffs at the cycle's start.
    stamps = set(await MemberFactsRow.all().values_list("updated_at", flat=True))
    assert stamps == {cycle.started_at}
    resumed_rows, resumed_tags = await _rows(), await _tagged()
    assert len(resumed_tags) == 2  # the members with 2 and 3 orders

    whole = await rebuild_member_facts(runtime.member_facts)
    assert (whole.members, whole.scored, whole.finished) == (5, 4, True)
    assert await _rows() == resumed_rows and await _tagged() == resumed_tags


async def test_the_scoring_waits_for_a_call_with_budget_left_after_the_last_batch(
    world: list[str], runtime: Runtime
) -> None:
    batches = await rebuild_member_facts(_small(runtime), RebuildBudget(None, max_steps=3))
    assert (batches.members, batches.finished) == (5, False)  # every batch, not scored
    assert all(row[-4:] == (None,) * 4 for row in (await _rows()).values())
    assert (await _cycle()).finished_at is None
    scoring = await rebuild_member_facts(_small(runtime), ONE_STEP)
    assert (scoring.members, scoring.scored, scoring.finished) == (0, 4, True)
    assert (await _cycle()).finished_at is not None
    scored = await _rows()
    await rebuild_member_facts(runtime.member_facts)
    assert await _rows() == scored


async def test_the_job_starts_a_cycle_20_hours_after_the_last_began_and_a_forced_call_at_once(
    world: list[str], runtime: Runtime, clock: MovableClock
) -> None:
    job = find_job("rebuild_member_facts")
    assert job is not None and job.every_seconds == 600
    forced = await rebuild_member_facts(runtime.member_facts)
    assert (forced.members, forced.finished) == (5, True)
    first = await _cycle()

    assert await run_job(runtime, job) == 0  # finished and not due: nothing
    clock.advance(timedelta(hours=19, minutes=50))
    assert await run_job(runtime, job) == 0
    assert (await _cycle()).started_at == first.started_at

    clock.advance(timedelta(minutes=10))  # 20 h since the last cycle began
    assert await run_job(runtime, job) == 5
    second = await _cycle()
    assert second.started_at > first.started_at and second.finished_at is not None
    assert await run_job(runtime, job) == 0

    clock.advance(timedelta(minutes=10))
    again = await rebuild_member_facts(runtime.member_facts)  # no budget: at once, whole
    assert (again.members, again.finished) == (5, True)
    assert (await _cycle()).started_at > second.started_at


async def test_two_budgeted_calls_at_once_share_the_batches(
    world: list[str], runtime: Runtime
) -> None:
    deps = dataclasses.replace(runtime.member_facts, batch_size=1)
    first, second = await asyncio.gather(
        rebuild_member_facts(deps, UNBOUNDED), rebuild_member_facts(deps, UNBOUNDED)
    )
    assert first.members + second.members == 5  # no batch refreshed twice
    assert first.finished and second.finished
    shared = await _rows()
    await rebuild_member_facts(runtime.member_facts)
    assert await _rows() == shared
