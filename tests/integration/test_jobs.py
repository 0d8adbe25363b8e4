"""Jobs do their work once, in-process or through arq on Redis, and are safe to repeat."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from arq.connections import RedisSettings, create_pool
from arq.worker import Worker, func

from api.metrics import METRICS
from domain.identity.model import StaffRole
from domain.identity.services import create_staff, staff_login
from domain.ids import new_id
from infra.db.models.identity import RefreshTokenRow
from infra.jobs import (
    JOBS,
    InProcessScheduler,
    Job,
    _arq_function,
    cron_grid,
    run_job,
    worker_settings,
)
from infra.runtime import Runtime
from tests.support import MovableClock

PURGE = next(job for job in JOBS if job.name == "purge_expired_sessions")


async def _expired_login(runtime: Runtime, clock: MovableClock) -> None:
    await create_staff(runtime.auth, "jobber", "long-enough-pw", StaffRole.ADMIN, [])
    await staff_login(runtime.auth, "jobber", "long-enough-pw", "198.51.100.1")
    clock.advance(timedelta(days=32))


async def test_purge_removes_expired_refresh_tokens_once(
    runtime: Runtime, clock: MovableClock
) -> None:
    await _expired_login(runtime, clock)
    assert await RefreshTokenRow.all().count() == 1
    await run_job(runtime, PURGE)
    await run_job(runtime, PURGE)  # a second run (another process, a retry) changes nothing
    assert await RefreshTokenRow.all().count() == 0


async def test_purge_keeps_live_tokens(runtime: Runtime, clock: MovableClock) -> None:
    await create_staff(runtime.auth, "jobber", "long-enough-pw", StaffRole.ADMIN, [])
    await staff_login(runtime.auth, "jobber", "long-enough-pw", "198.51.100.1")
    await run_job(runtime, PURGE)
    assert await RefreshTokenRow.all().count() == 1


async def test_arq_worker_runs_the_job_from_redis(runtime: Runtime, clock: MovableClock) -> None:
    await _expired_login(runtime, clock)
    settings = worker_settings(runtime.settings)
    assert {c.name for c in settings["cron_jobs"]} == {job.name for job in JOBS}
    url = os.environ.get("TEST_REDIS_URL")
    assert url, "this test needs Redis: run it through `make test` (scripts/with-services.sh)"
    redis = await create_pool(RedisSettings.from_dsn(url))
    await redis.enqueue_job(PURGE.name, _queue_name=settings["queue_name"])
    worker = Worker(
        functions=settings["functions"],
        queue_name=settings["queue_name"],
        redis_pool=redis,
        burst=True,
        poll_delay=0.05,
        ctx={"runtime": runtime},  # the test's runtime instead of on_startup's own
        handle_signals=False,
    )
    await worker.main()
    assert worker.jobs_complete == 1 and worker.jobs_failed == 0
    assert await RefreshTokenRow.all().count() == 0
    await worker.close()
    await redis.aclose()


async def test_purge_forgets_phone_codes_a_day_after_expiry(
    runtime: Runtime, clock: MovableClock
) -> None:
    from domain.members.login import request_phone_code
    from infra.db.models.members import PhoneCodeRow

    job = next(job for job in JOBS if job.name == "purge_phone_codes")
    await request_phone_code(runtime.members, "13700137000", "198.51.100.2")
    await run_job(runtime, job)
    assert await PhoneCodeRow.all().count() == 1  # still within its grace day
    clock.advance(timedelta(days=1, minutes=6))
    await run_job(runtime, job)
    assert await PhoneCodeRow.all().count() == 0


async def test_purge_forgets_member_code_uses_after_a_week(
    runtime: Runtime, clock: MovableClock
) -> None:
    from domain.aftersales.member_codes import USES_KEPT
    from infra.db.models.member_codes import MemberCodeUseRow

    job = next(job for job in JOBS if job.name == "purge_member_codes")
    deps = runtime.member_codes

    async def used(nonce: str) -> None:
        now = clock.now()
        async with deps.uow() as uow:
            assert await uow.member_codes.use(
                nonce, new_id(), "DEVICE:till", now, now + deps.policy.ttl
            )

    await used("old")
    clock.advance(USES_KEPT - timedelta(minutes=1))
    await used("new")
    assert await run_job(runtime, job) == 0  # "old" is a minute short of a week
    clock.advance(timedelta(minutes=2))
    assert await run_job(runtime, job) == 1
    assert [r.nonce for r in await MemberCodeUseRow.all()] == ["new"]
    async with deps.uow() as uow:  # a replay of the kept one is still caught
        assert await uow.member_codes.is_used("new") and not await uow.member_codes.is_used("old")
    assert await run_job(runtime, job) == 0  # idempotent


def test_arq_cron_runs_every_job_on_its_interval(runtime: Runtime) -> None:
    """Each cron entry of the worker, with its gate, runs as often as its Job says (the
    schedule for intervals that do not divide a minute is in tests/unit/test_job_schedule.py)."""
    settings = worker_settings(runtime.settings)
    assert settings["timezone"] == UTC
    crons = {c.name: c for c in settings["cron_jobs"]}
    start = datetime(2026, 11, 22, 0, 0, 0, 200000, tzinfo=UTC)
    for job in JOBS:
        cron_job, grid = crons[job.name], cron_grid(job.every_seconds)
        fired, runs = [start], []
        while len(runs) < 4:
            cron_job.calculate_next(fired[-1])
            fired.append(cron_job.next_run)
            if grid.is_due(cron_job.next_run):
                runs.append(cron_job.next_run)
        gaps = {(b - a).total_seconds() for a, b in pairwise(runs)}
        assert gaps == {job.every_seconds}, (job.name, gaps)


def test_every_job_has_the_timeout_a_killed_workers_job_waits_for(runtime: Runtime) -> None:
    """arq re-runs a job lost with its worker after the longest timeout + 10 s: keep it 300 s."""
    settings = worker_settings(runtime.settings)
    timeouts = {c.name: c.timeout_s for c in settings["cron_jobs"]}
    by_name = {f.name: f.timeout_s for f in settings["functions"]}
    assert timeouts == by_name == {job.name: job.timeout_seconds for job in JOBS}
    assert set(timeouts.values()) == {300}


async def test_a_failing_job_is_counted_by_the_worker_and_logged(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 13: run_job swallowed every exception, so arq's `jobs_failed` stayed 0 whatever
    happened."""

    async def broken(_: Runtime) -> int:
        raise RuntimeError("the job broke")

    failing = Job("broken_job", broken, 60, "fails")
    settings = worker_settings(runtime.settings)
    url = os.environ.get("TEST_REDIS_URL")
    assert url, "this test needs Redis: run it through `make test` (scripts/with-services.sh)"
    redis = await create_pool(RedisSettings.from_dsn(url))
    await redis.enqueue_job("broken_job", _queue_name=settings["queue_name"])
    worker = Worker(
        functions=[func(_arq_function(failing), name="broken_job")],  # type: ignore[arg-type]
        queue_name=settings["queue_name"],
        redis_pool=redis,
        burst=True,
        poll_delay=0.05,
        ctx={"runtime": runtime},
        handle_signals=False,
    )
    before = _runs("broken_job", "failed")
    await worker.main()
    assert (worker.jobs_complete, worker.jobs_failed) == (0, 1)
    assert _runs("broken_job", "failed") == before + 1  # /metrics: omnishelf_job_runs_total
    assert any(r.getMessage() == "job failed" and r.job == "broken_job" for r in caplog.records)
    await worker.close()
    await redis.aclose()


def _runs(job: str, outcome: str) -> float:
    value = METRICS.registry.get_sample_value(
        "omnishelf_job_runs_total", {"job": job, "outcome": outcome}
    )
    return value or 0.0


async def test_the_in_process_scheduler_counts_runs_and_times_them(runtime: Runtime) -> None:
    done = asyncio.Event()

    async def counting(_: Runtime) -> int:
        done.set()
        return 3

    scheduler = InProcessScheduler(runtime, [Job("counting_job", counting, 1, "counts")])
    scheduler.start()
    try:
        await asyncio.wait_for(done.wait(), timeout=30)
        for _ in range(100):  # run_job records the run right after the job returns
            if _runs("counting_job", "ok") >= 1:
                break
            await asyncio.sleep(0.01)
    finally:
        await scheduler.stop()
    assert _runs("counting_job", "ok") >= 1
    assert _runs("counting_job", "failed") == 0
    count = METRICS.registry.get_sample_value(
        "omnishelf_job_duration_seconds_count", {"job": "counting_job"}
    )
    assert count is not None and count >= 1
