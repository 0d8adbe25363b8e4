"""Tags: ADMIN defines them; CS tags any member and a STORE_MANAGER the members with an order at
one of their stores (the rule the CS desk's notes follow), always with a reason, recorded on the
tag and in the staff actions log; a repeat changes nothing. Automatic tags follow their rule,
re-evaluated after the nightly facts rebuild. Tags are for staff: never shown to the member."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from uuid import UUID

from domain.aftersales.desk import may_note_member
from domain.engagement.deps import FactsDeps
from domain.engagement.tags_model import (
    MAX_FILTER_TAGS,
    MAX_REASON,
    MemberTag,
    Tag,
    TagKind,
    clean_description,
    clean_name,
    clean_reason,
    parse_rule,
)
from domain.errors import EngagementError, EngagementErrorCode
from domain.events import EventHandlers, MemberErased, MembersMerged
from domain.identity.model import Principal, StaffRole
from domain.identity.services import record_staff_action_in_uow
from domain.ids import new_id
from domain.members.model import MemberStatus
from domain.members.services import surviving_member_in_uow
from domain.ordering.services import is_cs
from domain.pagination import Page, PageRequest
from domain.uow import UnitOfWork


def _error(code: EngagementErrorCode, message: str, field: str | None = None) -> EngagementError:
    return EngagementError(code, message, ["input", field] if field else None)


async def create_tag(
    deps: FactsDeps,
    actor: Principal,
    name: str,
    kind: TagKind,
    description: str = "",
    rule: str | None = None,
) -> Tag:
    """ADMIN: a MANUAL tag (no rule) or an AUTOMATIC one with its rule (`orders_365 >= 3`)."""
    if not actor.has_role(StaffRole.ADMIN):
        raise _error(EngagementErrorCode.FORBIDDEN, "Only ADMIN defines tags.")
    clean, about = clean_name(name), clean_description(description)
    if kind is TagKind.AUTOMATIC:
        parsed = parse_rule(rule or "")
    elif rule is not None and rule.strip():
        raise _error(EngagementErrorCode.INVALID_TAG_RULE, "A MANUAL tag has no rule.", "rule")
    else:
        parsed = None
    tag = Tag(new_id(), clean, kind, about, parsed, actor.label, deps.clock.now())
    async with deps.uow() as uow:
        if not await uow.tags.add(tag):
            raise _error(EngagementErrorCode.TAG_EXISTS, "A tag has this name.", "name")
    return tag


async def all_tags(deps: FactsDeps) -> list[Tag]:
    async with deps.uow() as uow:
        return await uow.tags.all()


async def _manual_tag(uow: UnitOfWork, tag_id: UUID) -> Tag:
    tag = await uow.tags.get(tag_id)
    if tag is None:
        raise _error(EngagementErrorCode.NOT_FOUND, "No such tag.", "tagId")
    if tag.kind is not TagKind.MANUAL:
        raise _error(
            EngagementErrorCode.TAG_NOT_MANUAL, "An automatic tag follows its rule.", "tagId"
        )
    return tag


async def manual_tag_in_uow(uow: UnitOfWork, tag_id: UUID) -> Tag:
    """The tag, if it is MANUAL (NOT_FOUND, TAG_NOT_MANUAL otherwise)."""
    return await _manual_tag(uow, tag_id)


async def tag_member_in_uow(
    uow: UnitOfWork, tag_id: UUID, member_id: UUID, actor: str, reason: str, at: datetime
) -> tuple[Tag, bool]:
    """Put a manual tag on an active member for a system actor (an automation, named by
    `actor`, its reason `reason`), in the caller's transaction: (the tag, added now); a repeat
    changes nothing. Staff tag through `tag_member` (their rights, the staff action log)."""
    tag = await _manual_tag(uow, tag_id)
    added = await uow.tags.tag(MemberTag(member_id, tag.id, actor, reason[:MAX_REASON], at))
    return tag, added


def may_tag(actor: Principal, order_stores: Collection[UUID]) -> bool:
    """CS and ADMIN on every member; a STORE_MANAGER on members with an order at one of their
    stores."""
    if is_cs(actor):
        return True
    return actor.has_role(StaffRole.STORE_MANAGER) and may_note_member(actor, order_stores)


async def _taggable_member(uow: UnitOfWork, actor: Principal, member_id: UUID) -> UUID:
    member = await surviving_member_in_uow(uow, member_id)
    if member is None or member.status is not MemberStatus.ACTIVE:
        raise _error(EngagementErrorCode.NOT_FOUND, "Unknown member.", "memberId")
    stores = (await uow.orders.stores_of_members([member.id])).get(member.id, set())
    if not may_tag(actor, stores):  # a member of other stores reads as unknown
        raise _error(EngagementErrorCode.NOT_FOUND, "Unknown member.", "memberId")
    return member.id


async def tag_member(
    deps: FactsDeps, actor: Principal, member_id: UUID, tag_id: UUID, reason: str
) -> tuple[Tag, bool]:
    """Put a manual tag on a member: (the tag, added now); a repeat changes nothing."""
    why = clean_reason(reason)
    async with deps.uow() as uow:
        tag = await _manual_tag(uow, tag_id)
        member = await _taggable_member(uow, actor, member_id)
        now = deps.clock.now()
        added = await uow.tags.tag(MemberTag(member, tag.id, actor.label, why, now))
        if added:
            await record_staff_action_in_uow(
                uow, actor.label, "TAG_MEMBER", f"member:{member}", f"{tag.name}: {why}", now
            )
        return tag, added


async def untag_member(
    deps: FactsDeps, actor: Principal, member_id: UUID, tag_id: UUID, reason: str
) -> bool:
    """Take a manual tag off a member (False: it was not there)."""
    why = clean_reason(reason)
    async with deps.uow() as uow:
        tag = await _manual_tag(uow, tag_id)
        member = await _taggable_member(uow, actor, member_id)
        removed = await uow.tags.untag(member, tag.id)
        if removed:
            await record_staff_action_in_uow(
                uow,
                actor.label,
                "UNTAG_MEMBER",
                f"member:{member}",
                f"{tag.name}: {why}",
                deps.clock.now(),
            )
        return removed


def _tag_ids(tag_ids: Sequence[UUID]) -> list[UUID]:
    unique = list(dict.fromkeys(tag_ids))
    if len(unique) > MAX_FILTER_TAGS:
        raise EngagementError(
            EngagementErrorCode.TOO_MANY_ITEMS,
            f"At most {MAX_FILTER_TAGS} tags.",
            ["tagIds"],
        )
    return unique


async def members_tagged(deps: FactsDeps, tag_ids: Sequence[UUID], page: PageRequest) -> Page[UUID]:
    """Active members carrying every one of the tags, by id."""
    async with deps.uow() as uow:
        return await uow.tags.tagged_page(_tag_ids(tag_ids), page)


async def filter_tagged(
    deps: FactsDeps, member_ids: Sequence[UUID], tag_ids: Sequence[UUID]
) -> set[UUID]:
    """Of these members (a page of a search), those carrying every one of the tags."""
    wanted = _tag_ids(tag_ids)
    if not member_ids:
        return set()
    async with deps.uow() as uow:
        return await uow.tags.having_all(member_ids, wanted)


async def apply_rules(deps: FactsDeps) -> int:
    """Each automatic tag on exactly the members whose facts satisfy its rule."""
    changed = 0
    async with deps.uow() as uow:
        tags = [t for t in await uow.tags.all() if t.rule is not None]
    for tag in tags:
        assert tag.rule is not None
        async with deps.uow() as uow:
            changed += await uow.tags.apply_rule(tag.id, tag.rule, deps.clock.now())
    return changed


def register_tag_handlers(events: EventHandlers) -> None:
    async def on_merged(uow: UnitOfWork, event: MembersMerged) -> None:
        await uow.tags.move_member(event.source_member_id, event.target_member_id)

    async def on_erased(uow: UnitOfWork, event: MemberErased) -> None:
        await uow.tags.erase_member(event.member_id)

    events.register(MembersMerged, on_merged)
    events.register(MemberErased, on_erased)
