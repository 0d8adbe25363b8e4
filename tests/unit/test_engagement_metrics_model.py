"""The metrics' pure pieces: periods cut on the calendar (weeks Monday-Sunday, months, both
ends clipped), store-local windows across a daylight-saving change, shares in basis points,
and the percentile the rollups' histogram answers as PostgreSQL's `percentile_cont` does."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from domain.engagement.metrics_cohorts_model import months
from domain.engagement.metrics_model import (
    Granularity,
    Period,
    percentile_of_histogram,
    periods,
    share_bp,
)


def _days(found: list[Period]) -> list[tuple[str, str]]:
    return [(p.first_day.isoformat(), p.last_day.isoformat()) for p in found]


def test_periods_cut_days_weeks_and_months_clipped_at_the_ends() -> None:
    first, last = date(2026, 11, 27), date(2026, 12, 9)  # a Friday to a Wednesday
    assert len(periods(first, last, Granularity.DAY)) == 13
    assert _days(periods(first, last, Granularity.WEEK)) == [
        ("2026-11-27", "2026-11-29"),
        ("2026-11-30", "2026-12-06"),
        ("2026-12-07", "2026-12-09"),
    ]
    assert _days(periods(date(2026, 11, 15), date(2027, 1, 3), Granularity.MONTH)) == [
        ("2026-11-15", "2026-11-30"),
        ("2026-12-01", "2026-12-31"),
        ("2027-01-01", "2027-01-03"),
    ]
    assert _days(months(date(2026, 12, 10), 2)) == [
        ("2026-12-01", "2026-12-31"),
        ("2027-01-01", "2027-01-31"),
    ]


def test_a_window_is_the_store_local_day() -> None:
    shanghai = Period(date(2026, 12, 6), date(2026, 12, 6)).window(ZoneInfo("Asia/Shanghai"))
    assert shanghai.start == datetime(2026, 12, 5, 16, tzinfo=UTC)
    assert shanghai.end == datetime(2026, 12, 6, 16, tzinfo=UTC)
    # A day of 23 hours where clocks go forward.
    berlin = Period(date(2026, 3, 29), date(2026, 3, 29)).window(ZoneInfo("Europe/Berlin"))
    assert (berlin.end - berlin.start).total_seconds() == 23 * 3600


def test_shares_and_percentiles() -> None:
    assert share_bp(1, 3) == 3333 and share_bp(2, 3) == 6667 and share_bp(0, 0) == 0
    assert share_bp(1, 2) == 5000 and share_bp(3, 3) == 10_000
    assert percentile_of_histogram([], 50) is None
    assert percentile_of_histogram([(120, 0)], 50) is None
    assert percentile_of_histogram([(120, 1)], 90) == 120
    four = [(120, 1), (180, 1), (300, 1), (600, 1)]
    assert percentile_of_histogram(four, 50) == 240
    assert percentile_of_histogram(four, 90) == 510
    # Counts stand for repeated values: 180 s three times is the list 120, 180, 180, 180, 600.
    repeated = [(120, 1), (180, 3), (600, 1)]
    assert percentile_of_histogram(repeated, 50) == 180
    assert percentile_of_histogram(repeated, 90) == 432  # 180 + 0.6 * (600 - 180)
