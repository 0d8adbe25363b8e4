"""Subscriptions follow merges, and appear in the member's data export."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from domain.events import EventHandlers, MembersMerged
from domain.pagination import PageRequest
from domain.subscriptions.services import upcoming
from domain.uow import UnitOfWork


async def _reseal_addresses(uow: UnitOfWork, reseal: Callable[[str], str], source: UUID) -> None:
    """Delivery addresses are encrypted under the member's key, which the merge destroys."""
    after = None
    while True:
        page = await uow.subscriptions.for_member(source, PageRequest(first=100, after=after))
        for s in page.items:
            if s.delivery_address is not None:
                s.delivery_address = reseal(s.delivery_address)
                await uow.subscriptions.save(s)
        if not page.has_next:
            return
        after = page.keys[-1]


def register_handlers(events: EventHandlers) -> None:
    async def on_merged(uow: UnitOfWork, event: MembersMerged) -> None:
        if event.reseal is not None:
            await _reseal_addresses(uow, event.reseal, event.source_member_id)
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
