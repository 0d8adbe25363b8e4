"""Storage of tags (tables `tag`, `member_tag`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from domain.engagement.tags_model import MemberTag, Tag, TagRule
from domain.pagination import Page, PageRequest


class TagRepository(Protocol):
    async def add(self, tag: Tag) -> bool:
        """Insert unless a tag has this name (False: the name is taken, also in a race)."""
        ...

    async def get(self, tag_id: UUID) -> Tag | None: ...
    async def get_many(self, tag_ids: Sequence[UUID]) -> list[Tag]: ...
    async def all(self) -> list[Tag]: ...
    async def tag(self, member_tag: MemberTag) -> bool:
        """Put the tag on the member unless it is there (True: added now)."""
        ...

    async def untag(self, member_id: UUID, tag_id: UUID) -> bool: ...
    async def of_members(self, member_ids: Sequence[UUID]) -> list[MemberTag]:
        """In one statement, oldest first."""
        ...

    async def having_all(self, member_ids: Sequence[UUID], tag_ids: Sequence[UUID]) -> set[UUID]:
        """Of these members, those carrying every one of the tags."""
        ...

    async def tagged_page(self, tag_ids: Sequence[UUID], page: PageRequest) -> Page[UUID]:
        """Active members carrying every one of the tags, by id (keyset)."""
        ...

    async def apply_rule(self, tag_id: UUID, rule: TagRule, at: datetime) -> int:
        """Set-based: the tag on exactly the members whose facts satisfy the rule (the rows
        added and removed)."""
        ...

    async def move_member(self, source: UUID, target: UUID) -> None:
        """A merge: the survivor carries the absorbed member's tags too."""
        ...

    async def erase_member(self, member_id: UUID) -> None: ...
