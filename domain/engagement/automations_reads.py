"""What an automation run reads of a batch of sends' members, read once per batch (one
statement each) instead of once per send: who survives each send's member (merges
followed), the survivors' facts, their stores' clocks, their tiers and whether the purpose of
each automation's message reaches them (`can_contact`, asked the way the outbox asks it). A
member not read ahead is read when asked, so every answer is the one a read per send gives."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from uuid import UUID
from zoneinfo import ZoneInfo

from domain.engagement.automations_model import Automation, Send, message_key
from domain.engagement.deps import AutomationDeps
from domain.engagement.facts_model import MemberFacts
from domain.locations.model import DEFAULT_TIMEZONE
from domain.locations.services import timezones_in_uow
from domain.loyalty.services import tiers_in_uow
from domain.members.model import ConsentPurpose, Member
from domain.members.services import surviving_members_in_uow
from domain.outbox import Notification
from domain.outbox.services import reachable
from domain.uow import UnitOfWork


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


def automation_notice(automation: Automation, member_id: UUID, dedupe_key: str) -> Notification:
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


@dataclass
class BatchReads:
    deps: AutomationDeps
    uow: UnitOfWork
    survivors: dict[UUID, Member | None] = field(default_factory=dict)
    facts: dict[UUID, MemberFacts | None] = field(default_factory=dict)
    zones: dict[UUID, ZoneInfo] = field(default_factory=dict)
    tiers: dict[UUID, str] = field(default_factory=dict)
    reaches: dict[tuple[UUID, ConsentPurpose], bool] = field(default_factory=dict)

    async def read_ahead(self, sends: Sequence[Send], by_id: Mapping[UUID, Automation]) -> None:
        """The batch's members, their facts, stores, tiers (when a condition names one) and
        consents (when the action messages), each in one read."""
        self.survivors.update(
            await surviving_members_in_uow(self.uow, [s.member_id for s in sends])
        )
        alive = sorted({m.id for m in self.survivors.values() if m is not None and m.is_active})
        await self._read_facts(alive)
        await self._read_zones([f.preferred_store_id for f in self.facts.values() if f])
        automations = [a for a in (by_id.get(s.automation_id) for s in sends) if a is not None]
        if any(a.draft.conditions.tiers for a in automations):
            self.tiers.update(await tiers_in_uow(self.deps.loyalty, self.uow, alive))
        notices = [
            automation_notice(a, m, message_key(a.id))
            for a in {a.id: a for a in automations if a.draft.action.messages}.values()
            for m in alive
        ]
        await self._read_reach(notices)

    async def member(self, member_id: UUID) -> Member | None:
        if member_id not in self.survivors:
            self.survivors.update(await surviving_members_in_uow(self.uow, [member_id]))
        return self.survivors[member_id]

    async def facts_of(self, member_id: UUID) -> MemberFacts | None:
        if member_id not in self.facts:
            await self._read_facts([member_id])
        return self.facts[member_id]

    async def zone(self, store_id: UUID | None) -> ZoneInfo:
        """The clock of the store (Asia/Shanghai for none or one unknown)."""
        if store_id is None:
            return ZoneInfo(DEFAULT_TIMEZONE)
        if store_id not in self.zones:
            await self._read_zones([store_id])
        return self.zones[store_id]

    async def tier(self, member_id: UUID) -> str:
        if member_id not in self.tiers:
            self.tiers.update(await tiers_in_uow(self.deps.loyalty, self.uow, [member_id]))
        return self.tiers[member_id]

    async def consents(self, automation: Automation, member_id: UUID) -> bool:
        """Whether the automation's message may reach the member (the purpose's consent)."""
        notice = automation_notice(automation, member_id, message_key(automation.id))
        assert notice.consent is not None
        key = (member_id, notice.consent)
        if key not in self.reaches:
            await self._read_reach([notice])
        return self.reaches[key]

    async def _read_facts(self, member_ids: Sequence[UUID]) -> None:
        found = {f.member_id: f for f in await self.uow.member_facts.get_many(member_ids)}
        self.facts.update({m: found.get(m) for m in member_ids})

    async def _read_zones(self, store_ids: Sequence[UUID | None]) -> None:
        wanted = sorted({s for s in store_ids if s is not None and s not in self.zones})
        if wanted:
            found = await timezones_in_uow(self.uow, wanted)
            self.zones.update({s: ZoneInfo(found.get(s, DEFAULT_TIMEZONE)) for s in wanted})

    async def _read_reach(self, notices: Sequence[Notification]) -> None:
        if not notices:
            return
        allowed = {(n.member_id, n.consent) for n in await reachable(self.uow, notices)}
        for n in notices:
            assert n.member_id is not None and n.consent is not None
            self.reaches[(n.member_id, n.consent)] = (n.member_id, n.consent) in allowed
