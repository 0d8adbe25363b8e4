"""Automations (issue 19): ADMIN defines trigger → conditions → action; `run_automations`
(the job) finds the members each trigger hits and acts through promotions (coupons), loyalty
(points) and the outbox (messages).

One row per (automation, member, trigger period) in `automation_send` makes a send happen at
most once: triggers insert candidates under that unique key (events as they happen, scans
once a day), and the job claims PENDING rows with SKIP LOCKED, so runs at once never act
twice. For each claimed send, in one transaction: the conditions; quiet hours on the store's
wall clock (the send waits, PENDING, until they end); the action (grants under the key
automation+member+period, so a replay gives nothing twice); and a message only with the
purpose's consent (`can_contact`, through the outbox's `reachable`) and under the member's
frequency cap across all automations. The outcome and what was given (coupon id, points entry
id, outbox dedupe key) stay on the row: the automation's `sends` and the member's timeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from domain.engagement.automations_model import (
    SCANNED,
    ActionKind,
    Automation,
    AutomationDraft,
    AutomationStatus,
    DryRun,
    MemberActivity,
    Send,
    SendOutcome,
    Tally,
    TriggerKind,
    clean_draft,
    grant_key,
    message_key,
)
from domain.engagement.deps import AutomationDeps
from domain.errors import (
    DomainError,
    EngagementError,
    EngagementErrorCode,
)
from domain.events import (
    EventHandlers,
    ExportScope,
    MembersMerged,
    OrderHandedOver,
    OrderPlaced,
)
from domain.growth.referrals import rewarded_for_order_in_uow
from domain.identity.model import Principal, StaffRole
from domain.ids import new_id
from domain.locations.model import DEFAULT_TIMEZONE, local_date
from domain.locations.services import timezone_in_uow
from domain.loyalty.services import (
    credit_reward_in_uow,
    members_with_points_expiring_in_uow,
    tiers_in_uow,
)
from domain.members.model import ConsentPurpose
from domain.members.services import surviving_member_in_uow
from domain.ordering.services import load
from domain.outbox import Notification, enqueue
from domain.outbox.services import reachable
from domain.pagination import Page, PageRequest
from domain.promotions.coupons import grant_in_uow
from domain.subscriptions.services import prepaid_ending_in_uow
from domain.uow import UnitOfWork

DEFAULT_ZONE = ZoneInfo(DEFAULT_TIMEZONE)  # a member who has no store yet
EXPORT_PAGE = 100  # sends per page of a member's data export
SCAN_TRIGGERS = SCANNED


def _error(code: EngagementErrorCode, message: str, *field: str) -> EngagementError:
    return EngagementError(code, message, list(field))


def _admin(actor: Principal) -> None:
    if not actor.has_role(StaffRole.ADMIN):
        raise _error(EngagementErrorCode.FORBIDDEN, "Only ADMIN runs automations.")


async def _get(uow: UnitOfWork, automation_id: UUID, *, lock: bool = False) -> Automation:
    found = await uow.automations.get(automation_id, lock=lock)
    if found is None:
        raise _error(EngagementErrorCode.NOT_FOUND, "No such automation.", "id")
    return found


async def create_automation(
    deps: AutomationDeps, actor: Principal, draft: AutomationDraft
) -> Automation:
    _admin(actor)
    clean = clean_draft(draft)
    now = deps.clock.now()
    automation = Automation(new_id(), clean, AutomationStatus.ACTIVE, now, now)
    async with deps.uow() as uow:
        await uow.automations.add(automation)
    return automation


async def update_automation(
    deps: AutomationDeps, actor: Principal, automation_id: UUID, draft: AutomationDraft
) -> Automation:
    """A new definition: what it does from now on (sends already made keep their periods)."""
    _admin(actor)
    clean = clean_draft(draft)
    async with deps.uow() as uow:
        automation = await _get(uow, automation_id, lock=True)
        if automation.status is AutomationStatus.ARCHIVED:
            raise _error(EngagementErrorCode.AUTOMATION_ARCHIVED, "It is archived.", "id")
        automation.draft, automation.updated_at = clean, deps.clock.now()
        await uow.automations.save(automation)
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
    _admin(actor)
    async with deps.uow() as uow:
        automation = await _get(uow, automation_id, lock=True)
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
    _admin(actor)
    async with deps.uow() as uow:
        return await uow.automations.page(status, page)


async def automation(deps: AutomationDeps, actor: Principal, automation_id: UUID) -> Automation:
    _admin(actor)
    async with deps.uow() as uow:
        return await _get(uow, automation_id)


async def sends_of(
    deps: AutomationDeps, actor: Principal, automation_id: UUID, page: PageRequest
) -> Page[Send]:
    _admin(actor)
    async with deps.uow() as uow:
        return await uow.automations.sends_of(automation_id, page)


async def sends_to_member(deps: AutomationDeps, member_id: UUID, page: PageRequest) -> Page[Send]:
    """The member's timeline of automation sends (CS; the caller checks who may see it)."""
    async with deps.uow() as uow:
        return await uow.automations.sends_to(member_id, page)


# --- Triggers: candidates under the unique (automation, member, period) key -------------


def _candidate(automation: Automation, member_id: UUID, period: str, deps: AutomationDeps) -> Send:
    now = deps.clock.now()
    return Send(
        id=new_id(),
        automation_id=automation.id,
        member_id=member_id,
        period_key=period,
        outcome=SendOutcome.PENDING,
        due_at=now,
        created_at=now,
        action=automation.draft.action.kind,
    )


async def _scan_batch(
    deps: AutomationDeps, uow: UnitOfWork, automation: Automation, after: UUID | None
) -> tuple[list[tuple[UUID, str]], UUID | None]:
    """One batch of (member, period key) a scan trigger finds now, after the cursor `after`
    (a member id; a subscription id for SUBSCRIPTION_ENDING), and where the next batch starts
    (None: that was the last)."""
    trigger = automation.draft.trigger
    assert trigger.days is not None
    now, size = deps.clock.now(), deps.policy.batch
    if trigger.kind is TriggerKind.NO_ORDER_FOR_DAYS:
        quiet = await uow.automations.quiet_since(now - timedelta(days=trigger.days), after, size)
        # The period is the quiet spell: a member who orders again starts a new one.
        found = [(m, f"quiet:{local_date(at, None).isoformat()}") for m, at in quiet]
        return found, (found[-1][0] if len(found) == size else None)
    if trigger.kind is TriggerKind.POINTS_EXPIRING:  # once a store-local month
        by = now + timedelta(days=trigger.days)
        members = await members_with_points_expiring_in_uow(uow, by, size, after)
        month = local_date(now, None).strftime("%Y-%m")
        return [(m, f"expiring:{month}") for m in members], (
            members[-1] if len(members) == size else None
        )
    # SUBSCRIPTION_ENDING: once per subscription and prepaid run (the cursor: subscription ids)
    ending, cursor = await prepaid_ending_in_uow(uow, now, trigger.days, after, size)
    return [(s.member_id, f"sub:{s.id}:{s.prepaid_deliveries}") for s in ending], cursor


async def scan_candidates(deps: AutomationDeps) -> int:
    """The scan triggers of every active automation: new candidates, a batch per transaction
    (memory bounded by the batch; a period already taken is skipped by the unique key)."""
    made = 0
    async with deps.uow() as uow:
        scanned = [
            a for a in await uow.automations.active() if a.draft.trigger.kind in SCAN_TRIGGERS
        ]
    for automation in scanned:
        after: UUID | None = None
        while True:
            async with deps.uow() as uow:
                found, after = await _scan_batch(deps, uow, automation, after)
                made += await uow.automations.add_sends(
                    [_candidate(automation, m, p, deps) for m, p in found]
                )
            if after is None:
                break
    return made


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


async def _on_event(
    deps: AutomationDeps, uow: UnitOfWork, trigger: TriggerKind, member_id: UUID, period: str
) -> None:
    hit = await uow.automations.active(trigger)
    if hit:
        await uow.automations.add_sends([_candidate(a, member_id, period, deps) for a in hit])


def register_handlers(deps: AutomationDeps, events: EventHandlers) -> None:
    """Ordering's events keep the members' order activity and fire the event triggers.
    (A REFERRAL_REWARDED or segment trigger adds its handler here.)"""

    async def on_placed(uow: UnitOfWork, event: OrderPlaced) -> None:
        await uow.automations.note_order(event.member_id, event.placed_at)

    async def on_handed_over(uow: UnitOfWork, event: OrderHandedOver) -> None:
        order = await load(uow, event.order_id, lock=False)  # locked by the hand-over already
        if await uow.automations.note_handed_over(event.member_id, order.location_id) == 1:
            await _on_event(
                deps, uow, TriggerKind.FIRST_ORDER_HANDED_OVER, event.member_id, "first"
            )
        # Growth's handler, registered before this one (infra/runtime.py), has rewarded the
        # referral of this hand-over, if any: once per referral, so the period is the order.
        for member_id in await rewarded_for_order_in_uow(uow, event):
            period = f"referral:{event.order_id}"
            await _on_event(deps, uow, TriggerKind.REFERRAL_REWARDED, member_id, period)

    async def on_merged(uow: UnitOfWork, event: MembersMerged) -> None:
        await uow.automations.move_member(event.source_member_id, event.target_member_id)

    events.register(OrderPlaced, on_placed)
    events.register(OrderHandedOver, on_handed_over)
    events.register(MembersMerged, on_merged)


# --- The job: act on due sends -------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    outcome: SendOutcome | None  # why the send does not act now; None: it acts
    member_id: UUID  # whom it acts on: the survivor of a merge
    zone: ZoneInfo  # the member's store clock (the latest hand-over's store)


async def _verdict(
    deps: AutomationDeps, uow: UnitOfWork, automation: Automation, send: Send, sent: dict[UUID, int]
) -> Verdict:
    """The rules in their order: the member, the conditions, quiet hours, consent, the cap."""
    draft = automation.draft
    member = await surviving_member_in_uow(uow, send.member_id)
    if member is None or not member.is_active:
        return Verdict(SendOutcome.SKIPPED, send.member_id, DEFAULT_ZONE)
    activity = (await uow.automations.activity([member.id])).get(member.id, MemberActivity())
    zone = ZoneInfo(await timezone_in_uow(uow, activity.store_id))
    conditions = draft.conditions
    if activity.handed_over < conditions.min_orders:
        return Verdict(SendOutcome.SKIPPED, member.id, zone)
    if conditions.tiers:
        tier = (await tiers_in_uow(deps.loyalty, uow, [member.id]))[member.id]
        if tier.upper() not in conditions.tiers:
            return Verdict(SendOutcome.SKIPPED, member.id, zone)
    if draft.quiet.contains(deps.clock.now().astimezone(zone).time()):
        return Verdict(SendOutcome.PENDING, member.id, zone)
    if draft.action.kind is ActionKind.SEND_MESSAGE:
        if not await _consents(uow, automation, member.id):
            return Verdict(SendOutcome.BLOCKED_CONSENT, member.id, zone)
        if sent.get(member.id, 0) >= draft.cap.messages:
            return Verdict(SendOutcome.BLOCKED_CAP, member.id, zone)
    return Verdict(None, member.id, zone)


def _marketing(
    kind: str, member_id: UUID, dedupe_key: str, consent: ConsentPurpose, **data: str
) -> Notification:
    return Notification(
        kind=kind,
        member_id=member_id,
        order_id=None,
        data={**data},
        dedupe_key=dedupe_key,
        consent=consent,
    )


def _automation_notice(automation: Automation, member_id: UUID, dedupe_key: str) -> Notification:
    """The automation's message (outbox kind AUTOMATION_MESSAGE) under its channel's consent."""
    action = automation.draft.action
    assert action.channel is not None and action.text is not None
    return _marketing(
        "AUTOMATION_MESSAGE",
        member_id,
        dedupe_key,
        action.channel.purpose,
        text=action.text,
        channel=action.channel.value,
    )


async def _consents(uow: UnitOfWork, automation: Automation, member_id: UUID) -> bool:
    """The purpose's consent (`can_contact`), asked the way the outbox asks it."""
    notice = _automation_notice(automation, member_id, message_key(automation.id))
    return bool(await reachable(uow, [notice]))


async def _act(
    deps: AutomationDeps,
    uow: UnitOfWork,
    automation: Automation,
    send: Send,
    member_id: UUID,
    sent: dict[UUID, int],
) -> None:
    """The action for `member_id` (the send's member, or who absorbed them), keyed by the
    send's own member and period, so a replay gives nothing twice."""
    action = automation.draft.action
    key = grant_key(automation.id, send.member_id, send.period_key)
    if action.kind is ActionKind.GRANT_COUPON:
        assert action.coupon_template_id is not None
        coupon = await grant_in_uow(deps.coupons, uow, action.coupon_template_id, member_id, key)
        send.coupon_id = coupon.id
    elif action.kind is ActionKind.GRANT_POINTS:
        assert action.points is not None
        entry = await credit_reward_in_uow(
            deps.loyalty,
            uow,
            member_id,
            action.points,
            "AUTOMATION",
            automation.draft.name,
            key,
        )
        send.points_entry_id = entry.id
    if action.messages:
        # A grant is given whatever the member chose; its notice needs consent and room.
        if sent.get(member_id, 0) >= automation.draft.cap.messages:
            send.detail = "message over the frequency cap"
        elif await enqueue(
            uow, deps.clock, [_automation_notice(automation, member_id, message_key(send.id))]
        ):
            send.message_key = message_key(send.id)
            sent[member_id] = sent.get(member_id, 0) + 1
        else:
            send.detail = "message without consent"
    send.outcome = SendOutcome.DONE


async def run_due(deps: AutomationDeps) -> Tally:
    """Claim due sends (SKIP LOCKED) a batch per transaction and act on each."""
    tally = Tally()
    for _ in range(deps.policy.max_batches):
        async with deps.uow() as uow:
            claimed = await uow.automations.claim_due(deps.clock.now(), deps.policy.batch)
            if not claimed:
                break
            by_id = {a.id: a for a in await uow.automations.active()}
            members = sorted({s.member_id for s in claimed})
            windows: dict[int, dict[UUID, int]] = {}
            for send in claimed:
                automation = by_id[send.automation_id]
                days = automation.draft.cap.days
                if days not in windows:
                    since = deps.clock.now() - timedelta(days=days)
                    windows[days] = await uow.automations.messages_since(members, since)
                await _one(deps, uow, automation, send, windows[days])
                if send.message_key is not None:  # counts in every other window too
                    for other, counts in windows.items():
                        if other != days:
                            counts[send.member_id] = counts.get(send.member_id, 0) + 1
                tally.add(send.outcome.value)
        if len(claimed) < deps.policy.batch:
            break
    return tally


async def _one(
    deps: AutomationDeps, uow: UnitOfWork, automation: Automation, send: Send, sent: dict[UUID, int]
) -> None:
    now = deps.clock.now()
    verdict = await _verdict(deps, uow, automation, send, sent)
    if verdict.outcome is SendOutcome.PENDING:  # quiet hours: wait until they end, not dropped
        send.due_at = automation.draft.quiet.next_end(now, verdict.zone)
        await uow.automations.save_send(send)
        return
    if verdict.outcome is not None:
        send.outcome, send.done_at = verdict.outcome, now
        await uow.automations.save_send(send)
        return
    try:
        await _act(deps, uow, automation, send, verdict.member_id, sent)
    except DomainError as refused:  # a template sold out or ended: recorded, not retried
        send.outcome, send.detail = SendOutcome.FAILED, refused.message[:200]
    send.done_at = now
    await uow.automations.save_send(send)


async def run_automations(deps: AutomationDeps) -> Tally:
    """The job: the scan triggers' candidates, then every due send (nothing at all while
    `AUTOMATIONS_PAUSED` is set: pending sends wait)."""
    if deps.policy.paused:
        return Tally()
    await scan_candidates(deps)
    return await run_due(deps)


async def dry_run(deps: AutomationDeps, actor: Principal, automation_id: UUID) -> DryRun:
    """How many members the automation would hit now, and how many the rules would hold
    back. It only reads (a batch at a time)."""
    _admin(actor)
    counts = Tally()
    async with deps.uow() as uow:
        automation = await _get(uow, automation_id)
        draft = automation.draft
        after: UUID | None = None
        while True:
            if draft.trigger.kind in SCAN_TRIGGERS:
                found, after = await _scan_batch(deps, uow, automation, after)
                taken = await uow.automations.periods_taken(automation.id, found)
                sends = [
                    _candidate(automation, m, p, deps) for m, p in found if (m, p) not in taken
                ]
            else:
                sends = await uow.automations.pending_of(automation.id, deps.policy.dry_run_limit)
            since = deps.clock.now() - timedelta(days=draft.cap.days)
            sent = await uow.automations.messages_since(sorted({s.member_id for s in sends}), since)
            for send in sends:
                verdict = await _verdict(deps, uow, automation, send, sent)
                outcome, member_id = verdict.outcome, verdict.member_id
                if outcome is None and draft.action.messages:  # a grant's notice
                    if not await _consents(uow, automation, member_id):
                        outcome = SendOutcome.BLOCKED_CONSENT
                    elif sent.get(member_id, 0) >= draft.cap.messages:
                        outcome = SendOutcome.BLOCKED_CAP
                counts.add("hit" if outcome is None else outcome.value)
            if draft.trigger.kind not in SCAN_TRIGGERS or after is None:
                break
    c = counts.counts
    return DryRun(
        candidates=sum(c.values()),
        would_hit=c.get("hit", 0),
        blocked_consent=c.get(SendOutcome.BLOCKED_CONSENT.value, 0),
        blocked_cap=c.get(SendOutcome.BLOCKED_CAP.value, 0),
        deferred_quiet_hours=c.get(SendOutcome.PENDING.value, 0),
        skipped_conditions=c.get(SendOutcome.SKIPPED.value, 0),
    )
