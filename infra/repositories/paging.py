"""Keyset paging helpers shared by the repositories."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar
from uuid import UUID

from domain.pagination import Page, PageRequest, not_a_cursor
from infra.db import sql


class _HasId(Protocol):
    @property
    def id(self) -> UUID: ...


T = TypeVar("T", bound=_HasId)


def after_uuid(key: str) -> UUID:
    """Lists ordered by id use the last id seen as the cursor's sort key."""
    try:
        return UUID(key)
    except ValueError:
        raise not_a_cursor() from None


async def id_page(
    select: str,
    page: PageRequest,
    read: Callable[[Any], T],
    filters: Sequence[tuple[str, Any]] = (),
    *,
    newest_first: bool = True,
) -> Page[T]:
    """One page of `select` (`SELECT … FROM table`, without WHERE) ordered by id: each
    `(column, value)` filter is `column = value` (a None value is no filter; a list or tuple
    of values is `column IN (…)`, and matches nothing when empty), the cursor is
    the last id seen, and one row more than the page says whether another follows."""
    conditions: list[str] = []
    values: list[Any] = []
    for column, value in filters:
        if isinstance(value, list | tuple):
            keys = list(dict.fromkeys(value))
            listed = sql.placeholders(len(keys), len(values) + 1)
            conditions.append(f"{column} IN ({listed})" if keys else "1 = 0")
            values.extend(keys)
        elif value is not None:
            values.append(value)
            conditions.append(f"{column} = ${len(values)}")
    if page.after is not None:
        values.append(after_uuid(page.after))
        conditions.append(f"id {'<' if newest_first else '>'} ${len(values)}")
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    order = "id DESC" if newest_first else "id"
    rows = await sql.fetch(f"{select}{where} ORDER BY {order} LIMIT {page.first + 1}", *values)
    found = [read(r) for r in rows]
    return Page.from_rows(found, [str(x.id) for x in found], page)
