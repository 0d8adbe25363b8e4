"""The committed schema.graphql is the contract: it must be what the code serves."""

from __future__ import annotations

import difflib
from pathlib import Path

from api.schema import schema_sdl

ROOT = Path(__file__).resolve().parents[2]


def test_committed_schema_is_current() -> None:
    committed = (ROOT / "schema.graphql").read_text(encoding="utf-8")
    current = schema_sdl()
    if committed != current:
        diff = "".join(
            difflib.unified_diff(
                committed.splitlines(keepends=True),
                current.splitlines(keepends=True),
                "schema.graphql (committed)",
                "schema (from code)",
            )
        )
        raise AssertionError(
            "schema.graphql is stale; run `make schema` (omnishelf export-schema) and commit.\n"
            + diff
        )
