"""The segment rule language on PostgreSQL: for random rules and members, the WHERE that
`to_sql` compiles picks exactly the members `matches` picks in Python, over tables shaped like
the real `member_facts`, `tag` and `member_tag` (temporary copies, `LIKE` the migrated ones:
the same column types, so parameters bind as production binds them)."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.engagement.segment_rules import Rule, matches, render, to_sql
from tests.support import is_postgres
from tests.support.segment_rules import (
    COLUMNS,
    NOW,
    RULES,
    TAGS,
    boundary_members,
    boundary_rules,
    member_facts_row,
)

MEMBERS = st.lists(member_facts_row(), min_size=1, max_size=12)
TAG_IDS = {name: UUID(int=n + 1) for n, name in enumerate(TAGS)}


async def _tables(db: asyncpg.Connection) -> None:
    for table in ("member_facts", "tag", "member_tag"):
        await db.execute(f"CREATE TEMP TABLE {table} (LIKE public.{table} INCLUDING DEFAULTS)")
    for name, key in TAG_IDS.items():
        await db.execute(
            "INSERT INTO tag VALUES ($1, $2, 'MANUAL', '', NULL, 't', now())", key, name
        )


def _full(row: dict[str, Any]) -> dict[str, Any]:
    """A member_facts row: the drawn facts, zeros and FALSE for NOT NULL columns left out."""
    full = {c: row.get(c) for c in COLUMNS}
    for column, value in full.items():
        if value is None and column not in NULLABLE:
            full[column] = False if column.startswith("marketing_") else 0
    return full


NULLABLE = {"first_order_at", "last_order_at", "tier", "preferred_channel", "rfm_segment"}
NULLABLE |= {"r_score", "f_score", "m_score"}


async def _picked(
    db: asyncpg.Connection, rule: Rule, rows: list[dict[str, Any]], tags_of: dict[int, set[str]]
) -> set[int]:
    ids = [uuid4() for _ in rows]
    async with db.transaction():
        for key, row in zip(ids, rows, strict=True):
            names = ", ".join(["member_id", *COLUMNS, "updated_at"])
            marks = ", ".join(f"${n}" for n in range(1, len(COLUMNS) + 3))
            await db.execute(
                f"INSERT INTO member_facts ({names}) SELECT {marks}",
                key,
                *(row[c] for c in COLUMNS),
                NOW,
            )
        for n, names_of in tags_of.items():
            for name in names_of:
                await db.execute(
                    "INSERT INTO member_tag VALUES ($1, $2, $3, 't', 'r', now())",
                    uuid4(),
                    ids[n],
                    TAG_IDS[name],
                )
        where, params = to_sql(rule, NOW)
        found = await db.fetch(f"SELECT member_id FROM member_facts f WHERE {where}", *params)
        await db.execute("DELETE FROM member_tag")
        await db.execute("DELETE FROM member_facts")
    picked = {r["member_id"] for r in found}
    return {n for n, key in enumerate(ids) if key in picked}


def _connected(database_url: str) -> tuple[asyncio.AbstractEventLoop, asyncpg.Connection]:
    if not is_postgres(database_url):
        pytest.skip("the SQLite run is tests/unit/test_segment_rules.py")
    loop = asyncio.new_event_loop()
    db: asyncpg.Connection = loop.run_until_complete(asyncpg.connect(database_url))
    loop.run_until_complete(_tables(db))
    return loop, db


def test_days_since_agree_at_every_boundary_on_postgres(database_url: str) -> None:
    loop, db = _connected(database_url)
    try:
        rows = [_full(r) for r in boundary_members()]
        for op in ("=", "!=", "<", "<=", ">", ">="):
            for rule in boundary_rules(op, False) + boundary_rules(op, True):
                expected = {n for n, row in enumerate(rows) if matches(rule, row, (), NOW)}
                picked = loop.run_until_complete(_picked(db, rule, rows, {}))
                assert picked == expected, render(rule)
                assert 0 < len(expected) < len(rows)  # the boundary splits them
    finally:
        loop.run_until_complete(db.close())
        loop.close()


def test_postgres_and_python_pick_the_same_members(database_url: str) -> None:
    loop, db = _connected(database_url)
    try:

        @given(RULES, MEMBERS, st.lists(st.sampled_from(TAGS)))
        @settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
        def agree(rule: Rule, drawn: list[dict[str, Any]], tagged: list[str]) -> None:
            rows = [_full(r) for r in drawn]
            tags_of = {
                n: {t for i, t in enumerate(tagged) if i % len(rows) == n} for n in range(len(rows))
            }
            expected = {n for n, row in enumerate(rows) if matches(rule, row, tags_of[n], NOW)}
            assert loop.run_until_complete(_picked(db, rule, rows, tags_of)) == expected, render(
                rule
            )

        agree()
    finally:
        loop.run_until_complete(db.close())
        loop.close()
