"""The port of group-buys: campaigns, groups, seats and their counters (`group_buys_model`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from domain.growth.group_buys_model import Group, GroupBuyCampaign, Seat, SeatStatus
from domain.pagination import Page, PageRequest


class DuplicateSeat(Exception):
    """`add_seat`: the member has a seat in this group already."""


class GroupBuyRepository(Protocol):
    async def add_campaign(self, campaign: GroupBuyCampaign) -> None: ...

    async def get_campaign(self, campaign_id: UUID) -> GroupBuyCampaign | None: ...

    async def cancel_campaign(self, campaign_id: UUID, at: datetime, reason: str) -> bool:
        """Set `cancelled_at` once (False: already cancelled)."""
        ...

    async def list_campaigns(
        self, now: datetime, active: bool | None, limit: int
    ) -> list[GroupBuyCampaign]:
        """Latest start first; `active`: not ended nor cancelled (True), or the others."""
        ...

    async def take_units(self, campaign_id: UUID, units: int, now: datetime) -> bool:
        """Add to `units_taken` within `units_offered` while the campaign is live."""
        ...

    async def give_back_units(self, campaign_id: UUID, units: int) -> None: ...

    async def take_member_seat(self, campaign_id: UUID, member_id: UUID, limit: int) -> bool:
        """Count one more seat of the member in the campaign if it stays within `limit`."""
        ...

    async def give_back_member_seat(self, campaign_id: UUID, member_id: UUID) -> None: ...

    async def add_group(self, group: Group) -> None: ...

    async def get_group(self, group_id: UUID) -> Group | None:
        """With its seats, in the order they were taken."""
        ...

    async def group_of_order(self, order_id: UUID) -> Group | None:
        """The group of the order's seat, with its seats (None: the order is no seat)."""
        ...

    async def take_seat(self, group_id: UUID, now: datetime) -> bool:
        """One more seat if the group is OPEN, not expired and not full (False: GROUP_FULL)."""
        ...

    async def free_seat(self, group_id: UUID, was_paid: bool) -> None:
        """An OPEN group's seat is free again (and its payment no longer counts)."""
        ...

    async def count_payment(self, group_id: UUID, now: datetime) -> Group | None:
        """One more paid seat of an OPEN group not past its time; the group COMPLETES when every
        seat of its size is paid. None: not counted; else the group after it (without seats)."""
        ...

    async def fail_group(self, group_id: UUID, now: datetime) -> bool:
        """OPEN and past `expires_at` becomes FAILED (False: completed or failed already)."""
        ...

    async def due_groups(self, now: datetime, limit: int) -> list[UUID]:
        """OPEN groups past their `expires_at`, oldest first."""
        ...

    async def add_seat(self, seat: Seat) -> None:
        """Raises DuplicateSeat for a second seat of one member in one group."""
        ...

    async def seat_of_order(self, order_id: UUID) -> Seat | None: ...

    async def set_seat_status(self, seat_id: UUID, status: SeatStatus) -> None: ...

    async def delete_seat(self, seat_id: UUID) -> None: ...

    async def move_member(self, source: UUID, target: UUID) -> None:
        """A merge: the source's seats (except in a group the target is in), groups led and
        seat counts per campaign become the target's."""
        ...

    async def forget_members(self, member_ids: Sequence[UUID]) -> None:
        """An erasure: these accounts' (one person's) seats show no name any more ("**")."""
        ...

    async def seat_page(self, member_ids: Sequence[UUID], page: PageRequest) -> Page[Seat]:
        """These accounts' (one person's) seats, newest first (their data export)."""
        ...

    async def groups_of(self, group_ids: Sequence[UUID]) -> list[Group]:
        """The groups, without their seats."""
        ...

    async def campaigns_of(self, campaign_ids: Sequence[UUID]) -> list[GroupBuyCampaign]: ...

    async def seats_to_cancel(self, limit: int) -> list[UUID]:
        """The orders of seats still HELD or PAID in FAILED groups."""
        ...
