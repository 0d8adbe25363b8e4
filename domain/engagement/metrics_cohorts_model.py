"""Monthly cohorts: members grouped by the month of their first order (on the stores' wall
clock), the share of each cohort still buying 1..12 months later, and lifetime value by
cohort and by how members came (acquisition source)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from uuid import UUID

from domain.engagement.metrics_model import Period, share_bp

MAX_COHORTS = 24  # months of first orders one call reads
AGES = 12  # months after the first one


class AcquisitionSource(StrEnum):
    REFERRAL = "REFERRAL"  # growth attributed the member to a referrer (not refused)
    GROUP_BUY = "GROUP_BUY"  # the first order was a group-buy seat
    STORE = "STORE"  # the first order was made in a store (POS or kiosk)
    MINI_PROGRAM = "MINI_PROGRAM"  # otherwise (mini-program, H5, customer service)


def next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def months(first: date, count: int) -> list[Period]:
    """`count` calendar months from the one holding `first`."""
    found: list[Period] = []
    start = first.replace(day=1)
    for _ in range(count):
        following = next_month(start)
        found.append(Period(start, date.fromordinal(following.toordinal() - 1)))
        start = following
    return found


@dataclass(frozen=True)
class CohortFigures:
    """The read model's answer, by month index (0: the first cohort's month)."""

    sizes: dict[int, tuple[int, int]] = field(default_factory=dict)  # month -> (members, gmv)
    active: dict[tuple[int, int], int] = field(default_factory=dict)  # (month, age) -> members
    sources: dict[AcquisitionSource, tuple[int, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class Cohort:
    month: date  # its first day
    members: int
    gmv: int  # fen, every order of its members to date, less refunds
    retention_bp: list[int]  # months 1.. after, as many as have begun

    @property
    def lifetime_value(self) -> int:
        return self.gmv // self.members if self.members else 0


@dataclass(frozen=True)
class SourceValue:
    source: AcquisitionSource
    members: int
    gmv: int

    @property
    def lifetime_value(self) -> int:
        return self.gmv // self.members if self.members else 0


@dataclass(frozen=True)
class Cohorts:
    timezone: str
    store_id: UUID | None
    cohorts: list[Cohort]
    sources: list[SourceValue]


def assemble(
    cut: list[Period], cohorts: int, begun: int, figures: CohortFigures
) -> tuple[list[Cohort], list[SourceValue]]:
    """The first `cohorts` months of `cut` as cohorts; ages up to month `begun - 1` of `cut`
    (those that have begun)."""
    found = []
    for c in range(cohorts):
        members, gmv = figures.sizes.get(c, (0, 0))
        ages = range(1, min(AGES, begun - 1 - c) + 1)
        retention = [share_bp(figures.active.get((c, age), 0), members) for age in ages]
        found.append(Cohort(cut[c].first_day, members, gmv, retention))
    sources = [SourceValue(s, *figures.sources.get(s, (0, 0))) for s in AcquisitionSource]
    return found, sources
