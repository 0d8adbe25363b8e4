"""The range tables of the metrics rollups (infra/repositories/metrics_ranges.py), on both
databases: after days written, rewritten and emptied in any order, each range's distinct
active, repeat and new members and hand-over percentiles read from them equal what the old
straightforward way counts over the day's member and hand-over rows (every member of the range
aggregated, every second of its histogram), for ranges within a month, across month
boundaries and over whole months, per store or all and channel or all."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from domain.engagement.metrics_model import (
    Figures,
    Period,
    Scope,
)
from domain.ids import new_id
from domain.ordering.model import SalesChannel
from infra.db import sql
from infra.repositories.metrics_ranges import full_months
from infra.repositories.metrics_rollups import MetricsRollups
from infra.runtime import Runtime
from tests.support.metrics_world import straightforward

FIRST, LAST = date(2026, 1, 27), date(2026, 3, 4)  # February whole, January and March cut
CHANNELS = ("MINI_PROGRAM", "POS")
Row = list[Any]


def _day(
    rng: random.Random,
    stores: list[UUID | None],
    crowd: list[UUID],
    firsts: dict[UUID, date],
    day: date,
) -> dict[str, list[Row]]:
    """A day's rows as the rollup finds them: some of the crowd buy (a member's first order
    ever on their one first day, in one store and channel), some pickups handed over."""
    found: dict[str, list[Row]] = defaultdict(list)
    for member in rng.sample(crowd, rng.randrange(len(crowd) + 1)):
        places = rng.sample([(s, c) for s in stores for c in CHANNELS], rng.randrange(1, 3))
        for k, (store, channel) in enumerate(places):
            first = int(firsts[member] == day and k == 0)
            found["metrics_member_day"].append([store, channel, member, rng.randrange(1, 3), first])
    for store in stores:
        for channel in CHANNELS:
            for seconds in rng.sample(range(60, 80), rng.randrange(4)):
                handed = rng.randrange(1, 3)
                found["metrics_handover_day"].append([store, channel, 1, seconds, handed, 0])
            if rng.random() < 0.3:  # a delivery and a pickup of unknown duration: not counted
                found["metrics_handover_day"].append([store, channel, 0, 70, 1, 0])
                found["metrics_handover_day"].append([store, channel, 1, None, 1, 0])
    return found


def _read(figures: Figures) -> dict[str, Any]:
    return {
        "active_members": figures.active_members,
        "repeat_members": figures.repeat_members,
        "new_members": figures.new_members,
        "handovers": figures.handovers,
        "handover_median_seconds": figures.handover_median_seconds,
        "handover_p90_seconds": figures.handover_p90_seconds,
    }


async def _agree(rollups: MetricsRollups, scopes: list[Scope], rng: random.Random) -> int:
    days = (LAST - FIRST).days + 1
    spans = [
        (FIRST, LAST),
        (date(2026, 2, 1), date(2026, 2, 28)),
        (date(2026, 1, 30), date(2026, 2, 2)),
    ]
    for _ in range(12):
        a = FIRST + timedelta(days=rng.randrange(days))
        spans.append((a, a + timedelta(days=rng.randrange((LAST - a).days + 1))))
    checked = 0
    for scope in scopes:
        # All the spans in one read, as `metrics` reads a total next to its periods.
        found = await rollups.figures([Period(a, b) for a, b in spans], scope)
        for (a, b), figures in zip(spans, found, strict=True):
            assert _read(figures) == await straightforward(a, b, scope), (a, b, scope)
            checked += 1
    return checked


async def test_ranges_read_from_the_range_tables_equal_the_straightforward_count(
    runtime: Runtime,
) -> None:
    rng = random.Random(19)
    stores: list[UUID | None] = [new_id(), new_id(), None]
    crowd = [new_id() for _ in range(8)]
    span = (LAST - FIRST).days + 1
    firsts = {m: FIRST + timedelta(days=rng.randrange(span)) for m in crowd}
    scopes = [
        Scope(),
        Scope(stores[0]),
        Scope(None, SalesChannel.POS),
        Scope(stores[1], SalesChannel.MINI_PROGRAM),
    ]
    rollups = MetricsRollups()
    # Every day in order, then days rewritten and emptied out of order (a rebuild after a
    # correction: the neighbours' previous and next days must follow).
    order = [FIRST + timedelta(days=n) for n in range(span)]
    order += [FIRST + timedelta(days=rng.randrange(span)) for _ in range(25)]
    for step, day in enumerate(order):
        found = _day(rng, stores, crowd, firsts, day) if rng.random() < 0.85 else {}
        async with runtime.metrics.uow():
            await rollups.write_day(day, defaultdict(list, found))
        if step in (span - 1, len(order) - 1):
            async with runtime.metrics.uow():
                assert await _agree(rollups, scopes, rng) == 4 * 15
    async with runtime.metrics.uow():
        # The month histograms hold no empty rows, and the reach rows only the members' days.
        assert not await sql.fetch("SELECT 1 FROM metrics_handover_month WHERE handovers <= 0")
        reach = await sql.fetch(
            "SELECT COUNT(*) AS n FROM metrics_member_reach WHERE store_key = '*' AND channel = '*'"
        )
        pairs = await sql.fetch(
            "SELECT COUNT(*) AS n FROM (SELECT DISTINCT day, member_id FROM metrics_member_day) d"
        )
        assert int(reach[0]["n"]) == int(pairs[0]["n"])


def test_full_months_cut_a_range_into_edges_and_whole_months() -> None:
    d = date
    assert full_months(d(2025, 12, 8), d(2026, 12, 7)) == (d(2026, 1, 1), d(2026, 12, 1))
    assert full_months(d(2026, 1, 1), d(2026, 1, 31)) == (d(2026, 1, 1), d(2026, 2, 1))
    assert full_months(d(2026, 1, 5), d(2026, 1, 20)) == (d(2026, 1, 21), d(2026, 1, 21))
    assert full_months(d(2026, 1, 5), d(2026, 2, 10)) == (d(2026, 2, 11), d(2026, 2, 11))
    assert full_months(d(2026, 1, 31), d(2026, 3, 1)) == (d(2026, 2, 1), d(2026, 3, 1))
    assert full_months(d(2026, 12, 1), d(2026, 12, 31)) == (d(2026, 12, 1), d(2027, 1, 1))
