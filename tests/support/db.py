"""The test database and SQL statement counting."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from tortoise import Tortoise

from infra.cache import ReadCache


def test_database_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url:
        url = f"sqlite://{tempfile.mkdtemp()}/test.sqlite3"
    return url


def is_postgres(url: str) -> bool:
    return url.startswith(("postgres://", "postgresql://"))


def table_names() -> list[str]:
    return [model._meta.db_table for model in Tortoise.apps["models"].values()]


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
