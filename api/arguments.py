"""Query arguments shared by every read resolver: global ids and cursor pages. A bad one is
a top-level error with the domain's code (queries have no payload to carry it)."""

from __future__ import annotations

from uuid import UUID

from api.errors import ApiError
from api.relay import decode_cursor, decode_id
from domain.errors import DomainError
from domain.pagination import PageRequest


def top_level_error(error: DomainError) -> ApiError:
    return ApiError(error.code.value, error.message, field=error.field)


def page_args(first: int | None, after: str | None) -> PageRequest:
    try:
        return PageRequest.of(first, decode_cursor(after))
    except DomainError as error:
        raise top_level_error(error) from None


def id_arg(value: str, type_name: str, field: str = "id") -> UUID:
    try:
        return decode_id(value, type_name, field)
    except DomainError as error:
        raise top_level_error(error) from None
