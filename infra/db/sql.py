"""Raw SQL, written once with $n placeholders and run on PostgreSQL or SQLite: the
statements the ORM cannot say (conditional updates, upserts) and those of the hot paths
(checkout, catalog and order reads), where building each statement through the ORM cost
more CPU than the round trip itself."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any
from uuid import UUID

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient

_PLACEHOLDER = re.compile(r"\$(\d+)")


def _client() -> BaseDBAsyncClient:
    client: BaseDBAsyncClient = connections.get("default")  # the transaction's, inside a UoW
    return client


def _is_sqlite(client: BaseDBAsyncClient) -> bool:
    return bool(client.capabilities.dialect == "sqlite")


def _prepare(client: BaseDBAsyncClient, sql: str, values: tuple[Any, ...]) -> tuple[str, list[Any]]:
    if not _is_sqlite(client):
        return sql, list(values)
    return _sqlite_text(sql), [_sqlite_value(v) for v in values]


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return _sqlite_datetime(value)
    if isinstance(value, date):  # as Tortoise stores a DateField: 2026-12-07
        return value.isoformat()
    return value


@functools.lru_cache(maxsize=256)
def _sqlite_text(sql: str) -> str:
    return _PLACEHOLDER.sub(r"?\1", sql)


def _sqlite_datetime(value: datetime) -> str:
    """As Tortoise stores an aware datetime on SQLite (UTC, ISO 8601 with a space)."""
    return (value.astimezone(UTC) if value.tzinfo else value).isoformat(" ")


async def execute(sql: str, *values: Any) -> int:
    """Run an UPDATE or DELETE; returns the number of rows it changed. (For INSERT use
    `fetch` with RETURNING: asyncpg's INSERT status carries no usable row count.)"""
    client = _client()
    text, params = _prepare(client, sql, values)
    count, _ = await client.execute_query(text, params)
    return int(count)


async def execute_many(sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """Run one statement for each row of values, in one call to the driver (asyncpg sends
    them pipelined, without a round trip each): the updates of many rows by key, each
    with its own values."""
    if not rows:
        return
    client = _client()
    prepared = [_prepare(client, sql, tuple(row)) for row in rows]
    await client.execute_many(prepared[0][0], [params for _, params in prepared])


async def fetch(sql: str, *values: Any) -> list[dict[str, Any]]:
    client = _client()
    text, params = _prepare(client, sql, values)
    rows: list[dict[str, Any]] = await client.execute_query_dict(text, params)
    return rows


async def fetch_rows(sql: str, *values: Any) -> Sequence[Any]:
    """Like `fetch`, without building a dict per row: the driver's rows, which take an index or
    a column name (`row[0]`, `row["id"]`). For hot reads of many rows."""
    client = _client()
    text, params = _prepare(client, sql, values)
    _, rows = await client.execute_query(text, params)
    return rows


async def insert(table: str, columns: tuple[str, ...], rows: Sequence[Sequence[Any]]) -> None:
    """Every row in one multi-row INSERT (one round trip). Values as the driver takes them:
    enum members as their `.value`, JSON as text (`as_json_text`)."""
    if not rows:
        return
    client = _client()
    text, params = _prepare(
        client, _insert_text(table, columns, len(rows)), tuple(v for row in rows for v in row)
    )
    await client.execute_query(text, params)


@functools.lru_cache(maxsize=256)
def _insert_text(table: str, columns: tuple[str, ...], count: int) -> str:
    width = len(columns)
    values = ", ".join(
        "(" + ", ".join(f"${row * width + n + 1}" for n in range(width)) + ")"
        for row in range(count)
    )
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values}"


InsertBatch = tuple[str, tuple[str, ...], Sequence[Sequence[Any]]]  # table, columns, rows


async def insert_all(batches: Sequence[InsertBatch]) -> None:
    """Several `insert`s in one round trip on PostgreSQL (one statement: each INSERT a
    data-modifying CTE; a foreign key to a row inserted in the same statement holds, as its
    check runs at the statement's end); one after another on SQLite."""
    batches = [b for b in batches if b[2]]
    client = _client()
    if len(batches) < 2 or _is_sqlite(client):
        for table, columns, rows in batches:
            await insert(table, columns, rows)
        return
    shapes = tuple((table, columns, len(rows)) for table, columns, rows in batches)
    values = tuple(v for _, _, rows in batches for row in rows for v in row)
    await client.execute_query(_insert_all_text(shapes), list(values))


@functools.lru_cache(maxsize=64)
def _insert_all_text(shapes: tuple[tuple[str, tuple[str, ...], int], ...]) -> str:
    texts, offset = [], 0
    for table, columns, count in shapes:
        texts.append(_shifted(_insert_text(table, columns, count), offset))
        offset += len(columns) * count
    *first, last = texts
    return "WITH " + ", ".join(f"w{n} AS ({t})" for n, t in enumerate(first)) + " " + last


def _shifted(text: str, by: int) -> str:
    """`text` with its placeholders $n renumbered $(n + by)."""
    return _PLACEHOLDER.sub(lambda m: f"${int(m.group(1)) + by}", text)


async def insert_row(table: str, row: Mapping[str, Any]) -> None:
    """One row given by column name (the writes of rarely changed tables: nothing to keep
    in step by position); values converted as by `update`."""
    await insert(table, tuple(row), [[as_driver_value(v) for v in row.values()]])


async def update(table: str, changes: Mapping[str, Any], where: str, *values: Any) -> int:
    """`UPDATE table SET <changes> WHERE <where>`, `where` naming `values` as $1..$n; returns
    the number of rows changed. The keys of `changes` are column names the repository chose,
    never input; enum members are sent as their value, dicts and lists as JSON text."""
    params = list(values)
    assignments = []
    for column, value in changes.items():
        params.append(as_driver_value(value))
        assignments.append(f"{column} = ${len(params)}")
    return await execute(f"UPDATE {table} SET {', '.join(assignments)} WHERE {where}", *params)


def as_driver_value(value: Any) -> Any:
    """A value as `insert` and `update` send it: an enum member's value, JSON as text."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict | list):
        return as_json_text(value)
    return value


def placeholders(count: int, start: int = 1) -> str:
    """`$start, ..., $(start + count - 1)`: an IN list that runs on both databases."""
    return ", ".join(f"${n}" for n in range(start, start + count))


def is_sqlite() -> bool:
    return _is_sqlite(_client())


def as_uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def as_optional_uuid(value: Any) -> UUID | None:
    return None if value is None else as_uuid(value)


def as_datetime(value: Any) -> datetime:
    """A timestamp column: asyncpg gives an aware datetime, SQLite the text Tortoise wrote."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def as_optional_datetime(value: Any) -> datetime | None:
    return None if value is None else as_datetime(value)


def as_optional_date(value: Any) -> date | None:
    """A DATE column: asyncpg gives a date, SQLite the ISO text."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def as_json(value: Any) -> Any:
    """A JSON column: text from both drivers (no codec is registered)."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def as_json_text(value: Any) -> str:
    return json.dumps(value)
