"""GET /engagement/metrics.csv: what `metrics` answers, as CSV (one row per period, then the
total), for spreadsheets; GET /engagement/cohorts.csv: what `cohorts` answers (one row per
cohort, then one per acquisition source). Authenticated like /graphql; the same rule decides
who reads which store (the domain's), and a refusal is the JSON error body the other plain
routes send.

Query parameters of metrics.csv: from, to (2026-12-01), granularity (DAY, WEEK, MONTH; DAY when
left out), storeId (a Location id), channel (a SalesChannel). Of cohorts.csv: from, to
(2026-01), storeId."""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING
from uuid import UUID

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.relay import decode_id
from domain.engagement import metrics, metrics_cohorts
from domain.engagement.metrics_cohorts_model import AGES, Cohorts
from domain.engagement.metrics_model import Figures, Period
from domain.errors import DomainError, EngagementErrorCode

if TYPE_CHECKING:
    from infra.runtime import Runtime

FIELDS = (
    "orders",
    "gmv",
    "average_order_value",
    "new_members",
    "active_members",
    "repeat_members",
    "repurchase_rate_bp",
    "coupons_used",
    "coupon_orders",
    "coupon_gmv",
    "handovers",
    "handover_median_seconds",
    "handover_p90_seconds",
    "handed_over",
    "with_after_sale",
    "after_sales_rate_bp",
    "subscriptions_active",
    "subscriptions_churned",
    "subscription_churn_bp",
)
COHORT_FIELDS = (
    "kind",
    "key",
    "members",
    "gmv",
    "lifetime_value",
    *(f"retention_{age}_bp" for age in range(1, AGES + 1)),
)
STATUS = {EngagementErrorCode.FORBIDDEN.value: 403, EngagementErrorCode.NOT_FOUND.value: 404}


def _refusal(code: str, message: str, status: int) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]}, status_code=status
    )


def _row(label: str, period: Period, figures: Figures) -> list[object]:
    values = [getattr(figures, name) for name in FIELDS]
    return [label, period.first_day, period.last_day, *("" if v is None else v for v in values)]


def _sheet(header: Sequence[str], rows: Iterable[Sequence[object]], name: str) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


def _store(request: Request) -> UUID | None:
    store = request.query_params.get("storeId")
    return decode_id(store, "Location", "storeId") if store else None


def metrics_csv(runtime: Runtime) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        principal = request.scope.get("state", {}).get("principal")
        if principal is None:
            return _refusal("UNAUTHENTICATED", "Send a staff access token.", 401)
        q = request.query_params
        try:
            found = await metrics.metrics(
                runtime.metrics,
                principal,
                metrics.parse_day(q.get("from"), "from"),
                metrics.parse_day(q.get("to"), "to"),
                metrics.parse_granularity(q.get("granularity")),
                _store(request),
                metrics.parse_channel(q.get("channel")),
            )
        except DomainError as error:
            return _refusal(error.code.value, error.message, STATUS.get(error.code.value, 400))
        rows = [_row("period", bucket.period, bucket.figures) for bucket in found.buckets]
        rows.append(_row("total", Period(found.first_day, found.last_day), found.total))
        header = ["period", "first_day", "last_day", *FIELDS]
        return _sheet(header, rows, f"metrics-{found.first_day}-{found.last_day}.csv")

    return endpoint


def _cohort_rows(found: Cohorts) -> list[list[object]]:
    """A cohort's retention cells for the months not begun yet are empty; a source has none."""
    rows: list[list[object]] = []
    for cohort in found.cohorts:
        retention = [*cohort.retention_bp, *[""] * (AGES - len(cohort.retention_bp))]
        key = cohort.month.strftime("%Y-%m")
        rows.append(["cohort", key, cohort.members, cohort.gmv, cohort.lifetime_value, *retention])
    for source in found.sources:
        value = [source.members, source.gmv, source.lifetime_value]
        rows.append(["source", source.source.value, *value, *[""] * AGES])
    return rows


def cohorts_csv(runtime: Runtime) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        principal = request.scope.get("state", {}).get("principal")
        if principal is None:
            return _refusal("UNAUTHENTICATED", "Send a staff access token.", 401)
        first, last = request.query_params.get("from", ""), request.query_params.get("to", "")
        try:
            found = await metrics_cohorts.cohorts(
                runtime.metrics, principal, first, last, _store(request)
            )
        except DomainError as error:
            return _refusal(error.code.value, error.message, STATUS.get(error.code.value, 400))
        months = [c.month.strftime("%Y-%m") for c in found.cohorts]
        name = f"cohorts-{months[0]}-{months[-1]}.csv"  # as parsed: nothing the client typed
        return _sheet(COHORT_FIELDS, _cohort_rows(found), name)

    return endpoint
