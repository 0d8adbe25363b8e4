"""Refunds that end by hand: the till paid one back (store staff confirm it), or the provider
failed one (CS records it again). Both go through domain/ordering/refunds.py."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.context import Context
from api.errors import OrderUserError
from api.mutations import actor, mutate
from api.permissions import CanConfirmTillRefunds, CanRetryRefunds
from api.relay import decode_id
from api.types.orders import OrderPayment
from domain.ordering import model as m
from domain.ordering.refunds import confirm_till_refund, retry_refund


@strawberry.input
class RefundInput:
    payment_id: strawberry.ID = strawberry.field(description="The refund (`Payment:<uuid>`).")


@strawberry.type
class RefundPayload:
    refund: OrderPayment | None = None
    errors: list[OrderUserError] = strawberry.field(default_factory=list)


def _present(refund: m.Payment) -> RefundPayload:
    return RefundPayload(refund=OrderPayment.from_domain(refund))


@strawberry.type
class RefundMutations:
    @strawberry.mutation(
        permission_classes=[CanConfirmTillRefunds],
        description="The till gave a REFUND_AT_TILL refund back (staff or POS of the order's "
        "store): REFUNDED, and an after-sale waiting for it is REFUNDED too.",
    )
    async def confirm_till_refund(
        self, info: Info[Context, object], input: RefundInput
    ) -> RefundPayload:
        deps, caller = info.context.runtime.ordering, actor(info)
        return await mutate(
            RefundPayload,
            OrderUserError,
            lambda: confirm_till_refund(
                deps, caller, decode_id(input.payment_id, "Payment", "paymentId")
            ),
            _present,
        )

    @strawberry.mutation(
        permission_classes=[CanRetryRefunds],
        description="CS records a REFUND_FAILED refund again: a new refund of its amount from "
        "the same payment (once per failed refund); an after-sale waits for the new one.",
    )
    async def retry_refund(self, info: Info[Context, object], input: RefundInput) -> RefundPayload:
        deps, caller = info.context.runtime.ordering, actor(info)
        return await mutate(
            RefundPayload,
            OrderUserError,
            lambda: retry_refund(deps, caller, decode_id(input.payment_id, "Payment", "paymentId")),
            _present,
        )
