"""The numbers a brand runs on (issue 19, "Numbers"): GMV, orders, members, repurchase,
hand-over times, coupons, subscription churn and after-sales per store-local day, week or
month, for ADMIN (every store or one) and a STORE_MANAGER (their own stores, one at a time).
Read from the daily rollups (`metrics_rollup`) in a constant number of statements: the figures
are as of the last rollup."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from domain.engagement.deps import MetricsDeps
from domain.engagement.metrics_model import (
    MAX_DAYS,
    Bucket,
    Granularity,
    Metrics,
    Period,
    Scope,
    periods,
)
from domain.errors import EngagementError, EngagementErrorCode
from domain.identity.model import Principal, StaffRole
from domain.locations.model import DEFAULT_TIMEZONE
from domain.ordering.model import SalesChannel
from domain.uow import UnitOfWork

EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)  # no shop sold before, nor after


def error(code: EngagementErrorCode, message: str, field: str) -> EngagementError:
    return EngagementError(code, message, [field])


def check_reader(actor: Principal, store_id: UUID | None) -> None:
    """ADMIN reads any store or all; a STORE_MANAGER one of their own stores; no one else."""
    if actor.has_role(StaffRole.ADMIN):
        return
    if actor.has_role(StaffRole.STORE_MANAGER) and store_id in actor.store_ids:
        return
    raise error(
        EngagementErrorCode.FORBIDDEN, "Only ADMIN, or the manager of the store.", "storeId"
    )


def _check_range(first: date, last: date, granularity: Granularity) -> None:
    for day, field in ((first, "from"), (last, "to")):
        if not EARLIEST <= day <= LATEST:
            raise error(
                EngagementErrorCode.INVALID_INPUT,
                f"Days from {EARLIEST.isoformat()} to {LATEST.isoformat()}.",
                field,
            )
    if first > last:
        raise error(EngagementErrorCode.INVALID_INPUT, "`from` is after `to`.", "from")
    if (last - first).days + 1 > MAX_DAYS[granularity]:
        raise error(
            EngagementErrorCode.RANGE_TOO_LONG,
            f"At most {MAX_DAYS[granularity]} days by {granularity.value.lower()}.",
            "to",
        )


def parse_day(text: str | None, field: str) -> date:
    """ "2026-12-01" -> the day (a plain-HTTP parameter: GraphQL parses its `Date`s itself)."""
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        raise error(
            EngagementErrorCode.INVALID_INPUT, "A day reads like 2026-12-01.", field
        ) from None


def parse_granularity(text: str | None) -> Granularity:
    try:
        return Granularity((text or Granularity.DAY.value).strip().upper())
    except ValueError:
        raise error(
            EngagementErrorCode.INVALID_INPUT, "DAY, WEEK or MONTH.", "granularity"
        ) from None


def parse_channel(text: str | None) -> SalesChannel | None:
    if not text:
        return None
    try:
        return SalesChannel(text.strip().upper())
    except ValueError:
        raise error(
            EngagementErrorCode.INVALID_INPUT, "An unknown sales channel.", "channel"
        ) from None


async def timezone_in_uow(uow: UnitOfWork, store_id: UUID | None) -> str:
    """Whose wall clock cuts the days: the store's, or the brand's default for all stores."""
    if store_id is None:
        return DEFAULT_TIMEZONE
    store = await uow.locations.get(store_id)
    if store is None:
        raise error(EngagementErrorCode.NOT_FOUND, "No such store.", "storeId")
    return store.timezone


async def metrics(
    deps: MetricsDeps,
    actor: Principal,
    first: date,
    last: date,
    granularity: Granularity,
    store_id: UUID | None = None,
    channel: SalesChannel | None = None,
) -> Metrics:
    """[first, last] (store-local days, both included) per period of `granularity`, and in
    total. Each store's days follow its own timezone; `timezone` names the store's, or for
    all stores the brand's default one."""
    _check_range(first, last, granularity)
    check_reader(actor, store_id)
    scope = Scope(store_id, channel)
    cut = periods(first, last, granularity)
    async with deps.uow() as uow:
        timezone = await timezone_in_uow(uow, store_id)
        *figures, total = await uow.metrics.figures([*cut, Period(first, last)], scope)
    buckets = [Bucket(p, f) for p, f in zip(cut, figures, strict=True)]
    return Metrics(first, last, granularity, timezone, scope, buckets, total)
