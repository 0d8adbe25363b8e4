"""Keyset pages shared by every list: a request (first, after) and a page of items."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar
from uuid import UUID

from domain.errors import CommonError, CommonErrorCode

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class PageRequest:
    first: int = DEFAULT_PAGE_SIZE
    after: str | None = None  # opaque sort key of the last item seen

    @classmethod
    def of(cls, first: int | None, after: str | None) -> PageRequest:
        size = DEFAULT_PAGE_SIZE if first is None else first
        if size < 0 or size > MAX_PAGE_SIZE:
            raise CommonError(
                CommonErrorCode.INVALID_INPUT,
                f"`first` must be between 0 and {MAX_PAGE_SIZE}; got {size}.",
                ["first"],
            )
        return cls(first=size, after=after)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    keys: Sequence[str]  # sort key of each item, used as its cursor
    has_next: bool
    has_previous: bool

    @classmethod
    def from_rows(cls, rows: Sequence[T], keys: Sequence[str], request: PageRequest) -> Page[T]:
        """`rows` were fetched with limit first+1: the extra row only says there is more."""
        return cls(
            items=list(rows[: request.first]),
            keys=list(keys[: request.first]),
            has_next=len(rows) > request.first,
            has_previous=request.after is not None,
        )


def change_key(at: datetime, key: UUID) -> str:
    """The cursor of a list ordered by last change, oldest first: the change's time (UTC, fixed
    width, so the text sorts as the time does) and the id that breaks ties."""
    return f"{at.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}|{key}"


def parse_change_key(text: str) -> tuple[datetime, UUID]:
    at, _, key = text.partition("|")
    try:
        return datetime.strptime(at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC), UUID(key)
    except ValueError:
        raise not_a_cursor() from None


def not_a_cursor() -> CommonError:
    """`after` that no page of this list gave out."""
    return CommonError(
        CommonErrorCode.INVALID_INPUT,
        "`after` is not a cursor from this list; pass a `cursor` or `endCursor` as given.",
        ["after"],
    )
