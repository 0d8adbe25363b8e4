"""Automation triggers: candidates (sends PENDING) under the unique (automation, member,
period) key, from ordering's events in their transactions and from scans each job run."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from domain.engagement.automations_model import (
    BIRTHDAY_HOUR,
    SCANNED,
    Automation,
    Send,
    SendOutcome,
    TriggerKind,
    segment_period,
)
from domain.engagement.deps import AutomationDeps
from domain.engagement.segments import segment_where_in_uow
from domain.engagement.segments_ports import Where
from domain.errors import EngagementError
from domain.events import (
    EventHandlers,
    MembersMerged,
    OrderHandedOver,
)
from domain.growth.referrals import rewarded_for_order_in_uow
from domain.ids import new_id
from domain.locations.model import DEFAULT_TIMEZONE, local_date
from domain.locations.services import timezones_in_uow
from domain.loyalty.services import (
    members_with_points_expiring_in_uow,
)
from domain.members.model import Birthday, birthdays_falling_on
from domain.subscriptions.services import prepaid_ending_in_uow
from domain.uow import UnitOfWork

SCAN_TRIGGERS = SCANNED


def candidate(automation: Automation, member_id: UUID, period: str, deps: AutomationDeps) -> Send:
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


async def scan_batch(
    deps: AutomationDeps, uow: UnitOfWork, automation: Automation, after: UUID | None
) -> tuple[list[tuple[UUID, str]], UUID | None]:
    """One batch of (member, period key) a scan trigger finds now, after the cursor `after`
    (a member id; a subscription id for SUBSCRIPTION_ENDING), and where the next batch starts
    (None: that was the last)."""
    trigger = automation.draft.trigger
    now, size = deps.clock.now(), deps.policy.batch
    if trigger.kind is TriggerKind.BIRTHDAY:
        return await _birthdays(uow, now, after, size)
    assert trigger.days is not None
    if trigger.kind is TriggerKind.NO_ORDER_FOR_DAYS:
        quiet = await uow.member_facts.quiet_since(now - timedelta(days=trigger.days), after, size)
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


async def _birthdays(
    uow: UnitOfWork, now: datetime, after: UUID | None, size: int
) -> tuple[list[tuple[UUID, str]], UUID | None]:
    """Members whose birthday it is on their preferred store's clock (Asia/Shanghai without
    one; member facts keep both), from BIRTHDAY_HOUR on: once a year, the period being that
    store-local year. Feb 29 falls on Feb 28 in a common year. The batch reads the birthdays
    that are today somewhere on earth (UTC's yesterday, today and tomorrow), then keeps those
    that are today, past the morning, on the member's own clock."""
    utc = now.date()
    days = sorted(
        {d for delta in (-1, 0, 1) for d in birthdays_falling_on(utc + timedelta(days=delta))}
    )
    rows = await uow.member_facts.birthdays_on(days, after, size)
    stores = await timezones_in_uow(uow, [s for _, _, s in rows if s is not None])
    found: list[tuple[UUID, str]] = []
    for member_id, month_day, store_id in rows:
        local = now.astimezone(
            ZoneInfo(stores.get(store_id, DEFAULT_TIMEZONE) if store_id else DEFAULT_TIMEZONE)
        )
        if local.hour >= BIRTHDAY_HOUR and Birthday.parse(month_day, None).falls_on(local.date()):
            found.append((member_id, f"birthday:{local.year}"))
    return found, (rows[-1][0] if len(rows) == size else None)


async def segment_where_of(
    deps: AutomationDeps, uow: UnitOfWork, automation: Automation, now: datetime
) -> Where | None:
    """ENTERED_SEGMENT's segment as a WHERE over member facts; None when the segment was
    archived (or no longer reads, or is gone): the automation then finds no one."""
    assert automation.draft.trigger.segment_id is not None
    try:
        return await segment_where_in_uow(
            uow, deps.loyalty.policy, automation.draft.trigger.segment_id, now
        )
    except EngagementError:
        return None


async def baseline_segment_in_uow(
    deps: AutomationDeps, uow: UnitOfWork, automation: Automation, where: Where
) -> None:
    """Note the segment's members now, silently: an automation does not hit the members who
    are in its segment when it is created (or given another segment), only those who enter
    later. One statement, whatever the segment's size."""
    await uow.automations.enter_segment(automation.id, where, deps.clock.now(), None)


def entry_period(automation: Automation, now: datetime) -> str:
    """ENTERED_SEGMENT's period for a member noted entering at `now` (Asia/Shanghai's day)."""
    assert automation.draft.trigger.segment_id is not None
    return segment_period(automation.draft.trigger.segment_id, local_date(now, None))


async def scan_segment(deps: AutomationDeps, automation: Automation) -> int:
    """ENTERED_SEGMENT, set-based: forget the members noted at the last scan who have left the
    segment (a later entry counts again), then note the members in it and not noted, a batch
    per transaction, each a candidate in the same transaction (period: the segment and the
    store-local day of entry). Two runs at once note, and so hit, each member once."""
    now = deps.clock.now()
    async with deps.uow() as uow:
        where = await segment_where_of(deps, uow, automation, now)
        if where is None:
            return 0
        await uow.automations.left_segment(automation.id, where)
    period = entry_period(automation, now)
    made = 0
    for _ in range(deps.policy.max_batches):
        async with deps.uow() as uow:
            entered = await uow.automations.enter_segment(
                automation.id, where, now, deps.policy.batch
            )
            made += await uow.automations.add_sends(
                [candidate(automation, m, period, deps) for m in entered]
            )
        if len(entered) < deps.policy.batch:
            break
    return made


async def scan_candidates(deps: AutomationDeps) -> int:
    """The scan triggers of every active automation: new candidates, a batch per transaction
    (memory bounded by the batch; a period already taken is skipped by the unique key). Each
    scan automation sweeps the members from where the last run left it (`scans`), the one
    scanned longest ago first, until its sweep ends (the next run begins a new one) or the
    run's share is spent: `policy.max_batches` batches or `policy.scan_seconds`. The rest
    waits for the next run, and the due sends get the rest of this one. Runs at once may
    scan a batch twice: the unique key keeps one send."""
    began, made, batches = deps.clock.now(), 0, 0
    async with deps.uow() as uow:
        active = await uow.automations.active()
        swept = await uow.automations.scans([a.id for a in active])
    for automation in active:
        if automation.draft.trigger.kind is TriggerKind.ENTERED_SEGMENT:
            made += await scan_segment(deps, automation)

    def spent() -> bool:
        elapsed = (deps.clock.now() - began).total_seconds()
        return batches >= deps.policy.max_batches or elapsed >= deps.policy.scan_seconds

    scanned = [a for a in active if a.draft.trigger.kind in SCAN_TRIGGERS]
    scanned.sort(key=lambda a: (a.id in swept, swept[a.id][1] if a.id in swept else began))
    for automation in scanned:
        after = swept[automation.id][0] if automation.id in swept else None
        while not spent():
            async with deps.uow() as uow:
                found, after = await scan_batch(deps, uow, automation, after)
                made += await uow.automations.add_sends(
                    [candidate(automation, m, p, deps) for m, p in found]
                )
                await uow.automations.save_scan(automation.id, after, deps.clock.now())
            batches += 1
            if after is None:  # the sweep is over: the next run begins a new one
                break
    return made


async def _on_event(
    deps: AutomationDeps, uow: UnitOfWork, trigger: TriggerKind, member_id: UUID, period: str
) -> None:
    hit = await uow.automations.active(trigger)
    if hit:
        await uow.automations.add_sends([candidate(a, member_id, period, deps) for a in hit])


def register_handlers(deps: AutomationDeps, events: EventHandlers) -> None:
    """Ordering's hand-overs are counted (the first fires FIRST_ORDER_HANDED_OVER) and fire
    REFERRAL_REWARDED. The rest of what automations know of a member's orders is member facts'
    (last order, orders in 365 days, preferred store), kept by their own handlers."""

    async def on_handed_over(uow: UnitOfWork, event: OrderHandedOver) -> None:
        if await uow.automations.note_handed_over(event.member_id) == 1:
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

    events.register(OrderHandedOver, on_handed_over)
    events.register(MembersMerged, on_merged)
