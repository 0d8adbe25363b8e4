"""Subscriptions follow merges, and appear in the member's data export."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.events import EventHandlers, MembersMerged
from domain.pagination import PageRequest
from domain.subscriptions.services import upcoming
from domain.uow import UnitOfWork


def register_handlers(events: EventHandlers) -> None:
    async def on_merged(uow: UnitOfWork, event: MembersMerged) -> None:
        await uow.subscriptions.move_member(event.source_member_id, event.target_member_id)

    events.register(MembersMerged, on_merged)


async def export_subscriptions(uow: UnitOfWork, member_id: UUID) -> list[dict[str, Any]]:
    page = await uow.subscriptions.for_member(member_id, PageRequest(first=100))
    return [
        {
            "status": s.status.value,
            "every": f"{s.interval.count} {s.interval.unit.value}",
            "nextDeliveries": [d.isoformat() for d in upcoming(s)],
            "lines": [
                {"variantId": str(x.variant_id), "quantity": x.quantity, "unitPrice": x.unit_price}
                for x in s.lines
            ],
            "createdAt": s.created_at.isoformat(),
        }
        for s in page.items
    ]
