"""Member facts and RFM: kept current in the transaction of each order's payment,
cancellation and refund (the member's row recomputed from the source tables, the statement the
rebuild runs for a batch), of each change of points balance or tier (loyalty's values copied)
and of consents (the two consent columns recomputed), and rebuilt daily for everyone in keyset
batches, then scored (RFM quintiles, segments) and the automatic tags re-applied: a cycle that
resumes from its last batch across the job's runs. Merges recompute the survivor's row and drop
the absorbed member's; erasure drops the member's row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from domain.engagement.deps import FactsDeps
from domain.engagement.facts_model import Cutoffs, MemberFacts, RebuildBudget
from domain.engagement.rfm import SEGMENT_RULES, RfmSegment
from domain.engagement.tags import apply_rules
from domain.errors import EngagementError, EngagementErrorCode
from domain.events import (
    ConsentsChanged,
    EventHandlers,
    MemberErased,
    MemberProfileChanged,
    MembersMerged,
    OrderCancelled,
    OrderFullyRefunded,
    OrderPaid,
    PointsStandingChanged,
    RefundCompleted,
)
from domain.identity.model import Principal
from domain.ordering.services import is_cs
from domain.uow import UnitOfWork


class _AboutAnOrder(Protocol):
    @property
    def order_id(self) -> UUID: ...


@dataclass(frozen=True)
class Rebuilt:
    members: int  # rows refreshed by this call
    scored: int
    tags_changed: int
    finished: bool  # the cycle is complete (this call ended it, or it was and is not due)


async def rebuild_member_facts(deps: FactsDeps, budget: RebuildBudget | None = None) -> Rebuilt:
    """Every active member's row recomputed from the source tables in cycles of keyset
    batches (one statement and one transaction each, the cursor saved with the batch), then
    the RFM scores and the automatic tags. Without a budget (CLI, seeding, tests) a new cycle
    starts now and runs to its end. With one (the job, every 10 min) an unfinished cycle goes
    on from its cursor with its own cutoffs, a finished one is followed by a new one only when
    it began `deps.cycle_every` ago, and the call stops when the budget is spent: a million
    members take a few runs, the scoring waits for the last batch. Idempotent; two calls at
    once share the batches (each takes the cycle's row lock)."""
    began = deps.clock.now()
    async with deps.uow() as uow:
        cycle = await uow.member_facts.rebuild_cycle(lock=True)
        if budget is None or cycle is None or cycle.is_due(began, deps.cycle_every):
            await uow.member_facts.start_rebuild(began, replace=cycle is not None or budget is None)
        elif cycle.finished_at is not None:
            return Rebuilt(0, 0, 0, finished=True)
    members = steps = 0
    while budget is None or not budget.spent(deps.clock.now() - began, steps):
        step = await _step(deps)
        members, steps = members + step.refreshed, steps + 1
        if step.over:
            return await _finish(deps, members, step)
    return Rebuilt(members, 0, 0, finished=False)


@dataclass(frozen=True)
class _Step:
    refreshed: int = 0  # rows of the batch
    over: bool = False  # no batch was left: the cycle was scored (or another run finished it)
    scored: int = 0
    started_at: datetime | None = None  # of the cycle scored


async def _step(deps: FactsDeps) -> _Step:
    """One transaction under the cycle's row lock: the next batch of the cycle, its cursor
    saved with it; when none is left, the rows of members gone dropped and RFM scored (in the
    same lock, so a cycle begun meanwhile by another call is never scored half done)."""
    async with deps.uow() as uow:
        cycle = await uow.member_facts.rebuild_cycle(lock=True)
        if cycle is None or cycle.finished_at is not None:  # another call finished it
            return _Step(over=True)
        at = Cutoffs.at(cycle.started_at)
        ids = await uow.member_facts.member_ids_after(cycle.cursor, deps.batch_size)
        if ids:
            refreshed = await uow.member_facts.refresh_range(ids[0], ids[-1], at)
            await uow.member_facts.advance_rebuild(ids[-1])
            return _Step(refreshed)
        await uow.member_facts.drop_inactive()
        scored = await uow.member_facts.score_rfm(at, SEGMENT_RULES)
        return _Step(over=True, scored=scored, started_at=cycle.started_at)


async def _finish(deps: FactsDeps, members: int, scored: _Step) -> Rebuilt:
    """After the scoring: the automatic tags, then the cycle marked finished (a call cut
    before that scores and tags again: each step is idempotent)."""
    if scored.started_at is None:
        return Rebuilt(members, 0, 0, finished=True)
    tags_changed = await apply_rules(deps)
    async with deps.uow() as uow:
        await uow.member_facts.finish_rebuild(scored.started_at, deps.clock.now())
    return Rebuilt(members, scored.scored, tags_changed, finished=True)


async def facts_of(deps: FactsDeps, member_ids: Sequence[UUID]) -> list[MemberFacts]:
    async with deps.uow() as uow:
        return await uow.member_facts.get_many(list(member_ids))


def may_see_facts(actor: Principal | None) -> bool:
    """CS and ADMIN."""
    return actor is not None and not actor.is_member and is_cs(actor)


async def rfm_summary(deps: FactsDeps, actor: Principal) -> dict[RfmSegment, int]:
    """Members per RFM segment (as of the last nightly scoring): ADMIN."""
    if not actor.is_admin:
        raise EngagementError(EngagementErrorCode.FORBIDDEN, "Only ADMIN.")
    async with deps.uow() as uow:
        counts = await uow.member_facts.segment_counts()
    return {s: counts.get(s.value, 0) for s in RfmSegment}


def register_facts_handlers(deps: FactsDeps, events: EventHandlers) -> None:
    """Registered after ordering's and the other contexts' handlers: a merge's orders are
    the survivor's by the time the survivor's row is recomputed."""

    async def on_order(uow: UnitOfWork, event: _AboutAnOrder) -> None:
        await uow.member_facts.refresh_of_order(event.order_id, Cutoffs.at(deps.clock.now()))

    async def on_merged(uow: UnitOfWork, event: MembersMerged) -> None:
        await uow.member_facts.refresh_members(
            [event.source_member_id, event.target_member_id], Cutoffs.at(deps.clock.now())
        )

    async def on_profile(uow: UnitOfWork, event: MemberProfileChanged) -> None:
        await uow.member_facts.refresh_members([event.member_id], Cutoffs.at(deps.clock.now()))

    async def on_points(uow: UnitOfWork, event: PointsStandingChanged) -> None:
        now = deps.clock.now()
        change = (event.member_id, event.balance, event.tier, now)
        if not await uow.member_facts.set_points(*change):  # no row yet: made whole first
            await uow.member_facts.refresh_members([event.member_id], Cutoffs.at(now))
            await uow.member_facts.set_points(*change)

    async def on_consents(uow: UnitOfWork, event: ConsentsChanged) -> None:
        now = deps.clock.now()
        if not await uow.member_facts.refresh_consents(event.member_id, now):
            await uow.member_facts.refresh_members([event.member_id], Cutoffs.at(now))

    async def on_erased(uow: UnitOfWork, event: MemberErased) -> None:
        await uow.member_facts.delete(event.member_id)

    events.register(OrderPaid, on_order)
    events.register(OrderCancelled, on_order)
    events.register(RefundCompleted, on_order)
    events.register(OrderFullyRefunded, on_order)
    events.register(MembersMerged, on_merged)
    events.register(MemberProfileChanged, on_profile)
    events.register(PointsStandingChanged, on_points)
    events.register(ConsentsChanged, on_consents)
    events.register(MemberErased, on_erased)
