"""Automations (issue 19): ADMIN defines trigger → conditions → action and reads what each
did; the triggers are in `automations_triggers.py`, the job that acts in `automations_run.py`.

One row per (automation, member, trigger period) in `automation_send` makes a send happen at
most once: triggers insert candidates under that unique key (events as they happen, scans
each run), and the job claims PENDING rows with SKIP LOCKED, so runs at once never act
twice. The outcome and what was given (coupon id, points entry id, outbox dedupe key) stay on
the row: the automation's `sends`, the member's timeline and their data export."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.engagement.automations_model import (
    Automation,
    AutomationDraft,
    AutomationStatus,
    Send,
    clean_draft,
)
from domain.engagement.automations_triggers import baseline_segment_in_uow
from domain.engagement.deps import AutomationDeps
from domain.engagement.segments import segment_where_in_uow
from domain.engagement.segments_ports import Where
from domain.engagement.tags import manual_tag_in_uow
from domain.errors import (
    EngagementError,
    EngagementErrorCode,
)
from domain.events import (
    ExportScope,
)
from domain.identity.model import Principal, StaffRole
from domain.ids import new_id
from domain.pagination import Page, PageRequest
from domain.uow import UnitOfWork

EXPORT_PAGE = 100  # sends per page of a member's data export


def _error(code: EngagementErrorCode, message: str, *field: str) -> EngagementError:
    return EngagementError(code, message, list(field))


def admin_only(actor: Principal) -> None:
    if not actor.has_role(StaffRole.ADMIN):
        raise _error(EngagementErrorCode.FORBIDDEN, "Only ADMIN runs automations.")


async def automation_in_uow(
    uow: UnitOfWork, automation_id: UUID, *, lock: bool = False
) -> Automation:
    found = await uow.automations.get(automation_id, lock=lock)
    if found is None:
        raise _error(EngagementErrorCode.NOT_FOUND, "No such automation.", "id")
    return found


async def _check_tag(uow: UnitOfWork, draft: AutomationDraft) -> None:
    """ADD_TAG's tag exists and is MANUAL (an automatic tag follows its rule)."""
    if draft.action.tag_id is None:
        return
    try:
        await manual_tag_in_uow(uow, draft.action.tag_id)
    except EngagementError as refused:
        code = EngagementErrorCode(refused.code)
        raise _error(code, refused.message, "action", "tagId") from None


async def _check_segment(
    deps: AutomationDeps, uow: UnitOfWork, draft: AutomationDraft
) -> Where | None:
    """ENTERED_SEGMENT's segment exists, is ACTIVE and its rule still reads; its WHERE."""
    if draft.trigger.segment_id is None:
        return None
    return await segment_where_in_uow(
        uow,
        deps.loyalty.policy,
        draft.trigger.segment_id,
        deps.clock.now(),
        ("trigger", "segmentId"),
    )


async def create_automation(
    deps: AutomationDeps, actor: Principal, draft: AutomationDraft
) -> Automation:
    admin_only(actor)
    clean = clean_draft(draft)
    now = deps.clock.now()
    automation = Automation(new_id(), clean, AutomationStatus.ACTIVE, now, now)
    async with deps.uow() as uow:
        await _check_tag(uow, clean)
        where = await _check_segment(deps, uow, clean)
        await uow.automations.add(automation)
        if where is not None:  # who is in the segment now is the baseline, not hit
            await baseline_segment_in_uow(deps, uow, automation, where)
    return automation


async def update_automation(
    deps: AutomationDeps, actor: Principal, automation_id: UUID, draft: AutomationDraft
) -> Automation:
    """A new definition: what it does from now on (sends already made keep their periods)."""
    admin_only(actor)
    clean = clean_draft(draft)
    async with deps.uow() as uow:
        automation = await automation_in_uow(uow, automation_id, lock=True)
        if automation.status is AutomationStatus.ARCHIVED:
            raise _error(EngagementErrorCode.AUTOMATION_ARCHIVED, "It is archived.", "id")
        await _check_tag(uow, clean)
        where = await _check_segment(deps, uow, clean)
        before = automation.draft.trigger.segment_id
        automation.draft, automation.updated_at = clean, deps.clock.now()
        await uow.automations.save(automation)
        if clean.trigger.segment_id != before:  # another segment: a new baseline
            await uow.automations.forget_segment(automation.id)
            if where is not None:
                await baseline_segment_in_uow(deps, uow, automation, where)
        return automation


_MOVES = {
    AutomationStatus.PAUSED: (AutomationStatus.ACTIVE,),
    AutomationStatus.ACTIVE: (AutomationStatus.PAUSED,),
    AutomationStatus.ARCHIVED: (AutomationStatus.ACTIVE, AutomationStatus.PAUSED),
}


async def change_status(
    deps: AutomationDeps, actor: Principal, automation_id: UUID, to: AutomationStatus
) -> Automation:
    """Pause (nothing more is sent; pending sends wait), resume, archive (for good)."""
    admin_only(actor)
    async with deps.uow() as uow:
        automation = await automation_in_uow(uow, automation_id, lock=True)
        if automation.status is AutomationStatus.ARCHIVED:
            raise _error(EngagementErrorCode.AUTOMATION_ARCHIVED, "It is archived.", "id")
        if automation.status not in _MOVES[to]:
            raise _error(
                EngagementErrorCode.INVALID_TRANSITION,
                f"A {automation.status.value.lower()} automation cannot become {to.value.lower()}.",
                "id",
            )
        automation.status, automation.updated_at = to, deps.clock.now()
        await uow.automations.save(automation)
        return automation


async def automations(
    deps: AutomationDeps, actor: Principal, status: AutomationStatus | None, page: PageRequest
) -> Page[Automation]:
    admin_only(actor)
    async with deps.uow() as uow:
        return await uow.automations.page(status, page)


async def automation(deps: AutomationDeps, actor: Principal, automation_id: UUID) -> Automation:
    admin_only(actor)
    async with deps.uow() as uow:
        return await automation_in_uow(uow, automation_id)


async def sends_of(
    deps: AutomationDeps, actor: Principal, automation_id: UUID, page: PageRequest
) -> Page[Send]:
    admin_only(actor)
    async with deps.uow() as uow:
        return await uow.automations.sends_of(automation_id, page)


async def sends_to_member(deps: AutomationDeps, member_id: UUID, page: PageRequest) -> Page[Send]:
    """The member's timeline of automation sends (CS; the caller checks who may see it)."""
    async with deps.uow() as uow:
        return await uow.automations.sends_to(member_id, page)


async def export_sends(
    uow: UnitOfWork, scope: ExportScope, after: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the member's data export section `automationSends`, newest first: what
    each automation did for them, or why not."""
    page = await uow.automations.sends_to(scope.member_id, PageRequest(EXPORT_PAGE, after))
    names: dict[UUID, str] = {}
    for automation_id in {s.automation_id for s in page.items}:
        found = await uow.automations.get(automation_id)
        names[automation_id] = found.draft.name if found is not None else ""
    items = [
        {
            "automation": names[s.automation_id],
            "action": s.action.value,
            "outcome": s.outcome.value,
            "createdAt": s.created_at.isoformat(),
            "doneAt": s.done_at.isoformat() if s.done_at else None,
        }
        for s in page.items
    ]
    return items, page.keys[-1] if page.has_next else None
