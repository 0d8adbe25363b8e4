"""Segments: a named rule of the segment language (`segment_rules`) over member facts and tags,
kept with its daily size. Built-in segments are created on first read and may be edited and
archived, never deleted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

MAX_NAME = 60
MAX_HISTORY_DAYS = 366


class SegmentStatus(StrEnum):
    ACTIVE = "ACTIVE"
    ARCHIVED = "ARCHIVED"


@dataclass(frozen=True)
class Segment:
    id: UUID
    name: str
    rule: str  # as rendered by `segment_rules.render` (what `parse` reads back)
    built_in: bool
    status: SegmentStatus
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class SegmentSize:
    day: date  # the store-local day (Asia/Shanghai) the size was recorded on
    size: int


# Lifecycle (issue 19: new, active, at risk at 60 days, churned at 90) and the purchase-history
# levels of the reports the issue cites. Names are what staff see; the rules are editable.
BUILT_INS: tuple[tuple[str, str], ...] = (
    ("new", "first_order_days < 30"),
    ("active", "last_order_days < 60"),
    ("at_risk", "last_order_days >= 60 AND last_order_days < 90"),
    ("churned", "last_order_days >= 90"),
    ("high_value", "orders_30 >= 3 AND avg_order_value > ¥800"),
    ("repeat_buyers", "orders_365 >= 2"),
    ("one_time_buyers", "orders_365 = 1"),
)


def clean_name(name: str) -> str | None:
    """The name as stored, or None when it is not 1-60 printable characters."""
    clean = " ".join(name.split())
    if not 1 <= len(clean) <= MAX_NAME or any(ord(c) < 32 for c in clean):
        return None
    return clean
