"""RFM: recency, frequency and monetary scores 1-5 by quintiles over the members with an order
in 365 days, and the classic segments.

A member's score for one measure is `1 + 5 * below // population`, where `below` counts the
scored members strictly worse on that measure: the worst fifth scores 1, the best fifth 5,
and equal values always score the same (ties never split across quintiles). Recency is the
last order's time (later is better), frequency `orders_365`, monetary `spend_365`.

Segments, first match wins (F and M read as "how much", R as "how lately"):

| segment     | R    | F    | M    |
|-------------|------|------|------|
| champions   | ≥ 4  | ≥ 4  | ≥ 4  |
| loyal       | ≥ 3  | ≥ 4  | any  |
| potential   | ≥ 3  | any  | any  |
| at_risk     | ≤ 2  | ≥ 3  | any  |
| hibernating | 2    | ≤ 2  | any  |
| lost        | 1    | ≤ 2  | any  |
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

QUINTILES = 5


class RfmSegment(StrEnum):
    CHAMPIONS = "champions"
    LOYAL = "loyal"
    POTENTIAL = "potential"
    AT_RISK = "at_risk"
    HIBERNATING = "hibernating"
    LOST = "lost"


@dataclass(frozen=True)
class SegmentRule:
    segment: RfmSegment
    r: tuple[int, int]  # inclusive bounds
    f: tuple[int, int]
    m: tuple[int, int]

    def matches(self, r: int, f: int, m: int) -> bool:
        return all(lo <= v <= hi for v, (lo, hi) in ((r, self.r), (f, self.f), (m, self.m)))


ANY = (1, QUINTILES)
SEGMENT_RULES: tuple[SegmentRule, ...] = (
    SegmentRule(RfmSegment.CHAMPIONS, (4, 5), (4, 5), (4, 5)),
    SegmentRule(RfmSegment.LOYAL, (3, 5), (4, 5), ANY),
    SegmentRule(RfmSegment.POTENTIAL, (3, 5), ANY, ANY),
    SegmentRule(RfmSegment.AT_RISK, (1, 2), (3, 5), ANY),
    SegmentRule(RfmSegment.HIBERNATING, (2, 2), (1, 2), ANY),
    SegmentRule(RfmSegment.LOST, (1, 1), (1, 2), ANY),
)


def quintile_score(below: int, population: int) -> int:
    """The score of a value that `below` of `population` scored values are strictly worse
    than (the rebuild's SQL computes the same with RANK() - 1 and COUNT(*))."""
    if population <= 0 or not 0 <= below < population:
        raise ValueError("below must be in [0, population)")
    return 1 + QUINTILES * below // population


def scores(values: Sequence[int]) -> list[int]:
    """Each value's quintile score among all of them (higher is better)."""
    ordered = sorted(values)
    below: dict[int, int] = {}
    for i, v in enumerate(ordered):
        below.setdefault(v, i)
    return [quintile_score(below[v], len(values)) for v in values]


def segment_of(r: int, f: int, m: int) -> RfmSegment:
    for rule in SEGMENT_RULES:
        if rule.matches(r, f, m):
            return rule.segment
    raise ValueError(f"scores out of range: {r}, {f}, {m}")
