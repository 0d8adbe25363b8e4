"""GET /engagement/metrics.csv: what `metrics` answers, as CSV (one row per period, then the
total), for spreadsheets. Authenticated like /graphql; the same rule decides who reads which
store (the domain's), and a refusal is the JSON error body the other plain routes send.

Query parameters: from, to (2026-12-01), granularity (DAY, WEEK, MONTH; DAY when left out),
storeId (a Location id), channel (a SalesChannel)."""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.relay import decode_id
from domain.engagement import metrics
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
STATUS = {EngagementErrorCode.FORBIDDEN.value: 403, EngagementErrorCode.NOT_FOUND.value: 404}


def _refusal(code: str, message: str, status: int) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]}, status_code=status
    )


def _row(label: str, period: Period, figures: Figures) -> list[object]:
    values = [getattr(figures, name) for name in FIELDS]
    return [label, period.first_day, period.last_day, *("" if v is None else v for v in values)]


def metrics_csv(runtime: Runtime) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        principal = request.scope.get("state", {}).get("principal")
        if principal is None:
            return _refusal("UNAUTHENTICATED", "Send a staff access token.", 401)
        q = request.query_params
        try:
            store = q.get("storeId")
            found = await metrics.metrics(
                runtime.metrics,
                principal,
                metrics.parse_day(q.get("from"), "from"),
                metrics.parse_day(q.get("to"), "to"),
                metrics.parse_granularity(q.get("granularity")),
                decode_id(store, "Location", "storeId") if store else None,
                metrics.parse_channel(q.get("channel")),
            )
        except DomainError as error:
            return _refusal(error.code.value, error.message, STATUS.get(error.code.value, 400))
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["period", "first_day", "last_day", *FIELDS])
        for bucket in found.buckets:
            writer.writerow(_row("period", bucket.period, bucket.figures))
        writer.writerow(_row("total", Period(found.first_day, found.last_day), found.total))
        name = f"metrics-{found.first_day}-{found.last_day}.csv"
        return Response(
            out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{name}"',
                "Cache-Control": "no-store",
            },
        )

    return endpoint
