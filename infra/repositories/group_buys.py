"""Group-buys in prebuilt SQL: the counters (a campaign's units, a group's seats and payments,
a member's seats) are conditional updates, which the ORM cannot say."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from tortoise.exceptions import IntegrityError

from domain.growth.group_buys_model import (
    Group,
    GroupBuyCampaign,
    GroupStatus,
    Seat,
    SeatStatus,
)
from domain.growth.group_buys_ports import DuplicateSeat, GroupBuyRepository
from domain.ids import new_id
from domain.pagination import Page, PageRequest
from infra.db import sql
from infra.repositories.paging import id_page

GROUP_BUY_CAMPAIGN_COLUMNS = (
    "id",
    "variant_id",
    "price",
    "currency",
    "group_size",
    "time_limit_seconds",
    "per_member_limit",
    "location_ids",
    "delivery",
    "starts_at",
    "ends_at",
    "units_offered",
    "units_taken",
    "created_at",
    "cancelled_at",
    "cancel_reason",
)
GROUP_BUY_COLUMNS = (
    "id",
    "campaign_id",
    "leader_id",
    "size",
    "status",
    "seats_taken",
    "paid",
    "opened_at",
    "expires_at",
    "closed_at",
)
GROUP_BUY_SEAT_COLUMNS = (
    "id",
    "group_id",
    "campaign_id",
    "member_id",
    "order_id",
    "label",
    "leader",
    "status",
    "joined_at",
)
SELECT_CAMPAIGNS = f"SELECT {', '.join(GROUP_BUY_CAMPAIGN_COLUMNS)} FROM group_buy_campaign"
SELECT_GROUPS = f"SELECT {', '.join(GROUP_BUY_COLUMNS)} FROM group_buy"
SELECT_SEATS = f"SELECT {', '.join(GROUP_BUY_SEAT_COLUMNS)} FROM group_buy_seat"
# A group and its seats in one statement (a group has at most MAX_GROUP_SIZE seats): the seat's
# columns are prefixed `s_`, none when the group has no seat.
SELECT_GROUP_WITH_SEATS = (
    f"SELECT {', '.join(f'g.{c}' for c in GROUP_BUY_COLUMNS)}, "
    f"{', '.join(f's.{c} AS s_{c}' for c in GROUP_BUY_SEAT_COLUMNS)} "
    "FROM group_buy g LEFT JOIN group_buy_seat s ON s.group_id = g.id"
)
SEATS_IN_ORDER = " ORDER BY s.joined_at, s.id"


def _campaign(row: Any) -> GroupBuyCampaign:
    return GroupBuyCampaign(
        id=sql.as_uuid(row["id"]),
        variant_id=sql.as_uuid(row["variant_id"]),
        price=row["price"],
        currency=row["currency"],
        group_size=row["group_size"],
        time_limit=timedelta(seconds=row["time_limit_seconds"]),
        per_member_limit=row["per_member_limit"],
        location_ids=tuple(UUID(x) for x in sql.as_json(row["location_ids"])),
        delivery=bool(row["delivery"]),
        starts_at=sql.as_datetime(row["starts_at"]),
        ends_at=sql.as_datetime(row["ends_at"]),
        units_offered=row["units_offered"],
        units_taken=row["units_taken"],
        created_at=sql.as_datetime(row["created_at"]),
        cancelled_at=sql.as_optional_datetime(row["cancelled_at"]),
        cancel_reason=row["cancel_reason"],
    )


def _group(row: Any) -> Group:
    return Group(
        id=sql.as_uuid(row["id"]),
        campaign_id=sql.as_uuid(row["campaign_id"]),
        leader_id=sql.as_uuid(row["leader_id"]),
        size=row["size"],
        status=GroupStatus(row["status"]),
        seats_taken=row["seats_taken"],
        paid=row["paid"],
        opened_at=sql.as_datetime(row["opened_at"]),
        expires_at=sql.as_datetime(row["expires_at"]),
        closed_at=sql.as_optional_datetime(row["closed_at"]),
    )


def _seat(row: Any) -> Seat:
    return Seat(
        id=sql.as_uuid(row["id"]),
        group_id=sql.as_uuid(row["group_id"]),
        campaign_id=sql.as_uuid(row["campaign_id"]),
        member_id=sql.as_uuid(row["member_id"]),
        order_id=sql.as_uuid(row["order_id"]),
        label=row["label"],
        leader=bool(row["leader"]),
        status=SeatStatus(row["status"]),
        joined_at=sql.as_datetime(row["joined_at"]),
    )


def _group_with_seats(rows: list[Any]) -> Group | None:
    if not rows:
        return None
    group = _group(rows[0])
    group.seats = [
        _seat({c: row[f"s_{c}"] for c in GROUP_BUY_SEAT_COLUMNS})
        for row in rows
        if row["s_id"] is not None
    ]
    return group


class TortoiseGroupBuyRepository(GroupBuyRepository):
    async def add_campaign(self, campaign: GroupBuyCampaign) -> None:
        await sql.insert_row(
            "group_buy_campaign",
            {
                "id": campaign.id,
                "variant_id": campaign.variant_id,
                "price": campaign.price,
                "currency": campaign.currency,
                "group_size": campaign.group_size,
                "time_limit_seconds": int(campaign.time_limit.total_seconds()),
                "per_member_limit": campaign.per_member_limit,
                "location_ids": [str(x) for x in campaign.location_ids],
                "delivery": campaign.delivery,
                "starts_at": campaign.starts_at,
                "ends_at": campaign.ends_at,
                "units_offered": campaign.units_offered,
                "units_taken": campaign.units_taken,
                "created_at": campaign.created_at,
                "cancelled_at": campaign.cancelled_at,
                "cancel_reason": campaign.cancel_reason,
            },
        )

    async def get_campaign(self, campaign_id: UUID) -> GroupBuyCampaign | None:
        rows = await sql.fetch(f"{SELECT_CAMPAIGNS} WHERE id = $1", campaign_id)
        return _campaign(rows[0]) if rows else None

    async def cancel_campaign(self, campaign_id: UUID, at: datetime, reason: str) -> bool:
        changed = await sql.execute(
            "UPDATE group_buy_campaign SET cancelled_at = $2, cancel_reason = $3 "
            "WHERE id = $1 AND cancelled_at IS NULL",
            campaign_id,
            at,
            reason,
        )
        return changed == 1

    async def list_campaigns(
        self, now: datetime, active: bool | None, limit: int
    ) -> list[GroupBuyCampaign]:
        where = {
            None: "",
            True: " WHERE ends_at > $2 AND cancelled_at IS NULL",
            False: " WHERE (ends_at <= $2 OR cancelled_at IS NOT NULL)",
        }[active]
        values = (limit,) if active is None else (limit, now)
        rows = await sql.fetch(
            f"{SELECT_CAMPAIGNS}{where} ORDER BY starts_at DESC, id LIMIT $1", *values
        )
        return [_campaign(row) for row in rows]

    async def take_units(self, campaign_id: UUID, units: int, now: datetime) -> bool:
        changed = await sql.execute(
            "UPDATE group_buy_campaign SET units_taken = units_taken + $2 "
            "WHERE id = $1 AND units_taken + $2 <= units_offered AND cancelled_at IS NULL "
            "AND starts_at <= $3 AND ends_at > $3",
            campaign_id,
            units,
            now,
        )
        return changed == 1

    async def give_back_units(self, campaign_id: UUID, units: int) -> None:
        await sql.execute(
            "UPDATE group_buy_campaign SET units_taken = units_taken - $2 WHERE id = $1",
            campaign_id,
            units,
        )

    async def take_member_seat(self, campaign_id: UUID, member_id: UUID, limit: int) -> bool:
        # One statement: the member's first seat inserts the row; a later one is a conditional
        # update of it (ON CONFLICT locks the row): two tabs of one member cannot both pass.
        rows = await sql.fetch(
            "INSERT INTO group_buy_member (id, campaign_id, member_id, seats) "
            "VALUES ($1, $2, $3, 1) ON CONFLICT (campaign_id, member_id) DO UPDATE "
            "SET seats = group_buy_member.seats + 1 WHERE group_buy_member.seats + 1 <= $4 "
            "RETURNING id",
            new_id(),
            campaign_id,
            member_id,
            limit,
        )
        return len(rows) == 1

    async def give_back_member_seat(self, campaign_id: UUID, member_id: UUID) -> None:
        await sql.execute(
            "UPDATE group_buy_member SET seats = seats - 1 "
            "WHERE campaign_id = $1 AND member_id = $2 AND seats > 0",
            campaign_id,
            member_id,
        )

    async def add_group(self, group: Group) -> None:
        await sql.insert_row(
            "group_buy",
            {
                "id": group.id,
                "campaign_id": group.campaign_id,
                "leader_id": group.leader_id,
                "size": group.size,
                "status": group.status,
                "seats_taken": group.seats_taken,
                "paid": group.paid,
                "opened_at": group.opened_at,
                "expires_at": group.expires_at,
                "closed_at": group.closed_at,
            },
        )

    async def get_group(self, group_id: UUID) -> Group | None:
        return _group_with_seats(
            await sql.fetch(f"{SELECT_GROUP_WITH_SEATS} WHERE g.id = $1{SEATS_IN_ORDER}", group_id)
        )

    async def group_of_order(self, order_id: UUID) -> Group | None:
        return _group_with_seats(
            await sql.fetch(
                f"{SELECT_GROUP_WITH_SEATS} WHERE g.id = "
                f"(SELECT group_id FROM group_buy_seat WHERE order_id = $1){SEATS_IN_ORDER}",
                order_id,
            )
        )

    async def take_seat(self, group_id: UUID, now: datetime) -> bool:
        changed = await sql.execute(
            "UPDATE group_buy SET seats_taken = seats_taken + 1 "
            "WHERE id = $1 AND status = 'OPEN' AND seats_taken < size AND expires_at > $2",
            group_id,
            now,
        )
        return changed == 1

    async def free_seat(self, group_id: UUID, was_paid: bool) -> None:
        await sql.execute(
            "UPDATE group_buy SET seats_taken = seats_taken - 1, paid = paid - $2 "
            "WHERE id = $1 AND status = 'OPEN'",
            group_id,
            1 if was_paid else 0,
        )

    async def count_payment(self, group_id: UUID, now: datetime) -> Group | None:
        # One statement: the count, and the completion when this payment is the size-th.
        rows = await sql.fetch(
            "UPDATE group_buy SET paid = paid + 1, "
            "status = CASE WHEN paid + 1 = size THEN 'COMPLETED' ELSE status END, "
            "closed_at = CASE WHEN paid + 1 = size THEN $2 ELSE closed_at END "
            "WHERE id = $1 AND status = 'OPEN' AND paid < seats_taken AND expires_at > $2 "
            f"RETURNING {', '.join(GROUP_BUY_COLUMNS)}",
            group_id,
            now,
        )
        return _group(rows[0]) if rows else None

    async def fail_group(self, group_id: UUID, now: datetime) -> bool:
        changed = await sql.execute(
            "UPDATE group_buy SET status = 'FAILED', closed_at = $2 "
            "WHERE id = $1 AND status = 'OPEN' AND expires_at <= $2",
            group_id,
            now,
        )
        return changed == 1

    async def due_groups(self, now: datetime, limit: int) -> list[UUID]:
        rows = await sql.fetch(
            "SELECT id FROM group_buy WHERE status = 'OPEN' AND expires_at <= $1 "
            "ORDER BY expires_at, id LIMIT $2",
            now,
            limit,
        )
        return [sql.as_uuid(row["id"]) for row in rows]

    async def add_seat(self, seat: Seat) -> None:
        try:
            await sql.insert_row(
                "group_buy_seat",
                {
                    "id": seat.id,
                    "group_id": seat.group_id,
                    "campaign_id": seat.campaign_id,
                    "member_id": seat.member_id,
                    "order_id": seat.order_id,
                    "label": seat.label,
                    "leader": seat.leader,
                    "status": seat.status,
                    "joined_at": seat.joined_at,
                },
            )
        except IntegrityError:
            raise DuplicateSeat from None

    async def seat_of_order(self, order_id: UUID) -> Seat | None:
        rows = await sql.fetch(f"{SELECT_SEATS} WHERE order_id = $1", order_id)
        return _seat(rows[0]) if rows else None

    async def set_seat_status(self, seat_id: UUID, status: SeatStatus) -> None:
        await sql.execute(
            "UPDATE group_buy_seat SET status = $2 WHERE id = $1", seat_id, status.value
        )

    async def delete_seat(self, seat_id: UUID) -> None:
        await sql.execute("DELETE FROM group_buy_seat WHERE id = $1", seat_id)

    async def move_member(self, source: UUID, target: UUID) -> None:
        await sql.execute(
            "UPDATE group_buy_seat SET member_id = $2 WHERE member_id = $1 AND group_id NOT IN "
            "(SELECT group_id FROM group_buy_seat WHERE member_id = $2)",
            source,
            target,
        )
        await sql.execute(
            "UPDATE group_buy SET leader_id = $2 WHERE leader_id = $1", source, target
        )
        counts = await sql.fetch(
            "DELETE FROM group_buy_member WHERE member_id = $1 RETURNING campaign_id, seats", source
        )
        for row in counts:  # one person, one limit: the source's seats count for the target
            await sql.fetch(
                "INSERT INTO group_buy_member (id, campaign_id, member_id, seats) "
                "VALUES ($1, $2, $3, 0) ON CONFLICT (campaign_id, member_id) DO NOTHING "
                "RETURNING id",
                new_id(),
                row["campaign_id"],
                target,
            )
            await sql.execute(
                "UPDATE group_buy_member SET seats = seats + $3 "
                "WHERE campaign_id = $1 AND member_id = $2",
                row["campaign_id"],
                target,
                row["seats"],
            )

    async def forget_members(self, member_ids: Sequence[UUID]) -> None:
        keys = list(dict.fromkeys(member_ids))
        await sql.execute(
            f"UPDATE group_buy_seat SET label = '**' WHERE member_id IN "
            f"({sql.placeholders(len(keys))})",
            *keys,
        )

    async def seat_page(self, member_ids: Sequence[UUID], page: PageRequest) -> Page[Seat]:
        return await id_page(SELECT_SEATS, page, _seat, [("member_id", list(member_ids))])

    async def groups_of(self, group_ids: Sequence[UUID]) -> list[Group]:
        keys = list(dict.fromkeys(group_ids))
        if not keys:
            return []
        rows = await sql.fetch(
            f"{SELECT_GROUPS} WHERE id IN ({sql.placeholders(len(keys))})", *keys
        )
        return [_group(r) for r in rows]

    async def campaigns_of(self, campaign_ids: Sequence[UUID]) -> list[GroupBuyCampaign]:
        keys = list(dict.fromkeys(campaign_ids))
        if not keys:
            return []
        rows = await sql.fetch(
            f"{SELECT_CAMPAIGNS} WHERE id IN ({sql.placeholders(len(keys))})", *keys
        )
        return [_campaign(r) for r in rows]

    async def seats_to_cancel(self, limit: int) -> list[UUID]:
        rows = await sql.fetch(
            "SELECT s.order_id FROM group_buy_seat s JOIN group_buy g ON g.id = s.group_id "
            "WHERE g.status = 'FAILED' AND s.status IN ('HELD', 'PAID') "
            "ORDER BY s.joined_at, s.id LIMIT $1",
            limit,
        )
        return [sql.as_uuid(row["order_id"]) for row in rows]
