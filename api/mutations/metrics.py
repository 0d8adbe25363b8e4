"""Metrics rollups (engagement, issue 19): ADMIN rebuilds one store-local day's rollups now."""

from __future__ import annotations

from datetime import date

import strawberry
from strawberry.types import Info

from api.context import Context
from api.errors import EngagementUserError
from api.mutations import actor, mutate
from api.permissions import IsAdmin
from domain.engagement.metrics_rollup import rebuild_metrics_day


@strawberry.input
class RebuildMetricsDayInput:
    day: date = strawberry.field(description="A store-local day (every store, on its clock).")


@strawberry.type
class RebuildMetricsDayPayload:
    day: date | None = strawberry.field(default=None, description="The day rebuilt.")
    errors: list[EngagementUserError] = strawberry.field(default_factory=list)


@strawberry.type
class MetricsMutations:
    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Rebuild one day's metrics rollups from the orders now (idempotent).",
    )
    async def rebuild_metrics_day(
        self, info: Info[Context, object], input: RebuildMetricsDayInput
    ) -> RebuildMetricsDayPayload:
        deps, who = info.context.runtime.metrics, actor(info)
        return await mutate(
            RebuildMetricsDayPayload,
            EngagementUserError,
            lambda: rebuild_metrics_day(deps, who, input.day),
            lambda _: RebuildMetricsDayPayload(day=input.day),
        )
