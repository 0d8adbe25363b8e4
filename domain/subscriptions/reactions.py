"""Subscriptions follow merges, end with an erased account, and appear in the data export."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.clock import Clock
from domain.events import EventHandlers, ExportScope, MemberErased, MembersMerged
from domain.ids import new_id
from domain.pagination import MAX_PAGE_SIZE, PageRequest
from domain.subscriptions.model import Subscription, SubscriptionChange, SubscriptionStatus
from domain.subscriptions.services import upcoming
from domain.uow import UnitOfWork


async def _subscriptions_of(uow: UnitOfWork, member_id: UUID) -> list[Subscription]:
    found: list[Subscription] = []
    after = None
    while True:
        page = await uow.subscriptions.for_member(member_id, PageRequest(first=100, after=after))
        found.extend(page.items)
        if not page.has_next:
            return found
        after = page.keys[-1]


def register_handlers(events: EventHandlers, clock: Clock) -> None:
    async def on_merged(uow: UnitOfWork, event: MembersMerged) -> None:
        if event.reseal is not None:
            # Delivery addresses are encrypted under the member's key, which the merge destroys.
            for s in await _subscriptions_of(uow, event.source_member_id):
                if s.delivery_address is not None:
                    s.delivery_address = event.reseal(s.delivery_address)
                    await uow.subscriptions.save(s)
        await uow.subscriptions.move_member(event.source_member_id, event.target_member_id)

    async def on_erased(uow: UnitOfWork, event: MemberErased) -> None:
        """Nothing more is ordered or charged for a member who deleted their account."""
        now = clock.now()
        for s in await _subscriptions_of(uow, event.member_id):
            if s.status is not SubscriptionStatus.CANCELLED:
                s.status, s.cancel_reason, s.updated_at = (
                    SubscriptionStatus.CANCELLED,
                    "account deleted",
                    now,
                )
                await uow.subscriptions.save(s)
                await uow.subscriptions.add_change(
                    SubscriptionChange(
                        new_id(), s.id, "CANCELLED", "account deleted", "SYSTEM", now
                    )
                )

    events.register(MembersMerged, on_merged)
    events.register(MemberErased, on_erased)


async def export_subscriptions(
    uow: UnitOfWork, scope: ExportScope, after: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the member's subscriptions."""
    page = await uow.subscriptions.for_member(scope.member_id, PageRequest(MAX_PAGE_SIZE, after))
    items = [
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
    return items, page.keys[-1] if page.has_next else None
