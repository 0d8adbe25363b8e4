"""Relay conventions: global ids, the Node interface and keyset cursor connections."""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Callable, Sequence
from typing import Generic, Self, TypeVar
from uuid import UUID

import strawberry

from domain.errors import CommonError, CommonErrorCode
from domain.pagination import Page, not_a_cursor

T = TypeVar("T")
D = TypeVar("D")


@functools.lru_cache(maxsize=65_536)
def encode_id(type_name: str, value: UUID) -> strawberry.ID:
    """`base64("Type:uuid")`; remembered, as a page names the same few thousand objects."""
    return strawberry.ID(base64.b64encode(f"{type_name}:{value}".encode()).decode())


def decode_id(
    global_id: str, expected: str | Sequence[str], field: str | Sequence[str] = "id"
) -> UUID:
    """Parse `base64("Type:uuid")`; a malformed id or one of another type is INVALID_ID."""
    type_name, value = decode_any_id(global_id, field)
    allowed = (expected,) if isinstance(expected, str) else tuple(expected)
    if type_name not in allowed:
        raise CommonError(
            CommonErrorCode.INVALID_ID,
            f"Expected the id of a {' or '.join(allowed)}, got the id of a {type_name}.",
            [field] if isinstance(field, str) else field,
        )
    return value


def decode_any_id(global_id: str, field: str | Sequence[str] = "id") -> tuple[str, UUID]:
    path = [field] if isinstance(field, str) else list(field)
    try:
        raw = base64.b64decode(global_id.encode(), validate=True).decode()
        type_name, _, value = raw.partition(":")
        return type_name, UUID(value)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise CommonError(
            CommonErrorCode.INVALID_ID,
            f"{global_id[:40]!r} is not a valid id; use an `id` returned by this API.",
            path,
        ) from None


def encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(f"c:{key}".encode()).decode()


def decode_cursor(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    if not raw.startswith("c:") or len(raw) > 200:
        raise not_a_cursor()
    return raw[2:]


@strawberry.interface(description="An object with a global id (Relay).")
class Node:
    id: strawberry.ID


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo

    @strawberry.field(description="The nodes of `edges`, for clients that need no cursors.")
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]

    @classmethod
    def from_page(cls, page: Page[D], convert: Callable[[D], T]) -> Self:
        cursors = [encode_cursor(k) for k in page.keys]
        return cls(
            edges=[
                Edge(cursor=c, node=convert(i)) for c, i in zip(cursors, page.items, strict=True)
            ],
            page_info=PageInfo(
                has_next_page=page.has_next,
                has_previous_page=page.has_previous,
                start_cursor=cursors[0] if cursors else None,
                end_cursor=cursors[-1] if cursors else None,
            ),
        )
