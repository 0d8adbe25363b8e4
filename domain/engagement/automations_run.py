"""The `run_automations` job and the dry run: for each claimed send, in one transaction, the
conditions; quiet hours on the member's store clock (the send waits, PENDING, until they
end); the action (grants under the key automation+member+period, so a replay gives nothing
twice); and a message only with the purpose's consent (`can_contact`, through the outbox's
`reachable`) and under the member's frequency cap across all automations."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from domain.engagement.automations import admin_only, automation_in_uow
from domain.engagement.automations_model import (
    MESSAGE_ACTIONS,
    ActionKind,
    Automation,
    DryRun,
    Send,
    SendOutcome,
    Tally,
    TriggerKind,
    grant_key,
    message_key,
)
from domain.engagement.automations_reads import BatchReads, automation_notice
from domain.engagement.automations_triggers import (
    SCAN_TRIGGERS,
    candidate,
    entry_period,
    scan_batch,
    scan_candidates,
    segment_where_of,
)
from domain.engagement.deps import AutomationDeps
from domain.engagement.tags import tag_member_in_uow
from domain.errors import DomainError
from domain.identity.model import Principal
from domain.locations.model import DEFAULT_TIMEZONE
from domain.loyalty.services import credit_reward_in_uow
from domain.outbox import Notification, enqueue
from domain.outbox.services import reachable
from domain.promotions.coupons import grant_in_uow

DEFAULT_ZONE = ZoneInfo(DEFAULT_TIMEZONE)  # a member who has no store yet


@dataclass(frozen=True)
class Verdict:
    outcome: SendOutcome | None  # why the send does not act now; None: it acts
    member_id: UUID  # whom it acts on: the survivor of a merge
    zone: ZoneInfo  # the clock of the member's preferred store (member facts)


@dataclass
class _Batch:
    """A claimed batch in its transaction: what it read ahead, the messages its sends wrote
    (enqueued together at its end) and its sends settled (saved together)."""

    reads: BatchReads
    messages: list[tuple[Send, Notification]] = field(default_factory=list)
    settled: list[Send] = field(default_factory=list)

    async def flush(self, deps: AutomationDeps) -> None:
        """The messages in one enqueue, then the sends in one write. A consent withdrawn
        after the batch read it (another transaction's, committed meanwhile) is honoured:
        that message is not written and its send says so."""
        notices = [n for _, n in self.messages]
        if notices and await enqueue(self.reads.uow, deps.clock, notices) < len(notices):
            kept = {n.dedupe_key for n in await reachable(self.reads.uow, notices)}
            for send, notice in self.messages:
                if notice.dedupe_key not in kept:
                    send.message_key, send.detail = None, "message without consent"
        await self.reads.uow.automations.save_sends(self.settled)


async def _verdict(
    deps: AutomationDeps,
    reads: BatchReads,
    automation: Automation,
    send: Send,
    sent: dict[UUID, int],
) -> Verdict:
    """The rules in their order: the member, the conditions, quiet hours, consent, the cap."""
    draft = automation.draft
    member = await reads.member(send.member_id)
    if member is None or not member.is_active:
        return Verdict(SendOutcome.SKIPPED, send.member_id, DEFAULT_ZONE)
    facts = await reads.facts_of(member.id)
    orders = facts.orders_365 if facts else 0
    zone = await reads.zone(facts.preferred_store_id if facts else None)
    conditions = draft.conditions
    if orders < conditions.min_orders:
        return Verdict(SendOutcome.SKIPPED, member.id, zone)
    if conditions.tiers and (await reads.tier(member.id)).upper() not in conditions.tiers:
        return Verdict(SendOutcome.SKIPPED, member.id, zone)
    contacts = draft.action.kind is not ActionKind.ADD_TAG  # a tag reaches no one
    if contacts and draft.quiet.contains(deps.clock.now().astimezone(zone).time()):
        return Verdict(SendOutcome.PENDING, member.id, zone)
    if draft.action.kind in MESSAGE_ACTIONS:
        if not await reads.consents(automation, member.id):
            return Verdict(SendOutcome.BLOCKED_CONSENT, member.id, zone)
        if sent.get(member.id, 0) >= draft.cap.messages:
            return Verdict(SendOutcome.BLOCKED_CAP, member.id, zone)
    return Verdict(None, member.id, zone)


async def _act(
    deps: AutomationDeps,
    batch: _Batch,
    automation: Automation,
    send: Send,
    member_id: UUID,
    sent: dict[UUID, int],
) -> None:
    """The action for `member_id` (the send's member, or who absorbed them), keyed by the
    send's own member and period, so a replay gives nothing twice."""
    uow, action = batch.reads.uow, automation.draft.action
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
    elif action.kind is ActionKind.ADD_TAG:
        assert action.tag_id is not None
        tag, added = await tag_member_in_uow(
            uow,
            action.tag_id,
            member_id,
            f"automation:{automation.id}",
            automation.draft.name,
            deps.clock.now(),
        )
        send.tag_id = tag.id
        if not added:
            send.detail = f"the member had the tag {tag.name} already"
    if action.messages:
        # A grant is given whatever the member chose; its notice needs consent and room.
        if sent.get(member_id, 0) >= automation.draft.cap.messages:
            send.detail = "message over the frequency cap"
        elif await batch.reads.consents(automation, member_id):
            send.message_key = message_key(send.id)
            batch.messages.append(
                (send, automation_notice(automation, member_id, send.message_key))
            )
            sent[member_id] = sent.get(member_id, 0) + 1
        else:
            send.detail = "message without consent"
    send.outcome = SendOutcome.DONE


def _messages(automation: Automation | None) -> bool:
    return automation is not None and automation.draft.action.messages


async def run_due(deps: AutomationDeps, until: datetime | None = None) -> Tally:
    """Claim due sends (SKIP LOCKED) a batch per transaction and act on each, up to the
    policy's `max_batches` and no batch begun at `until` or later; what the rules read of
    the batch's members is read once for the batch (`BatchReads`), and its messages and
    sends are written together at its end."""
    tally = Tally()
    for _ in range(deps.policy.max_batches):
        if until is not None and deps.clock.now() >= until:
            break
        async with deps.uow() as uow:
            claimed = await uow.automations.claim_due(deps.clock.now(), deps.policy.batch)
            if not claimed:
                break
            by_id = {a.id: a for a in await uow.automations.active()}
            batch = _Batch(BatchReads(deps, uow))
            await batch.reads.read_ahead(claimed, by_id)
            # The cap is counted for whom the message reaches (the survivor of a merge) and
            # holds across runs at once: who may be messaged is locked before the messages
            # already written to them are counted (the windows below).
            survivors = [(await batch.reads.member(s.member_id), s) for s in claimed]
            members = sorted({m.id for m, _ in survivors if m is not None})
            await uow.automations.lock_members(
                [m.id for m, s in survivors if m and _messages(by_id.get(s.automation_id))],
                deps.clock.now(),
            )
            windows: dict[int, dict[UUID, int]] = {}
            for send in claimed:
                automation = by_id.get(send.automation_id)
                if automation is None:  # paused since the claim read it: the send waits
                    continue
                days = automation.draft.cap.days
                if days not in windows:
                    since = deps.clock.now() - timedelta(days=days)
                    windows[days] = await uow.automations.messages_since(members, since)
                reached = await _one(deps, batch, automation, send, windows[days])
                if send.message_key is not None:  # counts in every other window too
                    for other, counts in windows.items():
                        if other != days:
                            counts[reached] = counts.get(reached, 0) + 1
            await batch.flush(deps)
            for send in batch.settled:
                tally.add(send.outcome.value)
        if len(claimed) < deps.policy.batch:
            break
    return tally


async def _one(
    deps: AutomationDeps, batch: _Batch, automation: Automation, send: Send, sent: dict[UUID, int]
) -> UUID:
    """The send's verdict and, if it acts, its action; settled in the batch. Returns whom it
    reached (the survivor of a merge)."""
    now = deps.clock.now()
    verdict = await _verdict(deps, batch.reads, automation, send, sent)
    batch.settled.append(send)
    if verdict.outcome is SendOutcome.PENDING:  # quiet hours: wait until they end, not dropped
        send.due_at = automation.draft.quiet.next_end(now, verdict.zone)
        return verdict.member_id
    if verdict.outcome is not None:
        send.outcome, send.done_at = verdict.outcome, now
        return verdict.member_id
    try:
        await _act(deps, batch, automation, send, verdict.member_id, sent)
    except DomainError as refused:  # a template sold out or ended: recorded, not retried
        send.outcome, send.detail = SendOutcome.FAILED, refused.message[:200]
    send.done_at = now
    return verdict.member_id


async def run_automations(deps: AutomationDeps) -> Tally:
    """The job: the scan triggers' candidates (their share of the run), then the due sends
    until `policy.run_seconds` after the start (nothing at all while `AUTOMATIONS_PAUSED` is
    set: pending sends wait)."""
    if deps.policy.paused:
        return Tally()
    until = deps.clock.now() + timedelta(seconds=deps.policy.run_seconds)
    await scan_candidates(deps)
    return await run_due(deps, until)


async def dry_run(deps: AutomationDeps, actor: Principal, automation_id: UUID) -> DryRun:
    """How many members the automation would hit now, and how many the rules would hold
    back. It only reads (a batch at a time)."""
    admin_only(actor)
    counts = Tally()
    async with deps.uow() as uow:
        automation = await automation_in_uow(uow, automation_id)
        draft = automation.draft
        after: UUID | None = None
        where = None
        if draft.trigger.kind is TriggerKind.ENTERED_SEGMENT:
            where = await segment_where_of(deps, uow, automation, deps.clock.now())
        while True:
            if where is not None:  # ENTERED_SEGMENT: who the next scan notes as entering
                entered = await uow.automations.entering(
                    automation.id, where, after, deps.policy.batch
                )
                after = entered[-1] if len(entered) == deps.policy.batch else None
                period = entry_period(automation, deps.clock.now())
                found = [(m, period) for m in entered]
                taken = await uow.automations.periods_taken(automation.id, found)
                sends = [candidate(automation, m, p, deps) for m, p in found if (m, p) not in taken]
            elif draft.trigger.kind in SCAN_TRIGGERS:
                found, after = await scan_batch(deps, uow, automation, after)
                taken = await uow.automations.periods_taken(automation.id, found)
                sends = [candidate(automation, m, p, deps) for m, p in found if (m, p) not in taken]
            else:
                sends = await uow.automations.pending_of(automation.id, deps.policy.dry_run_limit)
            reads = BatchReads(deps, uow)
            await reads.read_ahead(sends, {automation.id: automation})
            since = deps.clock.now() - timedelta(days=draft.cap.days)
            reached = {m.id for m in reads.survivors.values() if m is not None}
            sent = await uow.automations.messages_since(sorted(reached), since)
            for send in sends:
                verdict = await _verdict(deps, reads, automation, send, sent)
                outcome, member_id = verdict.outcome, verdict.member_id
                if outcome is None and draft.action.messages:  # a grant's notice
                    if not await reads.consents(automation, member_id):
                        outcome = SendOutcome.BLOCKED_CONSENT
                    elif sent.get(member_id, 0) >= draft.cap.messages:
                        outcome = SendOutcome.BLOCKED_CAP
                counts.add("hit" if outcome is None else outcome.value)
            if after is None:  # an event trigger's pending sends are read at once
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
