"""What the metrics service reads: a read model over the orders, hand-overs, coupons,
subscriptions and after-sales of the other contexts (SQL in infra, one statement per family
of figures whatever the number of periods)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from domain.engagement.metrics_model import Figures, Scope, Window


class MetricsReadModel(Protocol):
    async def figures(self, windows: Sequence[Window], scope: Scope) -> list[Figures]:
        """The figures of each window, in the windows' order; windows may overlap."""
        ...
