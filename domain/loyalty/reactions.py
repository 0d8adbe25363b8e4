"""How loyalty reacts to the other contexts (registered by the runtime): merges move the
account, till sales with a member earn points (or claim them, above the cap), till returns
give back the redeemed points of what came back and take back those earned on it, and the
export gets a points section."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from domain.events import ExportScope, MembersMerged, PosReturnRecorded, PosSaleRecorded
from domain.loyalty.deps import LoyaltyDeps
from domain.loyalty.ledger import merge_accounts
from domain.loyalty.model import PointsPolicy
from domain.loyalty.services import (
    earn_for_till_sale,
    redeem_for_till_sale,
    return_redeemed_in_uow,
    reverse_for_refund,
)
from domain.members.merge import absorbed_into_in_uow
from domain.members.services import surviving_member_in_uow
from domain.pagination import MAX_PAGE_SIZE as EXPORT_PAGE
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
        reference = f"pos:{event.location_id}:{event.transaction_id}"
        paid_in_points = await redeem_for_till_sale(
            deps, uow, event.member_id, event.paid, event.points_to_redeem, reference
        )
        # Points are earned on what was paid in money.
        outcome = await earn_for_till_sale(
            deps, uow, event.member_id, event.location_id, event.paid - paid_in_points, reference
        )
        event.points.update(
            earned=outcome.earned,
            pending=outcome.pending,
            redeemed=event.points_to_redeem,
            redeemed_value=paid_in_points,  # fen: a till return gives back its lines' share
        )
        if outcome.claim_id is not None:
            event.points["claim"] = str(outcome.claim_id)

    async def on_pos_return(uow: UnitOfWork, event: PosReturnRecorded) -> None:
        # The sale's member may have been merged since: the survivor holds the balance.
        survivor = await surviving_member_in_uow(uow, event.member_id)
        member_id = survivor.id if survivor is not None else event.member_id
        await return_redeemed_in_uow(
            deps,
            uow,
            member_id,
            event.points_returned,
            event.sale_reference,
            event.return_reference,
        )
        taken = await reverse_for_refund(
            deps,
            uow,
            member_id,
            event.sale_reference,
            event.refunded,
            event.paid,
            refund_key=event.return_reference,
            earned_by=await absorbed_into_in_uow(uow, member_id),
        )
        event.points["reversed"] = -taken.amount if taken is not None else 0  # a debit

    deps.events.register(MembersMerged, on_merged)
    deps.events.register(PosSaleRecorded, on_pos_sale)
    deps.events.register(PosReturnRecorded, on_pos_return)


def points_exporter(
    policy: PointsPolicy,
) -> Callable[[UnitOfWork, UUID], Awaitable[dict[str, Any]]]:
    """The points summary of a member's data export (the entries are a list section); the
    tier is the one `me { tier }` shows, MEMBER for a member without an account yet."""

    async def export_points(uow: UnitOfWork, member_id: UUID) -> dict[str, Any]:
        account = await uow.loyalty.get_account(member_id)
        return {
            "balance": account.balance if account else 0,
            "tier": policy.tier_of(account),
        }

    return export_points


async def export_points_entries(
    uow: UnitOfWork, scope: ExportScope, after: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the member's points ledger, newest first."""
    page = await uow.loyalty.entries(scope.member_id, (), PageRequest(EXPORT_PAGE, after))
    items = [
        {
            "kind": e.kind.value,
            "amount": e.amount,
            "balanceAfter": e.balance_after,
            "source": e.source,
            "reason": e.reason,
            "at": e.created_at.isoformat(),
        }
        for e in page.items
    ]
    return items, page.keys[-1] if page.has_next else None
