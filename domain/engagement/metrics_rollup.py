"""Metrics rollups (issue 19, "Numbers"): `metrics` reads daily rollups per store-local day,
store and channel, never the orders. The hourly job `roll_up_metrics` rebuilds the days that
changed since its watermark; `rebuild_days` (the CLI) and `rebuild_metrics_day` (ADMIN) rebuild
named days on demand. A day is rebuilt whole in one transaction (delete, then insert), so every
run is idempotent and a crash leaves each day as it was or as it is now."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from domain.engagement.deps import MetricsDeps
from domain.engagement.metrics import EARLIEST, LATEST, error
from domain.errors import EngagementErrorCode
from domain.identity.model import Principal, StaffRole

# Changes committed while a run read (a transaction begun before it, committed after) are
# looked at again by the next run: rebuilding a day twice is harmless.
OVERLAP = timedelta(minutes=10)
MAX_REBUILD_DAYS = 366 * 3  # one CLI call; the mutation rebuilds one day

Progress = Callable[[date, int, int], None]  # day, its rank (1-based), how many


def local_days(moments: Iterable[datetime], zones: Iterable[str]) -> set[date]:
    """The store-local days of the moments on every store's clock (a moment's store is not
    known here: a day too many is rebuilt rather than one too few)."""
    clocks = [ZoneInfo(z) for z in zones]
    return {m.astimezone(zone).date() for m in moments for zone in clocks}


def _span(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


async def rebuild_days(
    deps: MetricsDeps, days: Iterable[date], progress: Progress | None = None
) -> int:
    """Rebuild each day in its own transaction; returns how many."""
    ordered = sorted(set(days))
    async with deps.uow() as uow:
        zones = await uow.metrics.zones()
    for rank, day in enumerate(ordered, start=1):
        async with deps.uow() as uow:
            await uow.metrics.rebuild_day(day, zones)
        if progress is not None:
            progress(day, rank, len(ordered))
    return len(ordered)


async def roll_up_metrics(deps: MetricsDeps, progress: Progress | None = None) -> int:
    """The job: the days changed since the last watermark, plus every day from the
    watermark's to today (so a quiet day still gets its subscriptions), then the new
    watermark. The first run rebuilds every day since the first payment or subscription."""
    now = deps.clock.now()
    async with deps.uow() as uow:
        zones = await uow.metrics.zones()
        since = await uow.metrics.watermark()
        if since is None:
            start, changed = await uow.metrics.earliest() or now, []
        else:
            start, changed = since, await uow.metrics.changed_since(since)
    first = min(local_days([min(start, now)], zones))
    days = local_days(changed, zones) | set(_span(first, max(local_days([now], zones))))
    count = await rebuild_days(deps, days, progress)
    async with deps.uow() as uow:
        await uow.metrics.set_watermark(now - OVERLAP)
    return count


def check_days(first: date, last: date) -> None:
    for day, field in ((first, "day"), (last, "to")):
        if not EARLIEST <= day <= LATEST:
            raise error(
                EngagementErrorCode.INVALID_INPUT,
                f"Days from {EARLIEST.isoformat()} to {LATEST.isoformat()}.",
                field,
            )
    if first > last:
        raise error(EngagementErrorCode.INVALID_INPUT, "`day` is after `to`.", "to")
    if (last - first).days + 1 > MAX_REBUILD_DAYS:
        raise error(EngagementErrorCode.RANGE_TOO_LONG, f"At most {MAX_REBUILD_DAYS} days.", "to")


async def rebuild_range(
    deps: MetricsDeps, first: date, last: date, progress: Progress | None = None
) -> int:
    """`omnishelf metrics rollup --day D [--to D2]`: every day of [first, last]."""
    check_days(first, last)
    return await rebuild_days(deps, _span(first, last), progress)


async def rebuild_metrics_day(deps: MetricsDeps, actor: Principal, day: date) -> int:
    """ADMIN rebuilds one day's rollups now (after a correction, without waiting an hour)."""
    if not actor.has_role(StaffRole.ADMIN):
        raise error(EngagementErrorCode.FORBIDDEN, "Only ADMIN rebuilds metrics.", "day")
    check_days(day, day)
    return await rebuild_days(deps, [day])
