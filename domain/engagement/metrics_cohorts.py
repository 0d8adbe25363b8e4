"""Monthly cohorts (issue 19, "Numbers"): for the months of first orders from `from` to `to`
("2026-01", on the stores' wall clock), each cohort's size, the share still buying in each of
the 12 months after (those that have begun), and lifetime value by cohort and by acquisition
source. Who may read is the metrics' rule; a store's cohorts read that store's orders only."""

from __future__ import annotations

from datetime import date
from uuid import UUID
from zoneinfo import ZoneInfo

from domain.engagement.deps import MetricsDeps
from domain.engagement.metrics import EARLIEST, LATEST, check_reader, error, timezone_in_uow
from domain.engagement.metrics_cohorts_model import (
    AGES,
    MAX_COHORTS,
    Cohorts,
    assemble,
    months,
)
from domain.errors import EngagementErrorCode
from domain.identity.model import Principal


def parse_month(text: str, field: str) -> date:
    """ "2026-01" -> its first day; anything else (or outside the years read) is refused."""
    try:
        day = date.fromisoformat(f"{text.strip()}-01")
    except ValueError:
        day = None
    if day is None or len(text.strip()) != 7 or not EARLIEST <= day <= LATEST:
        raise error(EngagementErrorCode.INVALID_INPUT, "A month reads like 2026-01.", field)
    return day


def _count(first: date, last: date) -> int:
    """Months from `first`'s to `last`'s, both included (0 when `last` comes before)."""
    return max((last.year - first.year) * 12 + last.month - first.month + 1, 0)


async def cohorts(
    deps: MetricsDeps, actor: Principal, first: str, last: str, store_id: UUID | None = None
) -> Cohorts:
    start, end = parse_month(first, "from"), parse_month(last, "to")
    if start > end:
        raise error(EngagementErrorCode.INVALID_INPUT, "`from` is after `to`.", "from")
    count = _count(start, end)
    if count > MAX_COHORTS:
        raise error(
            EngagementErrorCode.RANGE_TOO_LONG, f"At most {MAX_COHORTS} cohorts at once.", "to"
        )
    check_reader(actor, store_id)
    async with deps.uow() as uow:
        timezone = await timezone_in_uow(uow, store_id)
        zone = ZoneInfo(timezone)
        begun = _count(start, deps.clock.now().astimezone(zone).date())
        cut = months(start, max(count, min(count + AGES, begun)))
        windows = [p.window(zone) for p in cut]
        figures = await uow.metrics.cohorts(windows, count, store_id)
    found, sources = assemble(cut, count, begun, figures)
    return Cohorts(timezone, store_id, found, sources)
