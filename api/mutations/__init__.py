"""Mutations, one module per context; each resolver parses input, calls one use case, maps."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from api.errors import user_error
from domain.errors import DomainError

T = TypeVar("T")


async def attempt(
    error_type: type, action: Callable[[], Awaitable[T]]
) -> tuple[T | None, list[Any]]:
    """Run one use case; expected failures become the payload's typed errors."""
    try:
        return await action(), []
    except DomainError as error:
        return None, [user_error(error_type, error)]
