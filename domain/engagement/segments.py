"""Segments: ADMIN saves a rule of the segment language under a name; ADMIN and CS read every
member of it, a STORE_MANAGER only the members with an order at one of their stores (the rule
tags and the CS desk follow). A rule is checked on save against today's catalogue: the tiers of
loyalty's policy, ordering's sales channels, the RFM segments, and the tags that exist."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from uuid import UUID

from domain.engagement import segment_rules as rules
from domain.engagement.deps import SegmentDeps
from domain.engagement.rfm import RfmSegment
from domain.engagement.segments_model import (
    BUILT_INS,
    MAX_HISTORY_DAYS,
    MAX_NAME,
    Segment,
    SegmentSize,
    SegmentStatus,
    clean_name,
)
from domain.engagement.segments_ports import Where
from domain.errors import EngagementError, EngagementErrorCode
from domain.identity.model import Principal, StaffRole
from domain.ids import new_id
from domain.live import mask_name
from domain.locations.model import local_date
from domain.loyalty.model import PointsPolicy
from domain.members.services import display_names_in_uow, log_pii_reads_in_uow
from domain.ordering.model import SalesChannel
from domain.ordering.services import is_cs
from domain.pagination import Page, PageRequest
from domain.uow import UnitOfWork


def _error(code: EngagementErrorCode, message: str, field: str | None = None) -> EngagementError:
    return EngagementError(code, message, ["input", field] if field else None)


def facts(deps: SegmentDeps) -> dict[str, rules.Fact]:
    """The catalogue a rule is read against, from today's configuration."""
    return _catalogue(deps.loyalty_policy)


def _catalogue(policy: PointsPolicy) -> dict[str, rules.Fact]:
    return rules.catalogue(
        [t.name for t in policy.tiers],
        [c.value for c in SalesChannel],
        [s.value for s in RfmSegment],
    )


async def _checked_in_uow(
    deps: SegmentDeps, uow: UnitOfWork, rule: str, field: Sequence[str] = ("input", "rule")
) -> rules.Rule:
    """The rule's tree, or INVALID_RULE (on `field`) with the reader's message and position,
    or naming a tag that does not exist."""
    try:
        tree = rules.parse(rule, facts(deps))
    except rules.RuleError as error:
        raise EngagementError(EngagementErrorCode.INVALID_RULE, str(error), list(field)) from None
    known = {t.name for t in await uow.tags.all()}
    unknown = sorted(rules.tags_named(tree) - known)
    if unknown:
        message = f"No tag is named {unknown[0]!r}."
        raise EngagementError(EngagementErrorCode.INVALID_RULE, message, list(field))
    return tree


def _name(name: str) -> str:
    clean = clean_name(name)
    if clean is None:
        raise _error(
            EngagementErrorCode.INVALID_INPUT, f"A name is 1-{MAX_NAME} characters.", "name"
        )
    return clean


def _admin(actor: Principal) -> None:
    if not actor.has_role(StaffRole.ADMIN):
        raise _error(EngagementErrorCode.FORBIDDEN, "Only ADMIN defines segments.")


def may_read(actor: Principal) -> bool:
    return is_cs(actor) or actor.has_role(StaffRole.STORE_MANAGER)


def _stores(actor: Principal) -> Sequence[UUID] | None:
    """None: every member; else only members with an order at one of these stores."""
    if not may_read(actor):
        raise _error(EngagementErrorCode.FORBIDDEN, "Only ADMIN, CS and store managers.")
    return None if is_cs(actor) else sorted(actor.store_ids)


async def create_segment(deps: SegmentDeps, actor: Principal, name: str, rule: str) -> Segment:
    _admin(actor)
    clean = _name(name)
    async with deps.uow() as uow:
        tree = await _checked_in_uow(deps, uow, rule)
        now = deps.clock.now()
        segment = Segment(
            new_id(), clean, rules.render(tree), False, SegmentStatus.ACTIVE, now, now
        )
        if not await uow.segments.add(segment):
            raise _error(EngagementErrorCode.SEGMENT_EXISTS, "A segment has this name.", "name")
    return segment


async def _get_in_uow(uow: UnitOfWork, segment_id: UUID) -> Segment:
    segment = await uow.segments.get(segment_id)
    if segment is None:
        raise _error(EngagementErrorCode.NOT_FOUND, "No such segment.", "id")
    return segment


async def update_segment(
    deps: SegmentDeps,
    actor: Principal,
    segment_id: UUID,
    name: str | None = None,
    rule: str | None = None,
) -> Segment:
    """A new name or rule (built-ins too); an archived segment stays archived."""
    _admin(actor)
    async with deps.uow() as uow:
        segment = await _get_in_uow(uow, segment_id)
        changed = replace(segment, updated_at=deps.clock.now())
        if name is not None:
            changed = replace(changed, name=_name(name))
        if rule is not None:
            changed = replace(changed, rule=rules.render(await _checked_in_uow(deps, uow, rule)))
        if not await uow.segments.save(changed):
            raise _error(EngagementErrorCode.SEGMENT_EXISTS, "A segment has this name.", "name")
    return changed


async def archive_segment(deps: SegmentDeps, actor: Principal, segment_id: UUID) -> Segment:
    """Segments are archived, never deleted (their size history stays); a repeat is a no-op."""
    _admin(actor)
    async with deps.uow() as uow:
        segment = await _get_in_uow(uow, segment_id)
        if segment.status is SegmentStatus.ARCHIVED:
            return segment
        archived = replace(segment, status=SegmentStatus.ARCHIVED, updated_at=deps.clock.now())
        await uow.segments.save(archived)
    return archived


async def ensure_built_ins(deps: SegmentDeps) -> int:
    """Create the built-in segments whose names are free (idempotent; an edited or archived
    built-in is left as it is). The number created."""
    async with deps.uow() as uow:
        taken = await uow.segments.names()
        created = 0
        now = deps.clock.now()
        for name, rule in BUILT_INS:
            if name in taken:
                continue
            tree = rules.parse(rule, facts(deps))
            segment = Segment(
                new_id(), name, rules.render(tree), True, SegmentStatus.ACTIVE, now, now
            )
            created += await uow.segments.add(segment)
    return created


async def segments(
    deps: SegmentDeps, actor: Principal, status: SegmentStatus | None, page: PageRequest
) -> Page[Segment]:
    _stores(actor)
    await ensure_built_ins(deps)
    async with deps.uow() as uow:
        return await uow.segments.page(status, page)


async def segment(deps: SegmentDeps, actor: Principal, segment_id: UUID) -> Segment:
    _stores(actor)
    await ensure_built_ins(deps)
    async with deps.uow() as uow:
        return await _get_in_uow(uow, segment_id)


def _saved(catalogue: dict[str, rules.Fact], rule: str) -> rules.Rule:
    """A saved rule's tree; INVALID_RULE when today's configuration no longer reads it (a tier
    it names was removed from the points policy): edit the segment."""
    try:
        return rules.parse(rule, catalogue)
    except rules.RuleError as error:
        message = f"The saved rule no longer reads: {error}"
        raise EngagementError(EngagementErrorCode.INVALID_RULE, message) from None


async def segment_where_in_uow(
    uow: UnitOfWork,
    policy: PointsPolicy,
    segment_id: UUID,
    now: datetime,
    field: Sequence[str] = ("segmentId",),
) -> Where:
    """The WHERE over `member_facts f` of an ACTIVE segment's rule as of `now` (automations'
    ENTERED_SEGMENT): NOT_FOUND, INVALID_INPUT for an archived segment, INVALID_RULE when
    today's configuration no longer reads its rule, each on `field`."""
    found = await uow.segments.get(segment_id)
    if found is None:
        raise EngagementError(EngagementErrorCode.NOT_FOUND, "No such segment.", list(field))
    if found.status is not SegmentStatus.ACTIVE:
        message = "The segment is archived."
        raise EngagementError(EngagementErrorCode.INVALID_INPUT, message, list(field))
    try:
        return rules.to_sql(_saved(_catalogue(policy), found.rule), now)
    except EngagementError as error:
        raise EngagementError(error.code, error.message, list(field)) from None


def _where(deps: SegmentDeps, rule: str) -> Where:
    return rules.to_sql(_saved(facts(deps), rule), deps.clock.now())


async def sizes(deps: SegmentDeps, actor: Principal, saved: Sequence[str]) -> list[int]:
    """The members of each saved rule the actor may see, now, in one statement (a page of
    segments asks for its sizes at once)."""
    stores = _stores(actor)
    catalogue = facts(deps)
    trees = [_saved(catalogue, rule) for rule in saved]
    async with deps.uow() as uow:
        return await uow.segments.sizes(trees, deps.clock.now(), stores)


async def members(deps: SegmentDeps, actor: Principal, rule: str, page: PageRequest) -> Page[UUID]:
    stores = _stores(actor)
    where = _where(deps, rule)  # a rule that no longer reads fails before any transaction
    async with deps.uow() as uow:
        return await uow.segments.members(where, stores, page)


EXPORT_READ = "NAME_MASKED"


async def export_page(
    deps: SegmentDeps, actor: Principal, segment_id: UUID, page: PageRequest
) -> tuple[Segment, Page[tuple[UUID, str]]]:
    """One keyset page of the CSV export for CS: the members the actor may see, each with their
    masked name (王**); like every staff export of members it is in the PII access log (an
    entry per member of the page, in the same transaction)."""
    stores = _stores(actor)
    async with deps.uow() as uow:
        found = await _get_in_uow(uow, segment_id)
        ids = await uow.segments.members(_where(deps, found.rule), stores, page)
        names = await display_names_in_uow(uow, list(ids.items))
        shown = [(m, mask_name(names.get(m)) or "**") for m in ids.items]
        reads = {m: [EXPORT_READ] for m in ids.items}
        why = f"segment export: {found.name}"[:200]
        await log_pii_reads_in_uow(deps.members, uow, actor.label, reads, why)
    return found, Page(shown, ids.keys, ids.has_next, ids.has_previous)


async def preview(deps: SegmentDeps, actor: Principal, rule: str) -> tuple[str, int]:
    """A rule checked as on save, and its size for the actor: (the rule as it would be
    saved, the size); INVALID_RULE as on save. Saves nothing."""
    stores = _stores(actor)
    async with deps.uow() as uow:
        tree = await _checked_in_uow(deps, uow, rule, ("rule",))
        found = await uow.segments.size(rules.to_sql(tree, deps.clock.now()), stores)
    return rules.render(tree), found


async def size_history(
    deps: SegmentDeps, actor: Principal, segment_id: UUID, days: int
) -> list[SegmentSize]:
    """The recorded daily sizes of the last `days` days (whole-brand sizes: ADMIN and CS)."""
    if not is_cs(actor):
        raise _error(EngagementErrorCode.FORBIDDEN, "Only ADMIN and CS read size history.")
    if not 1 <= days <= MAX_HISTORY_DAYS:
        raise EngagementError(
            EngagementErrorCode.INVALID_INPUT, f"days is 1-{MAX_HISTORY_DAYS}.", ["days"]
        )
    since = local_date(deps.clock.now(), None) - timedelta(days=days - 1)
    async with deps.uow() as uow:
        return await uow.segments.history(segment_id, since)


async def record_segment_sizes(deps: SegmentDeps) -> int:
    """The job (after the nightly facts rebuild): each ACTIVE segment's size today, an upsert
    per segment and store-local day, so a second run the same day only refreshes it. A rule
    that today's configuration no longer reads is skipped (its reads say INVALID_RULE). The
    number of sizes recorded."""
    await ensure_built_ins(deps)
    async with deps.uow() as uow:
        active = await uow.segments.active()
    today = local_date(deps.clock.now(), None)
    recorded = 0
    for found in active:
        try:
            where = _where(deps, found.rule)
        except EngagementError:
            continue
        async with deps.uow() as uow:
            await uow.segments.record_size(found.id, today, await uow.segments.size(where, None))
        recorded += 1
    return recorded
