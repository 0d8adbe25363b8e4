"""In-store returns of till sales as the store sees them (`recordPosReturn`, `posReturns`)."""

from __future__ import annotations

from datetime import datetime

import strawberry

import api.types.aftersales  # noqa: F401  (registers the Condition enum it shares)
from api.relay import encode_id
from domain.aftersales.model import Condition
from domain.inventory import till_model as m
from domain.inventory.till_model import RefundMethod

strawberry.enum(RefundMethod, name="PosRefundMethod")


@strawberry.type(description="Units of one variant of the sale brought back, and their share.")
class PosReturnLine:
    variant_id: strawberry.ID
    condition: Condition = strawberry.field(
        description="RESALEABLE: back on the shelf; DAMAGED: received and written off."
    )
    quantity: int
    refund_amount: int = strawberry.field(description="Fen paid back for these units.")
    points_returned: int = strawberry.field(
        description="Points the member redeemed on these units, given back."
    )

    @classmethod
    def from_domain(cls, line: m.PosReturnLine) -> PosReturnLine:
        return cls(
            variant_id=encode_id("Variant", line.variant_id),
            condition=line.condition,
            quantity=line.quantity,
            refund_amount=line.refund_amount,
            points_returned=line.points_returned,
        )


@strawberry.type(description="A return of a till sale at the till: the money goes back there.")
class PosReturn:
    id: strawberry.ID
    location_id: strawberry.ID
    pos_transaction_id: str = strawberry.field(description="The till sale returned from.")
    member_id: strawberry.ID | None = strawberry.field(
        description="The sale's member (null: a sale without one)."
    )
    refund_method: RefundMethod = strawberry.field(description="How the till pays it back.")
    refund_amount: int = strawberry.field(
        description="Fen to pay back: the returned units' share of what the sale was paid in "
        "money (not the part paid with points)."
    )
    points_returned: int = strawberry.field(description="Redeemed points given back.")
    points_reversed: int = strawberry.field(description="Earned points taken back.")
    reason: str
    created_at: datetime
    lines: list[PosReturnLine]

    @classmethod
    def from_domain(cls, item: m.PosReturn) -> PosReturn:
        return cls(
            id=encode_id("PosReturn", item.id),
            location_id=encode_id("Location", item.location_id),
            pos_transaction_id=item.transaction_id,
            member_id=encode_id("Member", item.member_id) if item.member_id else None,
            refund_method=item.refund_method,
            refund_amount=item.refund_amount,
            points_returned=item.points_returned,
            points_reversed=item.points_reversed,
            reason=item.reason,
            created_at=item.created_at,
            lines=[PosReturnLine.from_domain(line) for line in item.lines],
        )
