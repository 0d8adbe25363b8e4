"""Background jobs: arq on Redis in production, the same functions in-process when embedded.

Every job is idempotent, so two processes running one by accident do no double harm.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from arq.connections import RedisSettings
from arq.cron import cron
from arq.worker import func

from domain.identity.services import purge_expired_sessions
from domain.inventory.reservations import sweep_expired
from domain.loyalty.ledger import expire_due
from domain.loyalty.services import recompute_all_tiers
from domain.members.login import purge_phone_codes
from domain.ordering.lifecycle import cancel_unpaid, expire_unclaimed, send_reminders
from domain.outbox import deliver_due
from domain.subscriptions.renewals import renew_due
from domain.subscriptions.renewals import send_reminders as subscription_reminders
from domain.subscriptions.services import resume_paused_until_due
from infra.db.retry import retrying
from infra.runtime import Runtime
from infra.settings import Settings

log = logging.getLogger("omnishelf.jobs")


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[[Runtime], Awaitable[int]]
    every_seconds: int
    timeout_seconds: int = 300  # arq cancels a run after this (and retries a lost one later)


async def _purge_sessions(runtime: Runtime) -> int:
    return await purge_expired_sessions(runtime.auth)


async def _purge_phone_codes(runtime: Runtime) -> int:
    return await purge_phone_codes(runtime.members)


async def _sweep_reservations(runtime: Runtime) -> int:
    return await sweep_expired(runtime.inventory)


async def _deliver_outbox(runtime: Runtime) -> int:
    return await deliver_due(runtime.outbox_deps)


async def _cancel_unpaid(runtime: Runtime) -> int:
    return await cancel_unpaid(runtime.ordering)


async def _expire_unclaimed(runtime: Runtime) -> int:
    return await expire_unclaimed(runtime.ordering)


async def _pickup_reminders(runtime: Runtime) -> int:
    return await send_reminders(runtime.ordering)


async def _expire_points(runtime: Runtime) -> int:
    return await expire_due(runtime.loyalty)


async def _recompute_tiers(runtime: Runtime) -> int:
    return await recompute_all_tiers(runtime.loyalty)


async def _renew_subscriptions(runtime: Runtime) -> int:
    return sum((await renew_due(runtime.subscriptions)).values())


async def _subscription_reminders(runtime: Runtime) -> int:
    return await subscription_reminders(runtime.subscriptions)


async def _resume_paused(runtime: Runtime) -> int:
    return await resume_paused_until_due(runtime.subscriptions)


JOBS: list[Job] = [
    Job("resume_paused_subscriptions", _resume_paused, 3600),
    Job("renew_subscriptions", _renew_subscriptions, 300),
    Job("subscription_reminders", _subscription_reminders, 3600),
    Job("expire_points", _expire_points, 3600),
    # arq keeps a killed worker's job "in progress" for the longest timeout + 10 s before running
    # it again, so no job gets more than the default 300 s (one long one would delay them all).
    Job("recompute_tiers", _recompute_tiers, 86400),
    Job("deliver_outbox", _deliver_outbox, 10),
    Job("cancel_unpaid_orders", _cancel_unpaid, 60),
    Job("expire_unclaimed_orders", _expire_unclaimed, 300),
    Job("pickup_reminders", _pickup_reminders, 300),
    Job("sweep_expired_reservations", _sweep_reservations, 60),
    Job("purge_expired_sessions", _purge_sessions, 3600),
    Job("purge_phone_codes", _purge_phone_codes, 3600),
]


async def run_job(runtime: Runtime, job: Job) -> int:
    """One run, logged `job done` or `job failed`; a failure is raised on, so arq counts it
    (`jobs_failed`) and the in-process scheduler goes on with the next run."""
    try:
        # Jobs are idempotent: one that lost a deadlock runs again instead of failing.
        count = await retrying(lambda: job.run(runtime), job.name)
    except Exception:
        log.exception("job failed", extra={"job": job.name})
        raise
    log.info("job done", extra={"job": job.name, "affected": count})
    return count


class InProcessScheduler:
    """Runs JOBS on their intervals inside the API process (embedded mode, no Redis)."""

    def __init__(self, runtime: Runtime, jobs: list[Job] | None = None):
        self._runtime = runtime
        self._jobs = JOBS if jobs is None else jobs
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        for job in self._jobs:
            self._tasks.append(asyncio.create_task(self._loop(job), name=f"job:{job.name}"))

    async def _loop(self, job: Job) -> None:
        while True:
            await asyncio.sleep(job.every_seconds)
            with contextlib.suppress(Exception):  # logged by run_job; the next run comes
                await run_job(self._runtime, job)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()


def _arq_function(job: Job) -> Callable[[dict[str, Any]], Awaitable[None]]:
    async def handler(ctx: dict[str, Any]) -> None:
        await run_job(ctx["runtime"], job)

    handler.__name__ = job.name
    handler.__qualname__ = job.name
    return handler


def worker_settings(settings: Settings) -> dict[str, Any]:
    """arq worker settings: the same JOBS as cron entries (unique per run, so one worker wins)."""
    assert settings.redis_url, "omnishelf worker needs REDIS_URL"

    async def on_startup(ctx: dict[str, Any]) -> None:
        runtime = Runtime(settings)
        await runtime.start()
        ctx["runtime"] = runtime

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        await ctx["runtime"].stop()

    handlers = [_arq_function(job) for job in JOBS]
    functions = [
        func(handler, name=job.name, timeout=job.timeout_seconds)  # type: ignore[arg-type]
        for job, handler in zip(JOBS, handlers, strict=True)
    ]
    crons = []
    for job, handler in zip(JOBS, handlers, strict=True):
        minutes = max(1, job.every_seconds // 60)
        seconds = job.every_seconds if job.every_seconds < 60 else None
        hours = job.every_seconds // 3600
        crons.append(
            cron(
                handler,  # type: ignore[arg-type]
                name=job.name,
                hour=set(range(0, 24, hours)) if 1 < hours < 24 else ({0} if hours >= 24 else None),
                minute=set(range(0, 60, minutes)) if minutes < 60 else {0},
                second=set(range(0, 60, seconds)) if seconds else 0,
                unique=True,
                run_at_startup=False,
                timeout=job.timeout_seconds,
            )
        )
    return {
        "functions": functions,
        "cron_jobs": crons,
        "on_startup": on_startup,
        "on_shutdown": on_shutdown,
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "queue_name": "omnishelf:queue",
    }
