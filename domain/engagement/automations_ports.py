"""Storage of automations (tables `automation`, `automation_send`, `automation_member`,
`automation_cap`, `automation_segment_member`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from domain.engagement.automations_model import (
    Automation,
    AutomationStatus,
    Send,
    SendOutcome,
    TriggerKind,
)
from domain.engagement.segments_ports import Where
from domain.pagination import Page, PageRequest


class AutomationRepository(Protocol):
    async def add(self, automation: Automation) -> None: ...
    async def get(self, automation_id: UUID, *, lock: bool = False) -> Automation | None: ...
    async def save(self, automation: Automation) -> None: ...
    async def page(self, status: AutomationStatus | None, page: PageRequest) -> Page[Automation]:
        """Newest first."""
        ...

    async def active(self, trigger: TriggerKind | None = None) -> list[Automation]: ...
    async def add_sends(self, sends: Sequence[Send]) -> int:
        """Insert unless (automation, member, period key) is there already (also in a race,
        without failing the transaction); returns how many were new."""
        ...

    async def scans(
        self, automation_ids: Sequence[UUID]
    ) -> dict[UUID, tuple[UUID | None, datetime]]:
        """Each scan automation's sweep that has begun: the last id scanned (None: the next
        batch starts a new sweep) and when it last scanned a batch."""
        ...

    async def save_scan(self, automation_id: UUID, cursor: UUID | None, at: datetime) -> None:
        """Where the automation's sweep stands after a batch scanned at `at`."""
        ...

    async def claim_due(self, now: datetime, limit: int) -> list[Send]:
        """PENDING sends of ACTIVE automations due by `now`, earliest first, locked until the
        commit with SKIP LOCKED (two runs at once take different sends)."""
        ...

    async def save_sends(self, sends: Sequence[Send]) -> None:
        """What a run settled of each send (outcome, due time, what it made), by its id."""
        ...

    async def sends_of(self, automation_id: UUID, page: PageRequest) -> Page[Send]:
        """Newest first."""
        ...

    async def sends_to(self, member_id: UUID, page: PageRequest) -> Page[Send]:
        """The member's sends of every automation, newest first (CS's view of the member)."""
        ...

    async def pending_of(self, automation_id: UUID, limit: int) -> list[Send]: ...
    async def periods_taken(
        self, automation_id: UUID, member_periods: Sequence[tuple[UUID, str]]
    ) -> set[tuple[UUID, str]]: ...
    async def messages_since(self, member_ids: Sequence[UUID], since: datetime) -> dict[UUID, int]:
        """Messages automations wrote to each member since `since` (for the frequency cap)."""
        ...

    async def lock_members(self, member_ids: Sequence[UUID], now: datetime) -> None:
        """Lock each member's cap row (made if missing) until the commit, in member id order:
        runs at once that may message the same member take turns, and the later one counts
        the earlier one's messages (`messages_since`) before writing its own."""
        ...

    async def counts(self, automation_ids: Sequence[UUID]) -> dict[UUID, dict[SendOutcome, int]]:
        """Sends per outcome of each automation, in one statement (a page of automations)."""
        ...

    async def note_handed_over(self, member_id: UUID) -> int:
        """One more order handed over to the member (from OrderHandedOver); returns how many
        now. The only order activity automations keep: member facts (`member_facts`) count
        paid orders, not hand-overs, and FIRST_ORDER_HANDED_OVER needs the first hand-over."""
        ...

    async def enter_segment(
        self, automation_id: UUID, where: Where, now: datetime, limit: int | None
    ) -> list[UUID]:
        """ENTERED_SEGMENT: note up to `limit` (None: all, returning none) active members who
        satisfy `where` and are not noted for the automation yet (entered at `now`), in one
        INSERT … SELECT; a member a run at once notes first is left out. Returns those noted,
        by id."""
        ...

    async def left_segment(self, automation_id: UUID, where: Where) -> int:
        """Forget the noted members who no longer satisfy `where` (or are no longer active),
        in one statement, so a later entry counts again; how many."""
        ...

    async def entering(
        self, automation_id: UUID, where: Where, after: UUID | None, limit: int
    ) -> list[UUID]:
        """What `enter_segment` would note, without noting it: a page by member id."""
        ...

    async def forget_segment(self, automation_id: UUID) -> None:
        """Forget every member noted for the automation (its segment changed)."""
        ...

    async def move_member(self, source: UUID, target: UUID) -> None:
        """A merge: the absorbed member's sends go to the survivor (but for a period the
        survivor has had already), and their hand-overs add to the survivor's."""
        ...
