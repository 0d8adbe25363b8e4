"""What the metrics service reads: daily rollups per store-local day, store and channel (built
by `metrics_rollup` from the orders, hand-overs, coupons, subscriptions and after-sales of the
other contexts; SQL in infra, one statement per family of figures whatever the number of
periods), and the cohorts' read model over the counted orders."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Protocol
from uuid import UUID

from domain.engagement.metrics_cohorts_model import CohortFigures
from domain.engagement.metrics_model import Figures, Period, Scope, Window


class MetricsReadModel(Protocol):
    async def figures(self, periods: Sequence[Period], scope: Scope) -> list[Figures]:
        """The figures of each period, in the periods' order, from the rollups alone (each
        store's days on its own clock); periods may overlap."""
        ...

    async def cohorts(
        self, months: Sequence[Window], cohorts: int, store_id: UUID | None
    ) -> CohortFigures:
        """Members whose first order (at the store, if one is named) falls in one of the first
        `cohorts` months: per cohort its size and its members' money to date, per cohort and
        later month how many bought, per acquisition source its members and their money."""
        ...

    async def zones(self) -> list[str]:
        """The timezones of the stores (each store's days follow its own clock)."""
        ...

    async def watermark(self) -> datetime | None:
        """Until when the rollups have looked at changes (None before the first run)."""
        ...

    async def set_watermark(self, at: datetime) -> None: ...

    async def changed_since(self, since: datetime) -> list[datetime]:
        """The moments whose days changes since `since` touched: of each order paid,
        cancelled, refunded, handed over or asked an after-sale about since then (and every
        order of a member who absorbed another since then) its payment, its hand-over and its
        member's first order."""
        ...

    async def earliest(self) -> datetime | None:
        """The first moment anything rolled up happened (a payment, a subscription)."""
        ...

    async def rebuild_day(self, day: date, zones: Sequence[str]) -> None:
        """Replace the rollups of one store-local day (every store, on its own clock) by what
        the source tables say now: delete, then insert, in the caller's transaction."""
        ...
