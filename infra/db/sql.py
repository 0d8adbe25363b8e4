"""Raw SQL for the few statements the ORM cannot say (conditional updates, upserts),
written once with $n placeholders and run on PostgreSQL or SQLite."""

from __future__ import annotations

import re
from datetime import datetime
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
    converted = [
        str(v) if isinstance(v, UUID) else v.isoformat(" ") if isinstance(v, datetime) else v
        for v in values
    ]
    return _PLACEHOLDER.sub(r"?\1", sql), converted


async def execute(sql: str, *values: Any) -> int:
    """Run an UPDATE or DELETE; returns the number of rows it changed. (For INSERT use
    `fetch` with RETURNING: asyncpg's INSERT status carries no usable row count.)"""
    client = _client()
    text, params = _prepare(client, sql, values)
    count, _ = await client.execute_query(text, params)
    return int(count)


async def fetch(sql: str, *values: Any) -> list[dict[str, Any]]:
    client = _client()
    text, params = _prepare(client, sql, values)
    return [dict(row) for row in await client.execute_query_dict(text, params)]


def is_sqlite() -> bool:
    return _is_sqlite(_client())


def as_uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))
