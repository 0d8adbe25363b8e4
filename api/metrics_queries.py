"""The numbers a brand runs on (issue 19): `metrics` per store-local day, week or month;
`cohorts` by month of first order."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import strawberry
from strawberry.types import Info

from api.arguments import top_level_error
from api.context import Context
from api.mutations import actor
from api.permissions import CanReadMetrics
from api.relay import decode_id
from api.types.metrics import Cohorts, Metrics
from domain.engagement import metrics, metrics_cohorts
from domain.engagement.metrics_model import Granularity
from domain.errors import DomainError
from domain.ordering.model import SalesChannel


@strawberry.type
class MetricsQueries:
    @strawberry.field(
        permission_classes=[CanReadMetrics],
        description="GMV, orders, members, repurchase, hand-over times, coupons, subscription "
        "churn and after-sales from `from` to `to` (store-local days, both included) per day, "
        "week (Monday-Sunday) or month, and in total. ADMIN: every store (the brand's default "
        "timezone) or one (its timezone); a STORE_MANAGER: one of their stores.",
    )
    async def metrics(
        self,
        info: Info[Context, object],
        from_: Annotated[date, strawberry.argument(name="from")],
        to: date,
        granularity: Granularity = Granularity.DAY,
        store_id: strawberry.ID | None = None,
        channel: SalesChannel | None = None,
    ) -> Metrics:
        try:
            store = decode_id(store_id, "Location", "storeId") if store_id else None
            found = await metrics.metrics(
                info.context.runtime.metrics, actor(info), from_, to, granularity, store, channel
            )
        except DomainError as error:
            raise top_level_error(error) from None
        return Metrics.from_domain(found)

    @strawberry.field(
        permission_classes=[CanReadMetrics],
        description='Monthly cohorts of first orders from `from` to `to` ("2026-01", at most '
        "24): size, the share still buying 1..12 months after, lifetime value, and lifetime "
        "value by acquisition source. Who may read: as `metrics`; a store's cohorts read its "
        "orders only.",
    )
    async def cohorts(
        self,
        info: Info[Context, object],
        from_: Annotated[str, strawberry.argument(name="from")],
        to: str,
        store_id: strawberry.ID | None = None,
    ) -> Cohorts:
        try:
            store = decode_id(store_id, "Location", "storeId") if store_id else None
            found = await metrics_cohorts.cohorts(
                info.context.runtime.metrics, actor(info), from_, to, store
            )
        except DomainError as error:
            raise top_level_error(error) from None
        return Cohorts.from_domain(found)
