"""Every-N-seconds jobs run every N seconds through arq's cron, whether or not N divides the
clock's minute, hour or day: the cron arq is given, stepped with arq's own `calculate_next`,
and the handler's gate, driven with the `score` arq hands it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from arq.cron import cron

from infra.jobs import JOBS, Job, _arq_function, cron_grid
from infra.runtime import Runtime

START = datetime(2026, 11, 22, 23, 57, 1, tzinfo=UTC)  # the runs cross midnight


async def _noop(ctx: dict[str, Any]) -> None:
    return None


def firings(every: int, count: int) -> list[datetime]:
    """When arq's cron, built from the grid, enqueues the job: the first `count` moments."""
    grid = cron_grid(every)
    job = cron(_noop, hour=grid.hour, minute=grid.minute, second=grid.second)
    moments = [START]
    while len(moments) <= count:
        job.calculate_next(moments[-1])
        assert job.next_run is not None
        moments.append(job.next_run)
    return moments[1:]


def runs(every: int, count: int = 6) -> list[datetime]:
    grid = cron_grid(every)
    found: list[datetime] = []
    for moment in firings(every, count * every // grid.tick + 1):
        if grid.is_due(moment):
            found.append(moment)
    return found[:count]


@pytest.mark.parametrize("every", [45, 90, 7, 3600, 10, 60, 300, 5400, 86400, 2 * 86400])
def test_runs_are_exactly_the_interval_apart(every: int) -> None:
    found = runs(every)
    assert len(found) == 6
    assert {(b - a).total_seconds() for a, b in pairwise(found)} == {every}


@pytest.mark.parametrize(
    ("every", "tick", "hour", "minute", "second"),
    [
        (45, 15, None, None, {0, 15, 30, 45}),  # a cron alone ran at :00 and :45 (45 s, 15 s)
        (90, 30, None, None, {0, 30}),  # and this one every 60 s
        (7, 1, None, None, set(range(60))),
        (10, 10, None, None, {0, 10, 20, 30, 40, 50}),
        (3600, 3600, set(range(24)), {0}, {0}),
        (5400, 1800, None, {0, 30}, {0}),
        (86400, 86400, {0}, {0}, {0}),
    ],
)
def test_the_cron_fires_on_the_coarsest_grid_that_holds_every_run(
    every: int, tick: int, hour: set[int] | None, minute: set[int] | None, second: set[int]
) -> None:
    grid = cron_grid(every)
    assert (grid.tick, grid.hour, grid.minute, grid.second) == (tick, hour, minute, second)


def test_every_configured_job_keeps_its_interval() -> None:
    for job in JOBS:
        found = runs(job.every_seconds, 3)
        gaps = {(b - a).total_seconds() for a, b in pairwise(found)}
        assert gaps == {job.every_seconds}, job.name


def test_an_interval_must_be_a_positive_number_of_seconds() -> None:
    with pytest.raises(ValueError):
        cron_grid(0)


async def test_the_arq_handler_runs_the_job_only_on_its_own_firings() -> None:
    done: list[int] = []

    async def count(runtime: Runtime) -> int:
        done.append(1)
        return 0

    handler = _arq_function(Job("every_45_seconds", count, 45, "counts"))
    ran = []
    for moment in firings(45, 12):  # 3 minutes of firings every 15 s
        before = len(done)
        late = moment + timedelta(milliseconds=300)  # arq's score: when it was due, about
        await handler({"score": int(late.timestamp() * 1000), "runtime": None})
        if len(done) > before:
            ran.append(moment)
    assert len(ran) == 4
    assert {(b - a).total_seconds() for a, b in pairwise(ran)} == {45}
