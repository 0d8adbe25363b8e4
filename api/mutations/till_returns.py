"""`recordPosReturn`: units of a till sale brought back at the till."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.context import Context
from api.errors import InventoryUserError
from api.mutations import actor, mutate
from api.permissions import CanRecordSales
from api.relay import decode_id
from api.types.till_returns import PosReturn
from domain.aftersales.model import Condition
from domain.inventory import till_returns
from domain.inventory.model import check_line_count
from domain.inventory.till_model import PosReturn as DomainReturn
from domain.inventory.till_model import RefundMethod, ReturnedLine


@strawberry.input
class PosReturnLineInput:
    variant_id: strawberry.ID
    quantity: int = strawberry.field(description="1 to 9,999.")
    condition: Condition = strawberry.field(
        description="RESALEABLE: back on the shelf; DAMAGED: received and written off."
    )


@strawberry.input
class RecordPosReturnInput:
    location_id: strawberry.ID
    pos_transaction_id: str = strawberry.field(description="The till sale's own id.")
    lines: list[PosReturnLineInput]
    refund_method: RefundMethod
    reason: str
    idempotency_key: str | None = None


@strawberry.type
class RecordPosReturnPayload:
    pos_return: PosReturn | None = None
    errors: list[InventoryUserError] = strawberry.field(default_factory=list)


def _request(input: RecordPosReturnInput) -> till_returns.PosReturnRequest:
    check_line_count(len(input.lines))  # before decoding thousands of ids
    return till_returns.PosReturnRequest(
        location_id=decode_id(input.location_id, "Location", "locationId"),
        transaction_id=input.pos_transaction_id,
        lines=[
            ReturnedLine(
                decode_id(x.variant_id, "Variant", ["lines", str(n), "variantId"]),
                x.quantity,
                x.condition,
            )
            for n, x in enumerate(input.lines)
        ],
        refund_method=input.refund_method,
        reason=input.reason,
    )


def _payload(pos_return: DomainReturn) -> RecordPosReturnPayload:
    return RecordPosReturnPayload(pos_return=PosReturn.from_domain(pos_return))


@strawberry.type
class TillReturnMutations:
    @strawberry.mutation(
        permission_classes=[CanRecordSales],
        description="Units of a till sale of this store brought back: resaleable ones on the "
        "shelf, damaged ones written off; the till pays back their share of what was paid in "
        "money, and a member gets back the points redeemed on them and loses those earned. "
        "Never more units than sold less those returned; idempotent by key.",
    )
    async def record_pos_return(
        self, info: Info[Context, object], input: RecordPosReturnInput
    ) -> RecordPosReturnPayload:
        deps, caller = info.context.runtime.inventory, actor(info)
        return await mutate(
            RecordPosReturnPayload,
            InventoryUserError,
            lambda: till_returns.record_pos_return(
                deps, caller, _request(input), input.idempotency_key
            ),
            _payload,
        )
