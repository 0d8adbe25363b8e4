"""The operations of schema.graphql, for the property-based runs (schemathesis)."""

from __future__ import annotations

from pathlib import Path

import schemathesis

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = schemathesis.graphql.from_path(ROOT / "schema.graphql")
# Every operation of the checked-in schema is valid (test_schema_snapshot keeps it current).
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]  # type: ignore[union-attr]
