"""Storage of member facts (table `member_facts`): a read model over orders, loyalty, consents
and growth, rebuilt from their tables in set-based SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from domain.engagement.facts_model import Cutoffs, MemberFacts, RebuildCycle
from domain.engagement.rfm import SegmentRule


class MemberFactsRepository(Protocol):
    async def refresh_members(self, member_ids: Sequence[UUID], at: Cutoffs) -> int:
        """Recompute these members' rows from the source tables (one statement); a member
        not active (merged, erased) loses their row."""
        ...

    async def set_points(self, member_id: UUID, balance: int, tier: str, now: datetime) -> bool:
        """Copy loyalty's balance and tier onto the member's row; False: there is no row."""
        ...

    async def refresh_consents(self, member_id: UUID, now: datetime) -> bool:
        """Recompute the row's consent columns from the consent records (the rebuild's rule);
        False: there is no row."""
        ...

    async def refresh_of_order(self, order_id: UUID, at: Cutoffs) -> None:
        """Recompute the row of the order's member (one statement)."""
        ...

    async def member_ids_after(self, after: UUID | None, limit: int) -> list[UUID]:
        """Active members' ids in id order (the rebuild's keyset batches)."""
        ...

    async def refresh_range(self, first: UUID, last: UUID, at: Cutoffs) -> int:
        """Recompute every active member's row with first <= id <= last (one statement)."""
        ...

    async def rebuild_cycle(self, lock: bool = False) -> RebuildCycle | None:
        """The rebuild's current cycle (None before the first); `lock`: held to the end of the
        transaction, so two runs take their batches one after the other."""
        ...

    async def start_rebuild(self, started_at: datetime, replace: bool = True) -> None:
        """Begin a new cycle at `started_at` (cursor None, not finished) in place of the last;
        `replace` False: keep a cycle that another run began meanwhile (the very first, which
        no row lock can guard)."""
        ...

    async def advance_rebuild(self, cursor: UUID) -> None:
        """Record the last member id refreshed (in the transaction of the batch's upsert)."""
        ...

    async def finish_rebuild(self, started_at: datetime, finished_at: datetime) -> bool:
        """Mark the cycle begun at `started_at` finished; False: it was already, or another
        cycle has begun since."""
        ...

    async def drop_inactive(self) -> int:
        """Delete rows of members no longer active (merged or erased)."""
        ...

    async def score_rfm(self, at: Cutoffs, rules: Sequence[SegmentRule]) -> int:
        """Set-based: quintile scores and segments of members with an order in 365 days,
        none for the others."""
        ...

    async def get_many(self, member_ids: Sequence[UUID]) -> list[MemberFacts]: ...
    async def quiet_since(
        self, before: datetime, after: UUID | None, limit: int
    ) -> list[tuple[UUID, datetime]]:
        """(member, last order) of members whose last order (paid, counted) was before
        `before`, by member id after `after` (automations' NO_ORDER_FOR_DAYS)."""
        ...

    async def birthdays_on(
        self, days: Sequence[str], after: UUID | None, limit: int
    ) -> list[tuple[UUID, str, UUID | None]]:
        """(member, birthday "MM-DD", preferred store) of members whose birthday is one of
        `days`, by member id after `after` (automations' BIRTHDAY)."""
        ...

    async def segment_counts(self) -> dict[str, int]: ...
    async def delete(self, member_id: UUID) -> None: ...
