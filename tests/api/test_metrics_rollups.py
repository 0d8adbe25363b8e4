"""Metrics from daily rollups (issue 19, "Numbers"): the job `roll_up_metrics` is idempotent
(run twice, the same rows) and incremental (a refund after a rollup changes its day's figures
only after the next run, and no other day's rows); ADMIN rebuilds a day on demand
(`rebuildMetricsDay`), no one else; a merge moves the absorbed member's orders to the
survivor at the next run; a year by day costs the statements a week does."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from domain.engagement.metrics_model import Scope
from domain.engagement.metrics_rollup import rebuild_range, roll_up_metrics
from infra.db import sql
from infra.repositories.metrics_rollups import TABLES
from infra.runtime import Runtime
from tests.support import MovableClock, count_sql
from tests.support.aftersales import approve, asked, line_ids, request_input
from tests.support.api import Api
from tests.support.metrics_world import Cast, Stopped, hand_over, paid_order, straightforward
from tests.support.orders import lid, make_variants, receive

PRICE = 2000
METRICS = """query($f: Date!, $t: Date!, $g: MetricsGranularity!, $s: ID) {
  metrics(from: $f, to: $t, granularity: $g, storeId: $s) {
    periods { firstDay orders gmv activeMembers handovers handoverMedianSeconds withAfterSale }
    total { orders gmv } } }"""
MEMBERS = """query($f: Date!, $t: Date!, $g: MetricsGranularity!) {
  metrics(from: $f, to: $t, granularity: $g) {
    total { newMembers activeMembers repeatMembers } } }"""
MERGE = """mutation($s: ID!, $t: ID!) { mergeMembers(input: {sourceMemberId: $s,
  targetMemberId: $t, reason: "same person"}) { errors { code } } }"""
REBUILD = """mutation($d: Date!) { rebuildMetricsDay(input: {day: $d}) {
  day errors { code field } } }"""


async def _rows() -> dict[str, list[tuple[Any, ...]]]:
    """Every rollup row but its surrogate id, sorted: what two runs must agree on."""
    found = {}
    for table in TABLES:
        rows = await sql.fetch(f"SELECT * FROM {table}")
        found[table] = sorted(
            tuple(str(v) for k, v in sorted(r.items()) if k != "id") for r in rows
        )
    return found


async def _per_day(caller: Api, first: date, last: date) -> list[dict[str, Any]]:
    variables = {"f": first.isoformat(), "t": last.isoformat(), "g": "DAY"}
    found: list[dict[str, Any]] = (await caller.data(METRICS, variables))["metrics"]["periods"]
    return found


@pytest.fixture
async def world(
    api: Api,
    client: httpx.AsyncClient,
    runtime: Runtime,
    clock: MovableClock,
    monkeypatch: pytest.MonkeyPatch,
    stores: dict[str, Any],
    admin: Api,
) -> tuple[Cast, date, dict[str, Any]]:
    """Ann buys at SH-A on d0 (handed over in 240 s) and bob on d1; the clock then at d2."""
    d0 = clock.today() - timedelta(days=5)
    cast = Cast(api, runtime, stores, Stopped(clock, monkeypatch))
    await cast.at(d0, 9)
    await cast.hire()
    [plum] = await make_variants(runtime, ("PLUM", "1kg", PRICE))
    await receive(runtime, stores["SH-A"].id, plum, 20)
    await cast.at(d0, 10)
    ann = await cast.member("ann")
    order = await paid_order(cast.api.client, runtime, ann, stores, [(plum, 1)], "SH-A")
    cast.stopped.at(d0, 10, 4)
    await hand_over(cast, "clerk-a", "ann", order, "SH-A")
    await cast.at(d0 + timedelta(days=1), 11)
    bob = await cast.member("bob")
    await paid_order(cast.api.client, runtime, bob, stores, [(plum, 2)], "SH-A")
    await cast.at(d0 + timedelta(days=2), 12)
    return cast, d0, order


async def test_the_job_is_idempotent_and_incremental(
    world: tuple[Cast, date, dict[str, Any]], runtime: Runtime
) -> None:
    cast, d0, order = world
    d1, d2 = d0 + timedelta(days=1), d0 + timedelta(days=2)
    admin = await cast.relogin("admin")
    assert [p["orders"] for p in await _per_day(admin, d0, d2)] == [0, 0, 0]  # nothing rolled up
    assert await roll_up_metrics(runtime.metrics) >= 3  # the first run: every day since d0
    before = await _rows()
    assert await roll_up_metrics(runtime.metrics) >= 1  # today again, and nothing else changed
    assert await _rows() == before
    read = await _per_day(admin, d0, d2)
    assert [(p["orders"], p["gmv"]) for p in read] == [(1, PRICE), (1, 2 * PRICE), (0, 0)]
    assert read[0]["handovers"] == 1 and read[0]["handoverMedianSeconds"] == 240

    # Ann asks her money back on d2: d0's figures stay as rolled up until the next run.
    await cast.at(d2, 15)
    ann, manager = cast.members["ann"], cast.staff["manager-a"]
    [line] = await line_ids(ann.api, order)
    refund = await asked(ann.api, request_input(order, [(line, 1)], "REFUND_ONLY"))
    assert (await approve(manager, refund))["errors"] == []
    admin = await cast.relogin("admin")
    assert (await _per_day(admin, d0, d0))[0]["gmv"] == PRICE
    await roll_up_metrics(runtime.metrics)
    after = await _rows()
    read = await _per_day(admin, d0, d2)
    assert (read[0]["gmv"], read[0]["orders"], read[0]["withAfterSale"]) == (0, 1, 1)
    assert read[1]["gmv"] == 2 * PRICE
    # d1's rows are exactly as they were; d0's changed.
    d1_rows = {t: [r for r in rows if d1.isoformat() in r] for t, rows in before.items()}
    assert {t: [r for r in rows if d1.isoformat() in r] for t, rows in after.items()} == d1_rows
    assert after["metrics_day"] != before["metrics_day"]


async def test_a_merge_moves_the_absorbed_members_orders_at_the_next_run(
    world: tuple[Cast, date, dict[str, Any]], runtime: Runtime
) -> None:
    cast, d0, _ = world
    d1 = d0 + timedelta(days=1)
    await roll_up_metrics(runtime.metrics)
    admin = await cast.relogin("admin")
    variables = {"f": d0.isoformat(), "t": d1.isoformat(), "g": "DAY"}
    before = (await admin.data(MEMBERS, variables))["metrics"]["total"]
    assert before == {"newMembers": 2, "activeMembers": 2, "repeatMembers": 0}
    # On d2 bob turns out to be ann: his d1 order is hers, and no first order any more.
    ann, bob = cast.members["ann"], cast.members["bob"]
    merged = (await admin.data(MERGE, {"s": bob.id, "t": ann.id}))["mergeMembers"]
    assert merged["errors"] == []
    await roll_up_metrics(runtime.metrics)
    after = (await admin.data(MEMBERS, variables))["metrics"]["total"]
    assert after == {"newMembers": 1, "activeMembers": 1, "repeatMembers": 1}


async def test_admin_rebuilds_a_day_on_demand_and_no_one_else(
    world: tuple[Cast, date, dict[str, Any]], runtime: Runtime
) -> None:
    cast, d0, _ = world
    admin = await cast.relogin("admin")
    rebuilt = (await admin.data(REBUILD, {"d": d0.isoformat()}))["rebuildMetricsDay"]
    assert rebuilt == {"day": d0.isoformat(), "errors": []}
    read = await _per_day(admin, d0, d0 + timedelta(days=1))
    assert [p["orders"] for p in read] == [1, 0]  # d1 was not rebuilt
    again = await _rows()
    assert (await admin.data(REBUILD, {"d": d0.isoformat()}))["rebuildMetricsDay"]["errors"] == []
    assert await _rows() == again
    early = (await admin.data(REBUILD, {"d": "1999-12-31"}))["rebuildMetricsDay"]
    assert early["errors"] == [{"code": "INVALID_INPUT", "field": ["day"]}]
    manager = cast.staff["manager-a"]
    body = await manager(REBUILD, {"d": d0.isoformat()})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # The CLI's path: a range, each day once.
    assert await rebuild_range(runtime.metrics, d0, d0 + timedelta(days=2)) == 3
    assert [p["orders"] for p in await _per_day(admin, d0, d0 + timedelta(days=1))] == [1, 1]


async def test_a_year_by_day_costs_the_statements_of_a_week(
    world: tuple[Cast, date, dict[str, Any]], runtime: Runtime, stores: dict[str, Any]
) -> None:
    cast, d0, _ = world
    await roll_up_metrics(runtime.metrics)
    admin = await cast.relogin("admin")
    last = d0 + timedelta(days=2)

    async def statements(days: int, store: str | None) -> int:
        first = last - timedelta(days=days - 1)
        variables = {"f": first.isoformat(), "t": last.isoformat(), "g": "DAY", "s": store}
        with count_sql() as seen:
            found = (await admin.data(METRICS, variables))["metrics"]
        assert len(found["periods"]) == days and found["total"]["orders"] == 2
        return len(seen)

    for store in (None, lid(stores, "SH-A")):
        assert await statements(7, store) == await statements(366, store)


ONE_DAY = """query($f: Date!, $t: Date!, $s: ID) {
  metrics(from: $f, to: $t, granularity: DAY, storeId: $s) {
    periods { activeMembers repeatMembers newMembers handovers handoverMedianSeconds
      handoverP90Seconds handedOver withAfterSale }
    total { activeMembers repeatMembers newMembers handovers handoverMedianSeconds
      handoverP90Seconds handedOver withAfterSale } } }"""


async def test_a_day_reads_its_precomputed_row_which_agrees_with_the_member_rows(
    world: tuple[Cast, date, dict[str, Any]], runtime: Runtime, stores: dict[str, Any]
) -> None:
    """A one-day period reads `metrics_day_figures`; a longer one counts over the member and
    hand-over rows: over a day and an empty neighbour, both must say the same."""
    cast, d0, _ = world
    await roll_up_metrics(runtime.metrics)
    admin = await cast.relogin("admin")
    rows = await sql.fetch(
        "SELECT store_key, channel, active_members, handovers, handover_median_seconds "
        "FROM metrics_day_figures WHERE day = $1",
        d0,
    )
    mine = {(r["store_key"], r["channel"]): r for r in rows}
    assert {k: (r["active_members"], r["handovers"]) for k, r in mine.items()} == {
        (store, channel): (1, 1)
        for store in ("*", str(stores["SH-A"].id))
        for channel in ("*", "MINI_PROGRAM")
    }
    assert mine[("*", "*")]["handover_median_seconds"] == 240
    for store in (None, lid(stores, "SH-A"), lid(stores, "SH-B")):
        for day, empty in (
            (d0, d0 - timedelta(days=1)),
            (d0 + timedelta(days=1), d0 + timedelta(days=2)),
        ):
            variables = {"f": day.isoformat(), "t": day.isoformat(), "s": store}
            [one] = (await admin.data(ONE_DAY, variables))["metrics"]["periods"]
            first, last = sorted((day, empty))
            variables = {"f": first.isoformat(), "t": last.isoformat(), "s": store}
            several = (await admin.data(ONE_DAY, variables))["metrics"]["total"]
            assert one == several, (store, day)
    [ann_day] = (await admin.data(ONE_DAY, {"f": d0.isoformat(), "t": d0.isoformat()}))["metrics"][
        "periods"
    ]
    assert (ann_day["activeMembers"], ann_day["newMembers"]) == (1, 1)
    assert ann_day["handoverMedianSeconds"] == ann_day["handoverP90Seconds"] == 240


RANGE = """query($f: Date!, $t: Date!, $s: ID) {
  metrics(from: $f, to: $t, granularity: MONTH, storeId: $s) {
    total { activeMembers repeatMembers newMembers handovers handoverMedianSeconds
      handoverP90Seconds } } }"""


async def test_ranges_after_rebuilding_one_day_equal_the_straightforward_count(
    world: tuple[Cast, date, dict[str, Any]], runtime: Runtime, stores: dict[str, Any]
) -> None:
    """The real rebuild path (the sources read again) keeps the range tables consistent: after
    a merge rolled into one day only, ranges over months around it still agree with the
    member and hand-over rows counted the old straightforward way."""
    cast, d0, _ = world
    d1 = d0 + timedelta(days=1)
    await roll_up_metrics(runtime.metrics)
    admin = await cast.relogin("admin")
    ann, bob = cast.members["ann"], cast.members["bob"]
    merged = await admin.data(MERGE, {"s": bob.id, "t": ann.id})
    assert merged["mergeMembers"]["errors"] == []
    rebuilt = (await admin.data(REBUILD, {"d": d1.isoformat()}))["rebuildMetricsDay"]
    assert rebuilt["errors"] == []
    spans = [(d0 - timedelta(days=40), d1), (d0, d1), (d0 - timedelta(days=70), d1)]
    for store in (None, stores["SH-A"].id):
        for first, last in spans:
            variables = {"f": first.isoformat(), "t": last.isoformat()}
            if store is not None:
                variables["s"] = lid(stores, "SH-A")
            read = (await admin.data(RANGE, variables))["metrics"]["total"]
            async with runtime.metrics.uow():
                counted = await straightforward(first, last, Scope(store))
            assert read == {
                "activeMembers": counted["active_members"],
                "repeatMembers": counted["repeat_members"],
                "newMembers": counted["new_members"],
                "handovers": counted["handovers"],
                "handoverMedianSeconds": counted["handover_median_seconds"],
                "handoverP90Seconds": counted["handover_p90_seconds"],
            }, (first, last, store)
    # d1 now counts bob's order as ann's: ann bought on d0 and d1, once each.
    whole = (await admin.data(RANGE, {"f": d0.isoformat(), "t": d1.isoformat()}))["metrics"]
    assert (whole["total"]["activeMembers"], whole["total"]["repeatMembers"]) == (1, 1)
