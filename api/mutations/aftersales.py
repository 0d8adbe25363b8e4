"""After-sales: request (a member, or staff for one), withdraw, decide, receive the goods back."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.context import Context
from api.errors import AfterSaleUserError
from api.mutations import actor, mutate
from api.permissions import (
    CanDecideAfterSales,
    CanReceiveReturns,
    CanRequestAfterSales,
    CanWithdrawAfterSales,
)
from api.relay import decode_id
from api.types.aftersales import AfterSale
from domain.aftersales import model as m
from domain.aftersales.model import AfterSaleKind, Condition
from domain.aftersales.services import (
    AfterSaleRequest,
    decide_after_sale,
    receive_return,
    request_after_sale,
    withdraw_after_sale,
)


@strawberry.input
class AfterSaleLineInput:
    order_line_id: strawberry.ID
    quantity: int


@strawberry.input
class RequestAfterSaleInput:
    order_id: strawberry.ID
    kind: AfterSaleKind
    lines: list[AfterSaleLineInput]
    reason: str
    photo_urls: list[str] = strawberry.field(default_factory=list)
    idempotency_key: str | None = None


@strawberry.input
class ApproveAfterSaleInput:
    after_sale_id: strawberry.ID


@strawberry.input
class RejectAfterSaleInput:
    after_sale_id: strawberry.ID
    reason: str


@strawberry.input
class WithdrawAfterSaleInput:
    after_sale_id: strawberry.ID
    reason: str | None = None


@strawberry.input
class ReceivedLineInput:
    order_line_id: strawberry.ID
    quantity: int
    condition: Condition


@strawberry.input
class ReceiveReturnInput:
    after_sale_id: strawberry.ID
    location_id: strawberry.ID
    lines: list[ReceivedLineInput]


@strawberry.type
class AfterSalePayload:
    after_sale: AfterSale | None = None
    errors: list[AfterSaleUserError] = strawberry.field(default_factory=list)


def _present(after_sale: m.AfterSale) -> AfterSalePayload:
    return AfterSalePayload(after_sale=AfterSale.from_domain(after_sale))


def _request(data: RequestAfterSaleInput) -> AfterSaleRequest:
    return AfterSaleRequest(
        order_id=decode_id(data.order_id, "Order", "orderId"),
        kind=data.kind,
        lines=[
            m.RequestedLine(
                decode_id(line.order_line_id, "OrderLine", ["lines", str(i), "orderLineId"]),
                line.quantity,
            )
            for i, line in enumerate(data.lines)
        ],
        reason=data.reason,
        photo_urls=data.photo_urls,
    )


def _received(data: ReceiveReturnInput) -> list[m.ReceivedLine]:
    return [
        m.ReceivedLine(
            decode_id(line.order_line_id, "OrderLine", ["lines", str(i), "orderLineId"]),
            line.quantity,
            line.condition,
        )
        for i, line in enumerate(data.lines)
    ]


@strawberry.type
class AfterSaleMutations:
    @strawberry.mutation(
        permission_classes=[CanRequestAfterSales],
        description="Ask to return goods (or for a refund only) within the return window after "
        "hand-over: the member, or CS and the order's store staff for them (recorded as the "
        "requester). Idempotent with `idempotencyKey`.",
    )
    async def request_after_sale(
        self, info: Info[Context, object], input: RequestAfterSaleInput
    ) -> AfterSalePayload:
        deps, caller = info.context.runtime.aftersales, actor(info)
        return await mutate(
            AfterSalePayload,
            AfterSaleUserError,
            lambda: request_after_sale(deps, caller, _request(input), input.idempotency_key),
            _present,
        )

    @strawberry.mutation(
        permission_classes=[CanWithdrawAfterSales],
        description="Withdraw a request (the member, or CS for them) while it is REQUESTED, or "
        "APPROVED as a return whose goods were not received: CLOSED, and its units may be "
        "asked for again. Of a withdrawal and a decision at once, one wins.",
    )
    async def withdraw_after_sale(
        self, info: Info[Context, object], input: WithdrawAfterSaleInput
    ) -> AfterSalePayload:
        deps, caller = info.context.runtime.aftersales, actor(info)
        return await mutate(
            AfterSalePayload,
            AfterSaleUserError,
            lambda: withdraw_after_sale(
                deps,
                caller,
                decode_id(input.after_sale_id, "AfterSale", "afterSaleId"),
                input.reason or "",
            ),
            _present,
        )

    @strawberry.mutation(
        permission_classes=[CanDecideAfterSales],
        description="Approve a request (CS, or a STORE_MANAGER of the order's store); a "
        "refund-only request is refunded at once. Of two decisions at once, one wins.",
    )
    async def approve_after_sale(
        self, info: Info[Context, object], input: ApproveAfterSaleInput
    ) -> AfterSalePayload:
        deps, caller = info.context.runtime.aftersales, actor(info)
        return await mutate(
            AfterSalePayload,
            AfterSaleUserError,
            lambda: decide_after_sale(
                deps, caller, decode_id(input.after_sale_id, "AfterSale", "afterSaleId"), True
            ),
            _present,
        )

    @strawberry.mutation(
        permission_classes=[CanDecideAfterSales],
        description="Reject a request with a reason (told to the member).",
    )
    async def reject_after_sale(
        self, info: Info[Context, object], input: RejectAfterSaleInput
    ) -> AfterSalePayload:
        deps, caller = info.context.runtime.aftersales, actor(info)
        return await mutate(
            AfterSalePayload,
            AfterSaleUserError,
            lambda: decide_after_sale(
                deps,
                caller,
                decode_id(input.after_sale_id, "AfterSale", "afterSaleId"),
                False,
                input.reason,
            ),
            _present,
        )

    @strawberry.mutation(
        permission_classes=[CanReceiveReturns],
        description="The goods of an approved return arrived at a store or warehouse: "
        "RESALEABLE units back on the shelf, DAMAGED ones written off; then the refund.",
    )
    async def receive_return(
        self, info: Info[Context, object], input: ReceiveReturnInput
    ) -> AfterSalePayload:
        deps, caller = info.context.runtime.aftersales, actor(info)
        return await mutate(
            AfterSalePayload,
            AfterSaleUserError,
            lambda: receive_return(
                deps,
                caller,
                decode_id(input.after_sale_id, "AfterSale", "afterSaleId"),
                decode_id(input.location_id, "Location", "locationId"),
                _received(input),
            ),
            _present,
        )
