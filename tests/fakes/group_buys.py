"""Group-buys in memory (`Tables.group_buy_*`): campaigns, groups and their counters, seats."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from uuid import UUID

from domain.growth.group_buys_model import Group, GroupBuyCampaign, GroupStatus, Seat, SeatStatus
from domain.growth.group_buys_ports import DuplicateSeat, GroupBuyRepository
from domain.pagination import Page, PageRequest
from tests.fakes.tables import Tables


class FakeGroupBuys(GroupBuyRepository):
    def __init__(self, tables: Tables):
        self._t = tables

    async def add_campaign(self, campaign: GroupBuyCampaign) -> None:
        self._t.group_buy_campaigns[campaign.id] = replace(campaign)

    async def get_campaign(self, campaign_id: UUID) -> GroupBuyCampaign | None:
        found = self._t.group_buy_campaigns.get(campaign_id)
        return replace(found) if found else None

    async def cancel_campaign(self, campaign_id: UUID, at: datetime, reason: str) -> bool:
        campaign = self._t.group_buy_campaigns[campaign_id]
        if campaign.cancelled_at is not None:
            return False
        campaign.cancelled_at, campaign.cancel_reason = at, reason
        return True

    async def list_campaigns(
        self, now: datetime, active: bool | None, limit: int
    ) -> list[GroupBuyCampaign]:
        found = [
            replace(c)
            for c in self._t.group_buy_campaigns.values()
            if active is None or active == (c.ends_at > now and c.cancelled_at is None)
        ]
        return sorted(found, key=lambda c: c.starts_at, reverse=True)[:limit]

    async def take_units(self, campaign_id: UUID, units: int, now: datetime) -> bool:
        c = self._t.group_buy_campaigns[campaign_id]
        if not c.is_live(now) or c.units_taken + units > c.units_offered:
            return False
        c.units_taken += units
        return True

    async def give_back_units(self, campaign_id: UUID, units: int) -> None:
        self._t.group_buy_campaigns[campaign_id].units_taken -= units

    async def take_member_seat(self, campaign_id: UUID, member_id: UUID, limit: int) -> bool:
        held = self._t.group_buy_members.get((campaign_id, member_id), 0)
        if held + 1 > limit:
            return False
        self._t.group_buy_members[(campaign_id, member_id)] = held + 1
        return True

    async def give_back_member_seat(self, campaign_id: UUID, member_id: UUID) -> None:
        key = (campaign_id, member_id)
        self._t.group_buy_members[key] = max(self._t.group_buy_members.get(key, 0) - 1, 0)

    async def add_group(self, group: Group) -> None:
        self._t.group_buys[group.id] = replace(group, seats=[])

    async def get_group(self, group_id: UUID) -> Group | None:
        found = self._t.group_buys.get(group_id)
        if found is None:
            return None
        seats = sorted(
            (replace(s) for s in self._t.group_buy_seats.values() if s.group_id == group_id),
            key=lambda s: (s.joined_at, s.id),
        )
        return replace(found, seats=seats)

    async def group_of_order(self, order_id: UUID) -> Group | None:
        seat = next((s for s in self._t.group_buy_seats.values() if s.order_id == order_id), None)
        return await self.get_group(seat.group_id) if seat else None

    async def take_seat(self, group_id: UUID, now: datetime) -> bool:
        g = self._t.group_buys[group_id]
        if g.status is not GroupStatus.OPEN or g.seats_taken >= g.size or g.expires_at <= now:
            return False
        g.seats_taken += 1
        return True

    async def free_seat(self, group_id: UUID, was_paid: bool) -> None:
        g = self._t.group_buys[group_id]
        if g.status is GroupStatus.OPEN:
            g.seats_taken -= 1
            g.paid -= 1 if was_paid else 0

    async def count_payment(self, group_id: UUID, now: datetime) -> Group | None:
        g = self._t.group_buys[group_id]
        if g.status is not GroupStatus.OPEN or g.paid >= g.seats_taken or g.expires_at <= now:
            return None
        g.paid += 1
        if g.paid == g.size:
            g.status, g.closed_at = GroupStatus.COMPLETED, now
        return replace(g, seats=[])

    async def fail_group(self, group_id: UUID, now: datetime) -> bool:
        g = self._t.group_buys[group_id]
        if g.status is not GroupStatus.OPEN or g.expires_at > now:
            return False
        g.status, g.closed_at = GroupStatus.FAILED, now
        return True

    async def due_groups(self, now: datetime, limit: int) -> list[UUID]:
        due = [
            g
            for g in self._t.group_buys.values()
            if g.status is GroupStatus.OPEN and g.expires_at <= now
        ]
        return [g.id for g in sorted(due, key=lambda g: (g.expires_at, g.id))][:limit]

    async def add_seat(self, seat: Seat) -> None:
        if any(
            s.group_id == seat.group_id and s.member_id == seat.member_id
            for s in self._t.group_buy_seats.values()
        ):
            raise DuplicateSeat
        self._t.group_buy_seats[seat.id] = replace(seat)

    async def seat_of_order(self, order_id: UUID) -> Seat | None:
        found = next((s for s in self._t.group_buy_seats.values() if s.order_id == order_id), None)
        return replace(found) if found else None

    async def set_seat_status(self, seat_id: UUID, status: SeatStatus) -> None:
        self._t.group_buy_seats[seat_id].status = status

    async def delete_seat(self, seat_id: UUID) -> None:
        del self._t.group_buy_seats[seat_id]

    async def move_member(self, source: UUID, target: UUID) -> None:
        seats = self._t.group_buy_seats.values()
        joined = {s.group_id for s in seats if s.member_id == target}
        for seat in seats:
            if seat.member_id == source and seat.group_id not in joined:
                seat.member_id = target
        for group in self._t.group_buys.values():
            if group.leader_id == source:
                group.leader_id = target
        counts = self._t.group_buy_members
        for campaign, member in [k for k in counts if k[1] == source]:
            held = counts.pop((campaign, member))
            counts[(campaign, target)] = counts.get((campaign, target), 0) + held

    async def forget_members(self, member_ids: Sequence[UUID]) -> None:
        for seat in self._t.group_buy_seats.values():
            if seat.member_id in member_ids:
                seat.label = "**"

    async def seat_page(self, member_ids: Sequence[UUID], page: PageRequest) -> Page[Seat]:
        after = UUID(page.after) if page.after else None
        mine = sorted(
            (
                replace(s)
                for s in self._t.group_buy_seats.values()
                if s.member_id in member_ids and (after is None or s.id < after)
            ),
            key=lambda s: s.id,
            reverse=True,
        )[: page.first + 1]
        return Page.from_rows(mine, [str(s.id) for s in mine], page)

    async def groups_of(self, group_ids: Sequence[UUID]) -> list[Group]:
        return [replace(self._t.group_buys[i], seats=[]) for i in dict.fromkeys(group_ids)]

    async def campaigns_of(self, campaign_ids: Sequence[UUID]) -> list[GroupBuyCampaign]:
        return [replace(self._t.group_buy_campaigns[i]) for i in dict.fromkeys(campaign_ids)]

    async def seats_to_cancel(self, limit: int) -> list[UUID]:
        live = (SeatStatus.HELD, SeatStatus.PAID)
        return [
            s.order_id
            for s in sorted(self._t.group_buy_seats.values(), key=lambda s: (s.joined_at, s.id))
            if s.status in live and self._t.group_buys[s.group_id].status is GroupStatus.FAILED
        ][:limit]
