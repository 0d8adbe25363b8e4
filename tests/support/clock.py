"""The tests' clock: real time plus an offset the test moves, and store-local dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from domain.locations.model import DEFAULT_TIMEZONE

STORE_ZONE = ZoneInfo(DEFAULT_TIMEZONE)  # the zone stores are created in


class MovableClock:
    """Real time plus an offset the test can move.

    Every date a test builds comes from here, in the stores' zone: `today()`, `put(day)`.
    A UTC date (`now().date()`) is the wrong day from 16:00 to 24:00 UTC.
    """

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta

    def reset(self) -> None:
        self.offset = timedelta()

    def today(self) -> date:
        """The store-local date right now."""
        return local_date(self.now())

    def put(self, day: date, hour: int = 10) -> None:
        """Make `now()` the given store-local moment (time then runs on from there)."""
        target = datetime(day.year, day.month, day.day, hour, tzinfo=STORE_ZONE)
        self.offset = target - datetime.now(UTC)


def local_date(moment: datetime) -> date:
    """The store-local date of a moment."""
    return moment.astimezone(STORE_ZONE).date()
