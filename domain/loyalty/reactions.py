"""How loyalty reacts to the other contexts (registered by the runtime): merges move the
account, till sales with a member earn points, and the export gets a points section."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.events import MembersMerged, PosSaleRecorded
from domain.loyalty.ledger import LoyaltyDeps, merge_accounts
from domain.loyalty.services import earn_for_purchase
from domain.pagination import PageRequest
from domain.uow import UnitOfWork


def register_handlers(deps: LoyaltyDeps) -> None:
    async def on_merged(uow: UnitOfWork, event: MembersMerged) -> None:
        await merge_accounts(
            deps, uow, event.source_member_id, event.target_member_id, event.merge_id
        )

    async def on_pos_sale(uow: UnitOfWork, event: PosSaleRecorded) -> None:
        if event.member_id is None:
            return
        variants = {v.id: v for v in await uow.catalog.get_variants([v for v, _ in event.lines])}
        paid = sum(variants[v].price.amount * q for v, q in event.lines if v in variants)
        await earn_for_purchase(
            deps, uow, event.member_id, paid, f"pos:{event.location_id}:{event.transaction_id}"
        )

    deps.events.register(MembersMerged, on_merged)
    deps.events.register(PosSaleRecorded, on_pos_sale)


async def export_points(uow: UnitOfWork, member_id: UUID) -> dict[str, Any]:
    account = await uow.loyalty.get_account(member_id)
    page = await uow.loyalty.entries(member_id, (), PageRequest(first=100))
    return {
        "balance": account.balance if account else 0,
        "tier": account.tier if account else None,
        "entries": [
            {
                "kind": e.kind.value,
                "amount": e.amount,
                "balanceAfter": e.balance_after,
                "source": e.source,
                "reason": e.reason,
                "at": e.created_at.isoformat(),
            }
            for e in page.items
        ],
    }
