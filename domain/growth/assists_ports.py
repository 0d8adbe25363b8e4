"""Storage of friend-assist campaigns, tasks, assists and the rewards they paid."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Protocol
from uuid import UUID

from domain.growth.assists_model import (
    Assist,
    AssistCampaign,
    AssistPayout,
    AssistTask,
    CampaignStatus,
)
from domain.pagination import Page, PageRequest


class AssistRepository(Protocol):
    async def add_campaign(self, campaign: AssistCampaign) -> None: ...
    async def get_campaign(
        self, campaign_id: UUID, *, lock: bool = False
    ) -> AssistCampaign | None: ...
    async def campaigns_of(self, campaign_ids: Sequence[UUID]) -> list[AssistCampaign]: ...
    async def save_campaign(self, campaign: AssistCampaign) -> None: ...
    async def campaigns(
        self, status: CampaignStatus | None, page: PageRequest
    ) -> Page[AssistCampaign]:
        """Newest first."""
        ...

    async def add_task(self, task: AssistTask) -> bool:
        """Insert an OPEN task; False (nothing written) when the member has an open task of
        the campaign already, also one a concurrent transaction is writing (a unique key)."""
        ...

    async def get_task(self, task_id: UUID) -> AssistTask | None: ...
    async def open_task(self, campaign_id: UUID, member_id: UUID) -> AssistTask | None: ...
    async def tasks_of_member(self, member_id: UUID, limit: int) -> list[AssistTask]:
        """Newest first."""
        ...

    async def count_helper(self, task_id: UUID, now: datetime) -> int | None:
        """One more helper on an OPEN task before its deadline, in one conditional update that
        locks the task row until the commit (assists of one task run one after another, in
        every process); the new count, or None when the task is not open."""
        ...

    async def close_task(self, task_id: UUID, status: str, now: datetime) -> None:
        """OPEN → COMPLETED or EXPIRED: the member may start another task of the campaign."""
        ...

    async def expire_tasks(self, now: datetime, limit: int) -> int:
        """OPEN tasks past their deadline → EXPIRED (at most `limit`)."""
        ...

    async def has_assisted(self, task_id: UUID, helper_ids: Sequence[UUID]) -> bool:
        """Whether any of these accounts (one person's) assisted the task."""
        ...

    async def slots_taken(self, helper_id: UUID, day: date) -> set[int]: ...
    async def assists_on(self, helper_ids: Sequence[UUID], day: date) -> int:
        """The assists these accounts made on that store-local day."""
        ...

    async def open_tasks_of(self, member_ids: Sequence[UUID]) -> list[AssistTask]:
        """The OPEN tasks of these members, locked until the commit in id order (a merge
        decides between two of them while no assist counts on either)."""
        ...

    async def move_member(self, source: UUID, target: UUID) -> int:
        """A merged member's tasks become the survivor's, an open one open under the
        survivor's id (the caller closed the one it would collide with first)."""
        ...

    async def forget_helpers(self, helper_ids: Sequence[UUID]) -> None:
        """An erasure: these accounts' (one person's) assists show no name any more ("**")."""
        ...

    async def task_page(self, member_id: UUID, page: PageRequest) -> Page[AssistTask]:
        """The member's tasks, newest first (their data export)."""
        ...

    async def assists_by(self, helper_ids: Sequence[UUID], page: PageRequest) -> Page[Assist]:
        """The assists these accounts (one person's) gave, newest first (their data export)."""
        ...

    async def tasks_of(self, task_ids: Sequence[UUID]) -> list[AssistTask]: ...

    async def add_assist(self, assist: Assist) -> bool:
        """Insert; False (nothing written) when its (helper, day, slot) or (task, helper) is
        taken, also by a concurrent transaction (the unique keys decide)."""
        ...

    async def assists_of(self, task_ids: Sequence[UUID]) -> list[Assist]:
        """Oldest first."""
        ...

    async def add_payout(self, payout: AssistPayout) -> None: ...
    async def payouts_of(self, task_id: UUID) -> list[AssistPayout]: ...
    async def payouts_of_tasks(self, task_ids: Sequence[UUID]) -> list[AssistPayout]: ...
