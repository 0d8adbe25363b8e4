"""Background jobs: arq on Redis in production, the same functions in-process when embedded.

Every job is idempotent, so two processes running one by accident do no double harm.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from arq.connections import RedisSettings
from arq.cron import cron
from arq.worker import func

from api.metrics import METRICS
from domain.aftersales.member_codes import purge_used_codes
from domain.engagement.automations_run import run_automations
from domain.engagement.facts import rebuild_member_facts
from domain.engagement.facts_model import RebuildBudget
from domain.engagement.metrics_rollup import roll_up_metrics
from domain.engagement.segments import record_segment_sizes
from domain.growth.assists import expire_tasks
from domain.growth.group_buys import fail_expired_groups
from domain.identity.services import purge_expired_sessions
from domain.inventory.reservations import sweep_expired
from domain.loyalty.ledger import expire_due
from domain.loyalty.services import recompute_all_tiers
from domain.members.login import purge_phone_codes
from domain.ordering.lifecycle import cancel_unpaid, expire_unclaimed, send_reminders
from domain.ordering.payments import recover_lost_notices
from domain.ordering.reconcile import reconcile_yesterday
from domain.ordering.refunds import process_refunds
from domain.outbox import deliver_due
from domain.promotions.coupons import expire_coupons, remind_expiring
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
    does: str  # one line for `omnishelf jobs list`
    timeout_seconds: int = 300  # arq cancels a run after this (and retries a lost one later)


async def _purge_sessions(runtime: Runtime) -> int:
    return await purge_expired_sessions(runtime.auth)


async def _purge_phone_codes(runtime: Runtime) -> int:
    return await purge_phone_codes(runtime.members)


async def _purge_member_codes(runtime: Runtime) -> int:
    return await purge_used_codes(runtime.member_codes)


async def _sweep_reservations(runtime: Runtime) -> int:
    return await sweep_expired(runtime.inventory)


async def _deliver_outbox(runtime: Runtime) -> int:
    return await deliver_due(runtime.outbox_deps)


async def _cancel_unpaid(runtime: Runtime) -> int:
    return await cancel_unpaid(runtime.ordering)


async def _recover_lost_payments(runtime: Runtime) -> int:
    return await recover_lost_notices(runtime.ordering)


async def _expire_unclaimed(runtime: Runtime) -> int:
    return await expire_unclaimed(runtime.ordering)


async def _pickup_reminders(runtime: Runtime) -> int:
    return await send_reminders(runtime.ordering)


async def _process_refunds(runtime: Runtime) -> int:
    return await process_refunds(runtime.ordering)


async def _reconcile_payments(runtime: Runtime) -> int:
    return await reconcile_yesterday(runtime.reconciliation)


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


async def _expire_coupons(runtime: Runtime) -> int:
    return await expire_coupons(runtime.coupons)


async def _coupon_reminders(runtime: Runtime) -> int:
    return await remind_expiring(runtime.coupons)


async def _expire_assist_tasks(runtime: Runtime) -> int:
    return await expire_tasks(runtime.assists)


async def _roll_up_metrics(runtime: Runtime) -> int:
    return await roll_up_metrics(runtime.metrics)


# 240 s of batches per run, inside the 300 s timeout: the scoring after the last batch and a
# batch begun at 239 s have the rest.
FACTS_REBUILD_BUDGET = RebuildBudget(seconds=240)


async def _rebuild_member_facts(runtime: Runtime) -> int:
    return (await rebuild_member_facts(runtime.member_facts, FACTS_REBUILD_BUDGET)).members


async def _record_segment_sizes(runtime: Runtime) -> int:
    return await record_segment_sizes(runtime.segments)


async def _fail_group_buys(runtime: Runtime) -> int:
    return await fail_expired_groups(runtime.group_buys)


async def _run_automations(runtime: Runtime) -> int:
    return sum((await run_automations(runtime.automations)).counts.values())


JOBS: list[Job] = [
    Job(
        "resume_paused_subscriptions",
        _resume_paused,
        3600,
        "ends pauses whose `until` date has come (store-local)",
    ),
    Job(
        "renew_subscriptions",
        _renew_subscriptions,
        300,
        "orders and charges each due subscription cycle; retries past-due charges",
    ),
    Job(
        "subscription_reminders",
        _subscription_reminders,
        3600,
        "'delivery coming' messages three days ahead",
    ),
    Job("expire_points", _expire_points, 3600, "expires points lots past their expiry date"),
    Job("expire_coupons", _expire_coupons, 3600, "marks AVAILABLE coupons past their end EXPIRED"),
    Job(
        "coupon_reminders",
        _coupon_reminders,
        3600,
        "'coupons expiring' once per coupon three days ahead (marketing consent only)",
    ),
    Job(
        "expire_assist_tasks",
        _expire_assist_tasks,
        300,
        "marks friend-assist tasks past their deadline EXPIRED",
    ),
    Job(
        "fail_group_buys",
        _fail_group_buys,
        60,
        "fails group-buys not complete at their time limit; cancels and refunds their orders",
    ),
    Job(
        "run_automations",
        _run_automations,
        300,
        "engagement automations: daily-scan triggers' candidates, then every due send "
        "(claimed with SKIP LOCKED; consent, frequency cap, quiet hours)",
    ),
    # arq keeps a killed worker's job "in progress" for the longest timeout + 10 s before running
    # it again, so no job gets more than the default 300 s (one long one would delay them all).
    Job("recompute_tiers", _recompute_tiers, 86400, "recomputes tiers from 12 months of growth"),
    # Every 10 min, 240 s of work a run: a cycle begins 20 h after the last one began and
    # resumes from its last batch until done (1,000,000 members: two or three runs).
    Job(
        "rebuild_member_facts",
        _rebuild_member_facts,
        600,
        "recomputes every member's facts from the source tables, then RFM scores and automatic "
        "tags: a cycle every 20 h, resumed from its last batch, 240 s of batches a run",
    ),
    # Hourly: the day's size is the day's last recording, so it follows the day's rebuild.
    Job(
        "record_segment_sizes",
        _record_segment_sizes,
        3600,
        "records each active segment's size for the store-local day (an upsert per day)",
    ),
    Job(
        "roll_up_metrics",
        _roll_up_metrics,
        3600,
        "rebuilds the metrics rollups of the store-local days changed since its last run "
        "(each day deleted and inserted in one transaction)",
    ),
    Job("deliver_outbox", _deliver_outbox, 10, "sends due outbox notifications (at least once)"),
    Job(
        "cancel_unpaid_orders",
        _cancel_unpaid,
        60,
        "cancels orders unpaid past their payment deadline, releasing stock and points",
    ),
    Job(
        "recover_lost_payments",
        _recover_lost_payments,
        60,
        "asks the provider about online payments pending over 3 min and applies the answer",
    ),
    Job(
        "expire_unclaimed_orders",
        _expire_unclaimed,
        300,
        "marks ready orders not collected by their pickup deadline UNCLAIMED, with a refund",
    ),
    Job(
        "process_refunds",
        _process_refunds,
        60,
        "submits pending refunds to their provider (retried with backoff), polls submitted ones",
    ),
    Job(
        "reconcile_payments",
        _reconcile_payments,
        3600,
        "from 10:00 Beijing, reconciles yesterday's WeChat Pay bill once (differences stored)",
    ),
    Job(
        "pickup_reminders",
        _pickup_reminders,
        300,
        "reminds members of a ready order within 24 h of its pickup deadline",
    ),
    Job(
        "sweep_expired_reservations",
        _sweep_reservations,
        60,
        "releases stock reservations past their expiry",
    ),
    Job(
        "purge_expired_sessions",
        _purge_sessions,
        3600,
        "deletes refresh tokens expired more than a day ago",
    ),
    Job("purge_phone_codes", _purge_phone_codes, 3600, "deletes SMS codes a day after expiry"),
    Job(
        "purge_member_codes",
        _purge_member_codes,
        86400,
        "deletes the records of member codes used at the till more than 7 days ago",
    ),
]


def find_job(name: str) -> Job | None:
    return next((job for job in JOBS if job.name == name), None)


async def run_job(runtime: Runtime, job: Job) -> int:
    """One run, logged `job done` or `job failed`; a failure is raised on, so arq counts it
    (`jobs_failed`) and the in-process scheduler goes on with the next run."""
    started = time.perf_counter()
    try:
        # Jobs are idempotent: one that lost a deadlock runs again instead of failing.
        count = await retrying(lambda: job.run(runtime), job.name)
    except Exception:
        METRICS.job(job.name, time.perf_counter() - started, ok=False)
        log.exception("job failed", extra={"job": job.name})
        raise
    METRICS.job(job.name, time.perf_counter() - started, ok=True)
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


@dataclass(frozen=True)
class CronGrid:
    """How arq's cron, which matches fields of the clock (hour, minute, second), runs a job
    every N seconds. It fires every `tick` seconds, the largest step that divides both N and
    the clock field's period (a minute, an hour, a day), and a firing goes ahead only when its
    time since the epoch is a multiple of N (`is_due`). When N divides its period (10 s, 5 min,
    an hour, a day) the tick is N and every firing runs; otherwise (45 s, 90 s, 7 s, 90 min) a
    cron alone would run at uneven gaps (45 s: at :00 and :45 of each minute, 45 then 15 s)."""

    every: int
    tick: int
    hour: set[int] | None
    minute: set[int] | None
    second: set[int]

    def is_due(self, at: datetime) -> bool:
        """Whether the firing scheduled at `at` (in UTC; a few hundred milliseconds late at
        most) is one of the job's runs."""
        slot = round(at.timestamp() / self.tick) * self.tick
        return slot % self.every == 0


def cron_grid(every_seconds: int) -> CronGrid:
    if every_seconds <= 0:
        raise ValueError("A job runs every 1 second or more.")
    if every_seconds % 3600 == 0:
        hours = math.gcd(every_seconds // 3600, 24)
        return CronGrid(every_seconds, hours * 3600, set(range(0, 24, hours)), {0}, {0})
    if every_seconds % 60 == 0:
        minutes = math.gcd(every_seconds // 60, 60)
        return CronGrid(every_seconds, minutes * 60, None, set(range(0, 60, minutes)), {0})
    seconds = math.gcd(every_seconds, 60)
    return CronGrid(every_seconds, seconds, None, None, set(range(0, 60, seconds)))


def _field(values: set[int] | None, period: int) -> str:
    """A cron field as a person reads it: `*`, `*/5`, `0`."""
    if values is None or values == set(range(period)):
        return "*"
    step = min((b - a for a, b in zip(sorted(values), sorted(values)[1:], strict=False)), default=0)
    if step > 1 and values == set(range(0, period, step)):
        return f"*/{step}"
    return ",".join(str(v) for v in sorted(values))


def schedule_text(every_seconds: int) -> str:
    """`every 5 min: cron hour * minute */5 second 0 (UTC)`, and the gate when the cron ticks
    more often than the job runs (`cron_grid`)."""
    grid = cron_grid(every_seconds)
    text = (
        f"every {_duration(every_seconds)}: cron hour {_field(grid.hour, 24)} "
        f"minute {_field(grid.minute, 60)} second {_field(grid.second, 60)} (UTC)"
    )
    if grid.tick != grid.every:
        text += f", runs on the ticks {every_seconds} s apart since the epoch"
    return text


def _duration(seconds: int) -> str:
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def _arq_function(job: Job) -> Callable[[dict[str, Any]], Awaitable[None]]:
    grid = cron_grid(job.every_seconds)

    async def handler(ctx: dict[str, Any]) -> None:
        # arq's `score` is when the job was due (ms); an off-grid firing is not a run.
        due = datetime.fromtimestamp(ctx["score"] / 1000, UTC)
        if grid.tick != grid.every and not grid.is_due(due):
            return
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
        grid = cron_grid(job.every_seconds)
        crons.append(
            cron(
                handler,  # type: ignore[arg-type]
                name=job.name,
                hour=grid.hour,
                minute=grid.minute,
                second=grid.second,
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
        "timezone": UTC,  # the cron grid is UTC's (is_due counts from the epoch), on any host
    }
