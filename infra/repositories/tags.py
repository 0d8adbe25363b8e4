"""Tags and members' tags (engagement)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from domain.engagement.facts_model import RULE_FACTS
from domain.engagement.tags_model import RULE_OPERATORS, MemberTag, Tag, TagRule, parse_rule
from domain.engagement.tags_ports import TagRepository
from domain.ids import new_id
from domain.pagination import Page, PageRequest
from infra.db import sql
from infra.db.models.tags import MemberTagRow, TagRow
from infra.repositories.paging import after_uuid

TAG_COLUMNS = ("id", "name", "kind", "description", "rule", "created_by", "created_at")
MEMBER_TAG_COLUMNS = ("id", "member_id", "tag_id", "actor", "reason", "tagged_at")
RULE_BATCH = 500


def _tag(row: TagRow) -> Tag:
    return Tag(
        id=row.id,
        name=row.name,
        kind=row.kind,
        description=row.description,
        rule=parse_rule(row.rule) if row.rule else None,
        created_by=row.created_by,
        created_at=row.created_at,
    )


def _member_tag(row: MemberTagRow) -> MemberTag:
    return MemberTag(row.member_id, row.tag_id, row.actor, row.reason, row.tagged_at)


class TortoiseTagRepository(TagRepository):
    async def add(self, tag: Tag) -> bool:
        values = [tag.id, tag.name, tag.kind.value, tag.description]
        values += [str(tag.rule) if tag.rule else None, tag.created_by, tag.created_at]
        inserted = await sql.fetch(
            f"INSERT INTO tag ({', '.join(TAG_COLUMNS)}) "
            f"VALUES ({sql.placeholders(len(TAG_COLUMNS))}) "
            "ON CONFLICT (name) DO NOTHING RETURNING id",
            *values,
        )
        return bool(inserted)

    async def get(self, tag_id: UUID) -> Tag | None:
        row = await TagRow.get_or_none(id=tag_id)
        return _tag(row) if row else None

    async def get_many(self, tag_ids: Sequence[UUID]) -> list[Tag]:
        if not tag_ids:
            return []
        return [_tag(r) for r in await TagRow.filter(id__in=list(tag_ids))]

    async def all(self) -> list[Tag]:
        return [_tag(r) for r in await TagRow.all().order_by("name")]

    async def tag(self, member_tag: MemberTag) -> bool:
        # ON CONFLICT, not a caught IntegrityError: a failed insert aborts PostgreSQL's
        # transaction. Two taggings at once: one row, the first's actor and reason.
        inserted = await sql.fetch(
            f"INSERT INTO member_tag ({', '.join(MEMBER_TAG_COLUMNS)}) "
            f"VALUES ({sql.placeholders(len(MEMBER_TAG_COLUMNS))}) "
            "ON CONFLICT (member_id, tag_id) DO NOTHING RETURNING id",
            new_id(),
            member_tag.member_id,
            member_tag.tag_id,
            member_tag.actor,
            member_tag.reason,
            member_tag.tagged_at,
        )
        return bool(inserted)

    async def untag(self, member_id: UUID, tag_id: UUID) -> bool:
        return await MemberTagRow.filter(member_id=member_id, tag_id=tag_id).delete() > 0

    async def of_members(self, member_ids: Sequence[UUID]) -> list[MemberTag]:
        if not member_ids:
            return []
        rows = await MemberTagRow.filter(member_id__in=list(member_ids)).order_by("tagged_at")
        return [_member_tag(r) for r in rows]

    async def having_all(self, member_ids: Sequence[UUID], tag_ids: Sequence[UUID]) -> set[UUID]:
        if not member_ids or not tag_ids:
            return set(member_ids)
        rows = await sql.fetch(
            f"SELECT member_id FROM member_tag WHERE member_id IN "
            f"({sql.placeholders(len(member_ids))}) AND tag_id IN "
            f"({sql.placeholders(len(tag_ids), len(member_ids) + 1)}) "
            f"GROUP BY member_id HAVING COUNT(*) = {len(tag_ids)}",
            *member_ids,
            *tag_ids,
        )
        return {sql.as_uuid(r["member_id"]) for r in rows}

    async def tagged_page(self, tag_ids: Sequence[UUID], page: PageRequest) -> Page[UUID]:
        after = [after_uuid(page.after)] if page.after is not None else []
        keyset = f"AND mt.member_id > ${len(tag_ids) + 1} " if after else ""
        rows = await sql.fetch(
            "SELECT mt.member_id FROM member_tag mt JOIN member m ON m.id = mt.member_id "
            f"WHERE m.status = 'ACTIVE' AND mt.tag_id IN ({sql.placeholders(len(tag_ids))}) "
            f"{keyset}GROUP BY mt.member_id HAVING COUNT(*) = {len(tag_ids)} "
            f"ORDER BY mt.member_id LIMIT {page.first + 1}",
            *tag_ids,
            *after,
        )
        ids = [sql.as_uuid(r["member_id"]) for r in rows]
        return Page.from_rows(ids, [str(i) for i in ids], page)

    async def apply_rule(self, tag_id: UUID, rule: TagRule, at: datetime) -> int:
        # The fact and the operator name a column and an operator: both from closed lists.
        assert rule.fact in RULE_FACTS and rule.operator in RULE_OPERATORS
        matches = f"{rule.fact} {rule.operator} $2"
        removed = await sql.execute(
            "DELETE FROM member_tag WHERE tag_id = $1 AND member_id NOT IN "
            f"(SELECT member_id FROM member_facts WHERE {matches})",
            tag_id,
            rule.value,
        )
        missing = await sql.fetch(
            f"SELECT f.member_id FROM member_facts f WHERE {matches} AND NOT EXISTS "
            "(SELECT 1 FROM member_tag mt WHERE mt.member_id = f.member_id AND mt.tag_id = $1)",
            tag_id,
            rule.value,
        )
        for start in range(0, len(missing), RULE_BATCH):
            await sql.insert(
                "member_tag",
                MEMBER_TAG_COLUMNS,
                [
                    (new_id(), sql.as_uuid(r["member_id"]), tag_id, "SYSTEM:rule", str(rule), at)
                    for r in missing[start : start + RULE_BATCH]
                ],
            )
        return removed + len(missing)

    async def move_member(self, source: UUID, target: UUID) -> None:
        await sql.execute(
            "UPDATE member_tag SET member_id = $2 WHERE member_id = $1 AND tag_id NOT IN "
            "(SELECT tag_id FROM member_tag WHERE member_id = $2)",
            source,
            target,
        )
        await MemberTagRow.filter(member_id=source).delete()

    async def erase_member(self, member_id: UUID) -> None:
        await MemberTagRow.filter(member_id=member_id).delete()
