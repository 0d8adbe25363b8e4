"""Friend-assist in prebuilt SQL: counting a helper and taking a daily slot are conditional
writes the ORM cannot say."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

from domain.growth.assists_model import (
    Assist,
    AssistCampaign,
    AssistPayout,
    AssistTask,
    CampaignStatus,
    Reward,
    TaskStatus,
    Threshold,
)
from domain.growth.assists_ports import AssistRepository
from domain.pagination import Page, PageRequest
from infra.db import sql
from infra.repositories.paging import id_page

CAMPAIGN_COLUMNS = (
    "id",
    "name",
    "thresholds",
    "task_hours",
    "new_helpers_only",
    "helper_coupon_template_id",
    "helper_points",
    "status",
    "created_at",
    "updated_at",
)
TASK_COLUMNS = (
    "id",
    "campaign_id",
    "member_id",
    "open_member_id",
    "status",
    "helpers",
    "started_at",
    "expires_at",
    "closed_at",
)
ASSIST_COLUMNS = ("id", "task_id", "helper_id", "helper_name", "day", "slot", "created_at")
REWARD_COLUMNS = (
    "id",
    "task_id",
    "member_id",
    "threshold",
    "coupon_id",
    "points",
    "unpaid",
    "paid_at",
)
SELECT_CAMPAIGNS = f"SELECT {', '.join(CAMPAIGN_COLUMNS)} FROM assist_campaign"
SELECT_TASKS = f"SELECT {', '.join(TASK_COLUMNS)} FROM assist_task"
SELECT_ASSISTS = f"SELECT {', '.join(ASSIST_COLUMNS)} FROM assist"
INSERT_TASK = (
    f"INSERT INTO assist_task ({', '.join(TASK_COLUMNS)}) "
    f"VALUES ({sql.placeholders(len(TASK_COLUMNS))}) ON CONFLICT DO NOTHING RETURNING id"
)
INSERT_ASSIST = (
    f"INSERT INTO assist ({', '.join(ASSIST_COLUMNS)}) "
    f"VALUES ({sql.placeholders(len(ASSIST_COLUMNS))}) ON CONFLICT DO NOTHING RETURNING id"
)
OPEN = TaskStatus.OPEN.value


def _thresholds_json(thresholds: Sequence[Threshold]) -> list[dict[str, Any]]:
    return [
        {
            "helpers": t.helpers,
            "couponTemplateId": str(t.reward.coupon_template_id)
            if t.reward.coupon_template_id
            else None,
            "points": t.reward.points,
        }
        for t in thresholds
    ]


def _thresholds(value: Any) -> tuple[Threshold, ...]:
    return tuple(
        Threshold(
            int(t["helpers"]),
            Reward(
                UUID(t["couponTemplateId"]) if t.get("couponTemplateId") else None,
                int(t.get("points", 0)),
            ),
        )
        for t in sql.as_json(value)
    )


def _campaign(row: Any) -> AssistCampaign:
    return AssistCampaign(
        id=sql.as_uuid(row["id"]),
        name=row["name"],
        thresholds=_thresholds(row["thresholds"]),
        task_hours=row["task_hours"],
        new_helpers_only=bool(row["new_helpers_only"]),
        helper_reward=Reward(
            sql.as_optional_uuid(row["helper_coupon_template_id"]), int(row["helper_points"])
        ),
        status=CampaignStatus(row["status"]),
        created_at=sql.as_datetime(row["created_at"]),
        updated_at=sql.as_datetime(row["updated_at"]),
    )


def _editable(campaign: AssistCampaign) -> dict[str, Any]:
    return {
        "name": campaign.name,
        "thresholds": _thresholds_json(campaign.thresholds),
        "task_hours": campaign.task_hours,
        "new_helpers_only": campaign.new_helpers_only,
        "helper_coupon_template_id": campaign.helper_reward.coupon_template_id,
        "helper_points": campaign.helper_reward.points,
        "status": campaign.status,
        "updated_at": campaign.updated_at,
    }


def _task(row: Any) -> AssistTask:
    return AssistTask(
        id=sql.as_uuid(row["id"]),
        campaign_id=sql.as_uuid(row["campaign_id"]),
        member_id=sql.as_uuid(row["member_id"]),
        status=TaskStatus(row["status"]),
        helpers=row["helpers"],
        started_at=sql.as_datetime(row["started_at"]),
        expires_at=sql.as_datetime(row["expires_at"]),
        closed_at=sql.as_optional_datetime(row["closed_at"]),
    )


def _assist(row: Any) -> Assist:
    day = sql.as_optional_date(row["day"])
    assert day is not None
    return Assist(
        id=sql.as_uuid(row["id"]),
        task_id=sql.as_uuid(row["task_id"]),
        helper_id=sql.as_uuid(row["helper_id"]),
        helper_name=row["helper_name"],
        day=day,
        slot=row["slot"],
        created_at=sql.as_datetime(row["created_at"]),
    )


def _payout(row: Any) -> AssistPayout:
    return AssistPayout(
        id=sql.as_uuid(row["id"]),
        task_id=sql.as_uuid(row["task_id"]),
        member_id=sql.as_uuid(row["member_id"]),
        threshold=row["threshold"],
        coupon_id=sql.as_optional_uuid(row["coupon_id"]),
        points=int(row["points"]),
        unpaid=row["unpaid"],
        paid_at=sql.as_datetime(row["paid_at"]),
    )


class TortoiseAssistRepository(AssistRepository):
    async def add_campaign(self, campaign: AssistCampaign) -> None:
        await sql.insert_row(
            "assist_campaign",
            {"id": campaign.id, **_editable(campaign), "created_at": campaign.created_at},
        )

    async def get_campaign(self, campaign_id: UUID, *, lock: bool = False) -> AssistCampaign | None:
        lock_clause = " FOR UPDATE" if lock and not sql.is_sqlite() else ""
        rows = await sql.fetch(f"{SELECT_CAMPAIGNS} WHERE id = $1{lock_clause}", campaign_id)
        return _campaign(rows[0]) if rows else None

    async def campaigns_of(self, campaign_ids: Sequence[UUID]) -> list[AssistCampaign]:
        keys = list(dict.fromkeys(campaign_ids))
        if not keys:
            return []
        rows = await sql.fetch(
            f"{SELECT_CAMPAIGNS} WHERE id IN ({sql.placeholders(len(keys))})", *keys
        )
        return [_campaign(r) for r in rows]

    async def save_campaign(self, campaign: AssistCampaign) -> None:
        await sql.update("assist_campaign", _editable(campaign), "id = $1", campaign.id)

    async def campaigns(
        self, status: CampaignStatus | None, page: PageRequest
    ) -> Page[AssistCampaign]:
        return await id_page(
            SELECT_CAMPAIGNS, page, _campaign, [("status", status and status.value)]
        )

    async def add_task(self, task: AssistTask) -> bool:
        values = (
            task.id,
            task.campaign_id,
            task.member_id,
            task.member_id if task.status is TaskStatus.OPEN else None,
            task.status.value,
            task.helpers,
            task.started_at,
            task.expires_at,
            task.closed_at,
        )
        return bool(await sql.fetch(INSERT_TASK, *values))

    async def get_task(self, task_id: UUID) -> AssistTask | None:
        rows = await sql.fetch(f"{SELECT_TASKS} WHERE id = $1", task_id)
        return _task(rows[0]) if rows else None

    async def open_task(self, campaign_id: UUID, member_id: UUID) -> AssistTask | None:
        rows = await sql.fetch(
            f"{SELECT_TASKS} WHERE campaign_id = $1 AND open_member_id = $2",
            campaign_id,
            member_id,
        )
        return _task(rows[0]) if rows else None

    async def tasks_of_member(self, member_id: UUID, limit: int) -> list[AssistTask]:
        rows = await sql.fetch(
            f"{SELECT_TASKS} WHERE member_id = $1 ORDER BY id DESC LIMIT {int(limit)}", member_id
        )
        return [_task(r) for r in rows]

    async def count_helper(self, task_id: UUID, now: datetime) -> int | None:
        rows = await sql.fetch(
            "UPDATE assist_task SET helpers = helpers + 1 WHERE id = $1 AND status = $2 "
            "AND expires_at > $3 RETURNING helpers",
            task_id,
            OPEN,
            now,
        )
        return int(rows[0]["helpers"]) if rows else None

    async def close_task(self, task_id: UUID, status: str, now: datetime) -> None:
        await sql.execute(
            "UPDATE assist_task SET status = $1, open_member_id = NULL, closed_at = $2 "
            "WHERE id = $3 AND status = $4",
            str(status),
            now,
            task_id,
            OPEN,
        )

    async def expire_tasks(self, now: datetime, limit: int) -> int:
        skip = "" if sql.is_sqlite() else " FOR UPDATE SKIP LOCKED"
        return await sql.execute(
            "UPDATE assist_task SET status = $1, open_member_id = NULL, closed_at = $2 "
            "WHERE id IN (SELECT id FROM assist_task WHERE status = $3 AND expires_at <= $2 "
            f"ORDER BY expires_at LIMIT {int(limit)}{skip}) AND status = $3",
            TaskStatus.EXPIRED.value,
            now,
            OPEN,
        )

    async def has_assisted(self, task_id: UUID, helper_ids: Sequence[UUID]) -> bool:
        rows = await sql.fetch(
            "SELECT 1 FROM assist WHERE task_id = $1 "
            f"AND helper_id IN ({sql.placeholders(len(helper_ids), 2)})",
            task_id,
            *helper_ids,
        )
        return bool(rows)

    async def assists_on(self, helper_ids: Sequence[UUID], day: date) -> int:
        rows = await sql.fetch(
            "SELECT COUNT(*) AS n FROM assist WHERE day = $1 "
            f"AND helper_id IN ({sql.placeholders(len(helper_ids), 2)})",
            day,
            *helper_ids,
        )
        return int(rows[0]["n"])

    async def open_tasks_of(self, member_ids: Sequence[UUID]) -> list[AssistTask]:
        keys = list(dict.fromkeys(member_ids))
        if not keys:
            return []
        lock = "" if sql.is_sqlite() else " FOR UPDATE"
        rows = await sql.fetch(
            f"{SELECT_TASKS} WHERE open_member_id IN ({sql.placeholders(len(keys))}) "
            f"ORDER BY id{lock}",
            *keys,
        )
        return [_task(r) for r in rows]

    async def move_member(self, source: UUID, target: UUID) -> int:
        await sql.execute(
            "UPDATE assist_task SET open_member_id = $1 WHERE open_member_id = $2", target, source
        )
        return await sql.execute(
            "UPDATE assist_task SET member_id = $1 WHERE member_id = $2", target, source
        )

    async def forget_helpers(self, helper_ids: Sequence[UUID]) -> None:
        keys = list(dict.fromkeys(helper_ids))
        await sql.execute(
            f"UPDATE assist SET helper_name = '**' WHERE helper_id IN "
            f"({sql.placeholders(len(keys))})",
            *keys,
        )

    async def task_page(self, member_id: UUID, page: PageRequest) -> Page[AssistTask]:
        return await id_page(SELECT_TASKS, page, _task, [("member_id", member_id)])

    async def assists_by(self, helper_ids: Sequence[UUID], page: PageRequest) -> Page[Assist]:
        return await id_page(SELECT_ASSISTS, page, _assist, [("helper_id", list(helper_ids))])

    async def tasks_of(self, task_ids: Sequence[UUID]) -> list[AssistTask]:
        keys = list(dict.fromkeys(task_ids))
        if not keys:
            return []
        rows = await sql.fetch(f"{SELECT_TASKS} WHERE id IN ({sql.placeholders(len(keys))})", *keys)
        return [_task(r) for r in rows]

    async def slots_taken(self, helper_id: UUID, day: date) -> set[int]:
        rows = await sql.fetch(
            "SELECT slot FROM assist WHERE helper_id = $1 AND day = $2", helper_id, day
        )
        return {int(r["slot"]) for r in rows}

    async def add_assist(self, assist: Assist) -> bool:
        values = (
            assist.id,
            assist.task_id,
            assist.helper_id,
            assist.helper_name,
            assist.day,
            assist.slot,
            assist.created_at,
        )
        return bool(await sql.fetch(INSERT_ASSIST, *values))

    async def assists_of(self, task_ids: Sequence[UUID]) -> list[Assist]:
        keys = list(dict.fromkeys(task_ids))
        if not keys:
            return []
        rows = await sql.fetch(
            f"{SELECT_ASSISTS} WHERE task_id IN ({sql.placeholders(len(keys))}) "
            "ORDER BY created_at, id",
            *keys,
        )
        return [_assist(r) for r in rows]

    async def add_payout(self, payout: AssistPayout) -> None:
        p = payout
        await sql.insert(
            "assist_reward",
            REWARD_COLUMNS,
            [
                (
                    p.id,
                    p.task_id,
                    p.member_id,
                    p.threshold,
                    p.coupon_id,
                    p.points,
                    p.unpaid,
                    p.paid_at,
                )
            ],
        )

    async def payouts_of(self, task_id: UUID) -> list[AssistPayout]:
        rows = await sql.fetch(
            f"SELECT {', '.join(REWARD_COLUMNS)} FROM assist_reward WHERE task_id = $1 "
            "ORDER BY threshold, member_id",
            task_id,
        )
        return [_payout(r) for r in rows]

    async def payouts_of_tasks(self, task_ids: Sequence[UUID]) -> list[AssistPayout]:
        keys = list(dict.fromkeys(task_ids))
        if not keys:
            return []
        rows = await sql.fetch(
            f"SELECT {', '.join(REWARD_COLUMNS)} FROM assist_reward "
            f"WHERE task_id IN ({sql.placeholders(len(keys))}) ORDER BY threshold, member_id",
            *keys,
        )
        return [_payout(r) for r in rows]
