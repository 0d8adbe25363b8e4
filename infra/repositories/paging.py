"""Keyset paging helpers shared by the repositories."""

from __future__ import annotations

from uuid import UUID

from domain.errors import CommonError, CommonErrorCode


def after_uuid(key: str) -> UUID:
    """Lists ordered by id use the last id seen as the cursor's sort key."""
    try:
        return UUID(key)
    except ValueError:
        raise CommonError(
            CommonErrorCode.INVALID_INPUT,
            "`after` is not a cursor from this list; pass a `cursor` or `endCursor` as given.",
            ["after"],
        ) from None
