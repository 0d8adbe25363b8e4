"""Member facts and RFM: kept current in the transaction of each order's payment,
cancellation and refund (the member's row recomputed from the source tables, the statement the
nightly rebuild runs for a batch), of each change of points balance or tier (loyalty's values
copied) and of consents (the two consent columns recomputed), and rebuilt every night for
everyone in keyset batches, then scored (RFM quintiles, segments) and the automatic tags
re-applied. Merges recompute the survivor's row and drop the absorbed member's; erasure drops
the member's row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from domain.engagement.deps import FactsDeps
from domain.engagement.facts_model import Cutoffs, MemberFacts
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
    members: int
    scored: int
    tags_changed: int


async def rebuild_member_facts(deps: FactsDeps) -> Rebuilt:
    """Every active member's row recomputed from the source tables, a batch of ids per
    statement (keyset: a crash resumes nowhere special, a rerun gives the same rows), then
    the RFM scores and the automatic tags. Idempotent."""
    at = Cutoffs.at(deps.clock.now())
    members, after = 0, None
    while True:
        async with deps.uow() as uow:
            ids = await uow.member_facts.member_ids_after(after, deps.batch_size)
            if not ids:
                await uow.member_facts.drop_inactive()
                break
            members += await uow.member_facts.refresh_range(ids[0], ids[-1], at)
        after = ids[-1]
    async with deps.uow() as uow:
        scored = await uow.member_facts.score_rfm(at, SEGMENT_RULES)
    return Rebuilt(members, scored, await apply_rules(deps))


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
