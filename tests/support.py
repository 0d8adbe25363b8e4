"""Shared test helpers: the test database, a movable clock, SQL statement counting."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise import Tortoise

from domain.locations.model import DEFAULT_TIMEZONE
from infra.cache import ReadCache
from infra.logging import JsonFormatter


def test_database_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url:
        url = f"sqlite://{tempfile.mkdtemp()}/test.sqlite3"
    return url


def is_postgres(url: str) -> bool:
    return url.startswith(("postgres://", "postgresql://"))


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


def table_names() -> list[str]:
    return [model._meta.db_table for model in Tortoise.apps["models"].values()]  # type: ignore[index]


class _Counter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if text.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")):
            self.statements.append(text)


@contextmanager
def count_sql(*, cold: bool = True) -> Iterator[list[str]]:
    """Collect the SQL statements Tortoise sends while the block runs; by default from cold
    caches (the catalog and the locations are otherwise read once and kept): the worst case."""
    if cold:
        ReadCache.clear_all()
    logger = logging.getLogger("tortoise.db_client")
    handler = _Counter()
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield handler.statements
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


# Loggers production keeps at WARNING (infra/logging.py): their DEBUG lines carry SQL values.
_QUIET = ("tortoise", "aiosqlite", "asyncpg", "asyncio", "httpx", "httpcore")


class PiiWatch(logging.Handler):
    """Every log line at INFO and above, formatted as production writes it (JSON, extras
    included), and every identifier value the vault hashed (phones, openids, cards...):
    `leaks()` names the values found in the lines."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []
        self.values: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(_QUIET):
            self.lines.append(self.format(record))

    def watch(self, vault: Any) -> None:
        hash_ = vault.lookup_hash

        def recording(namespace: str, value: str) -> str:
            if len(value) >= 6:
                self.values.add(value)
            return str(hash_(namespace, value))

        vault.lookup_hash = recording

    def leaks(self) -> list[tuple[str, str]]:
        """(value, the first line holding it) for each watched value found in a line."""
        found = []
        for value in sorted(self.values):
            line = next((line for line in self.lines if value in line), None)
            if line is not None:
                found.append((value, line))
        return found

    def forget(self) -> None:
        self.lines.clear()
        self.values.clear()
