"""Growth's list sections of a member's data export (PIPL): their friend-assist tasks, the
assists they gave and their group-buy seats. Each is read page by page like the others
(`DataExporters.register_list`), each page in a constant number of statements whatever its
size. Helpers appear as the task's share page shows them (masked, 王**): the member's export
holds what they can see, not other people's names."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.events import ExportScope, PagedExporter
from domain.members.merge import absorbed_into_in_uow
from domain.ordering.services import orders_in_uow
from domain.pagination import MAX_PAGE_SIZE, PageRequest
from domain.uow import UnitOfWork

EXPORT_PAGE = MAX_PAGE_SIZE
ItemsPage = tuple[list[dict[str, Any]], str | None]


async def export_assist_tasks(uow: UnitOfWork, scope: ExportScope, after: str | None) -> ItemsPage:
    """The member's tasks, newest first: campaign, status, the thresholds reached, helpers
    (masked) and the rewards the task paid them. Four statements a page."""
    page = await uow.assists.task_page(scope.member_id, PageRequest(EXPORT_PAGE, after))
    ids = [t.id for t in page.items]
    campaigns = {
        c.id: c for c in await uow.assists.campaigns_of([t.campaign_id for t in page.items])
    }
    helpers: dict[UUID, list[dict[str, str]]] = {i: [] for i in ids}
    for made in await uow.assists.assists_of(ids):
        helpers[made.task_id].append({"name": made.helper_name, "at": made.created_at.isoformat()})
    rewards: dict[UUID, list[dict[str, Any]]] = {i: [] for i in ids}
    for paid in await uow.assists.payouts_of_tasks(ids):
        if paid.threshold > 0:  # 0: a helper's own reward, theirs
            rewards[paid.task_id].append(
                {
                    "threshold": paid.threshold,
                    "points": paid.points,
                    "couponId": str(paid.coupon_id) if paid.coupon_id else None,
                    "unpaid": paid.unpaid,
                    "paidAt": paid.paid_at.isoformat(),
                }
            )
    items = []
    for task in page.items:
        campaign = campaigns[task.campaign_id]
        items.append(
            {
                "campaign": campaign.name,
                "status": task.status.value,
                "helpers": task.helpers,
                "thresholdsReached": [
                    t.helpers for t in campaign.thresholds if t.helpers <= task.helpers
                ],
                "helpersShown": helpers[task.id],
                "rewards": rewards[task.id],
                "startedAt": task.started_at.isoformat(),
                "expiresAt": task.expires_at.isoformat(),
                "closedAt": task.closed_at.isoformat() if task.closed_at else None,
            }
        )
    return items, page.keys[-1] if page.has_next else None


async def export_assists_given(uow: UnitOfWork, scope: ExportScope, after: str | None) -> ItemsPage:
    """The assists the member gave, newest first: the task's campaign, when, and the reward
    assisting paid them. Four statements a page."""
    # Assists stay where they are on a merge: those of accounts merged into this one are theirs.
    person = [scope.member_id, *await absorbed_into_in_uow(uow, scope.member_id)]
    page = await uow.assists.assists_by(person, PageRequest(EXPORT_PAGE, after))
    task_ids = [a.task_id for a in page.items]
    tasks = {t.id: t for t in await uow.assists.tasks_of(task_ids)}
    campaigns = {
        c.id: c for c in await uow.assists.campaigns_of([t.campaign_id for t in tasks.values()])
    }
    rewards = {
        p.task_id: p
        for p in await uow.assists.payouts_of_tasks(task_ids)
        if p.threshold == 0 and p.member_id in person
    }
    items = []
    for made in page.items:
        reward = rewards.get(made.task_id)
        items.append(
            {
                "campaign": campaigns[tasks[made.task_id].campaign_id].name,
                "at": made.created_at.isoformat(),
                "taskStatus": tasks[made.task_id].status.value,
                "reward": (
                    {
                        "points": reward.points,
                        "couponId": str(reward.coupon_id) if reward.coupon_id else None,
                    }
                    if reward
                    else None
                ),
            }
        )
    return items, page.keys[-1] if page.has_next else None


async def export_group_buy_seats(
    uow: UnitOfWork, scope: ExportScope, after: str | None
) -> ItemsPage:
    """The member's group-buy seats, newest first: campaign, group, seat status, the order's
    number and when it was paid. Five statements a page (seats, groups, campaigns, orders and
    their lines)."""
    person = [scope.member_id, *await absorbed_into_in_uow(uow, scope.member_id)]
    page = await uow.group_buys.seat_page(person, PageRequest(EXPORT_PAGE, after))
    seats = page.items
    groups = {g.id: g for g in await uow.group_buys.groups_of([s.group_id for s in seats])}
    campaigns = {c.id: c for c in await uow.group_buys.campaigns_of([s.campaign_id for s in seats])}
    orders = await orders_in_uow(uow, [s.order_id for s in seats])
    items = []
    for seat in seats:
        campaign, order = campaigns[seat.campaign_id], orders.get(seat.order_id)
        items.append(
            {
                "campaign": {
                    "id": str(campaign.id),
                    "variantId": str(campaign.variant_id),
                    "price": campaign.price,
                    "currency": campaign.currency,
                    "groupSize": campaign.group_size,
                },
                "group": {
                    "id": str(seat.group_id),
                    "status": groups[seat.group_id].status.value,
                    "leader": seat.leader,
                },
                "status": seat.status.value,
                "orderNumber": order.number if order else None,
                "joinedAt": seat.joined_at.isoformat(),
                "paidAt": order.paid_at.isoformat() if order and order.paid_at else None,
            }
        )
    return items, page.keys[-1] if page.has_next else None


GROWTH_LISTS: dict[str, PagedExporter] = {
    "assistTasks": export_assist_tasks,
    "assistsGiven": export_assists_given,
    "groupBuySeats": export_group_buy_seats,
}
"""The sections `register_list` adds, by name."""
