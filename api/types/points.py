from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from api.context import Context
from api.errors import ApiError
from api.relay import Connection, decode_cursor, encode_id
from domain.errors import DomainError
from domain.loyalty import model as m
from domain.loyalty.model import ClaimState, EntryKind
from domain.loyalty.services import PointsSummary
from domain.pagination import PageRequest

strawberry.enum(EntryKind)
strawberry.enum(ClaimState, name="PointsClaimState")


@strawberry.type
class PointsExpiry:
    amount: int
    expires_at: datetime


@strawberry.type
class TierInfo:
    name: str
    threshold: int = strawberry.field(description="Growth value (fen of spend) it needs.")
    multiplier: float


@strawberry.type
class MemberTier:
    name: str
    growth_value: int = strawberry.field(description="Qualifying spend in fen, last 12 months.")
    next_tier: TierInfo | None


@strawberry.type(description="One immutable line of the points ledger.")
class PointsEntry:
    kind: EntryKind
    amount: int = strawberry.field(description="Change of the balance (0 for holds/releases).")
    held_change: int
    balance_after: int
    held_after: int
    source: str
    actor: str
    reason: str
    created_at: datetime

    @strawberry.field(
        description="Who, readable: the staff username or device name, `member`, `system`."
    )
    async def actor_name(self, info: Info[Context, Any]) -> str:
        return await info.context.loaders.actor_name.load(self.actor)

    @classmethod
    def from_domain(cls, entry: m.Entry) -> PointsEntry:
        return cls(
            kind=entry.kind,
            amount=entry.amount,
            held_change=entry.held_change,
            balance_after=entry.balance_after,
            held_after=entry.held_after,
            source=entry.source,
            actor=entry.actor,
            reason=entry.reason,
            created_at=entry.created_at,
        )


@strawberry.type
class PointsEntryConnection(Connection[PointsEntry]):
    """Newest first."""


@strawberry.type
class Points:
    balance: int = strawberry.field(description="May be negative: a debt from a refund.")
    held: int = strawberry.field(description="Held for orders not yet paid.")
    available: int
    expiring_soon: list[PointsExpiry]
    tier: MemberTier
    member_key: strawberry.Private[Any]

    @strawberry.field(description="The ledger, newest first.")
    async def history(
        self,
        info: Info[Context, Any],
        first: int | None = None,
        after: str | None = None,
        kinds: list[EntryKind] | None = None,
    ) -> PointsEntryConnection:
        try:
            page = PageRequest.of(first, decode_cursor(after))
            result = await info.context.runtime.repos.loyalty.entries(
                self.member_key, tuple(kinds or ()), page
            )
        except DomainError as error:
            raise ApiError(error.code.value, error.message, field=error.field) from None
        return PointsEntryConnection.from_page(result, PointsEntry.from_domain)

    @classmethod
    def from_domain(cls, summary: PointsSummary, tiers: tuple[m.Tier, ...]) -> Points:
        account = summary.account
        nxt = summary.next_tier
        return cls(
            balance=account.balance,
            held=account.held,
            available=account.available,
            expiring_soon=[PointsExpiry(amount=a, expires_at=at) for at, a in summary.expiring],
            tier=MemberTier(
                name=summary.tier,
                growth_value=account.growth_value,
                next_tier=TierInfo(
                    name=nxt.name, threshold=nxt.threshold, multiplier=nxt.multiplier_bps / m.BPS
                )
                if nxt
                else None,
            ),
            member_key=account.member_id,
        )


@strawberry.type(
    description="A till sale's points above the per-sale cap, waiting for a store manager of "
    "that store or a CS agent (approvePointsClaim / rejectPointsClaim)."
)
class PointsClaim:
    id: strawberry.ID
    member_id: strawberry.ID
    location_id: strawberry.ID
    reference: str = strawberry.field(description="pos:<location>:<till transaction>.")
    paid: int = strawberry.field(description="Fen the till recorded as paid.")
    points: int = strawberry.field(description="What the sale earns at the tier it was made in.")
    state: ClaimState
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    reason: str

    @classmethod
    def from_domain(cls, claim: m.PointsClaim) -> PointsClaim:
        return cls(
            id=encode_id("PointsClaim", claim.id),
            member_id=encode_id("Member", claim.member_id),
            location_id=encode_id("Location", claim.location_id),
            reference=claim.reference,
            paid=claim.paid,
            points=claim.points,
            state=claim.state,
            created_at=claim.created_at,
            decided_by=claim.decided_by,
            decided_at=claim.decided_at,
            reason=claim.reason,
        )


@strawberry.type
class PointsClaimConnection(Connection[PointsClaim]):
    """Newest first."""
