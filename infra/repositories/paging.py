"""Keyset paging helpers shared by the repositories."""

from __future__ import annotations

from uuid import UUID

from domain.pagination import not_a_cursor


def after_uuid(key: str) -> UUID:
    """Lists ordered by id use the last id seen as the cursor's sort key."""
    try:
        return UUID(key)
    except ValueError:
        raise not_a_cursor() from None
