"""What the metrics service reads: a read model over the orders, hand-overs, coupons,
subscriptions and after-sales of the other contexts (SQL in infra, one statement per family
of figures whatever the number of periods)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

from domain.engagement.metrics_cohorts_model import CohortFigures
from domain.engagement.metrics_model import Figures, Scope, Window


class MetricsReadModel(Protocol):
    async def figures(self, windows: Sequence[Window], scope: Scope) -> list[Figures]:
        """The figures of each window, in the windows' order; windows may overlap."""
        ...

    async def cohorts(
        self, months: Sequence[Window], cohorts: int, store_id: UUID | None
    ) -> CohortFigures:
        """Members whose first order (at the store, if one is named) falls in one of the first
        `cohorts` months: per cohort its size and its members' money to date, per cohort and
        later month how many bought, per acquisition source its members and their money."""
        ...
