"""Watching the logs for personal data."""

from __future__ import annotations

import logging
from typing import Any

from infra.logging import JsonFormatter

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
