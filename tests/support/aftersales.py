"""After-sales over the API: the documents and steps the after-sales tests share (a request,
its approval, the refunds of an order, the refund job run to the end)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from domain.ordering.model import PaymentKind, PaymentStatus
from domain.ordering.refunds import POLL_AFTER, process_refunds
from infra.db.models.orders import OrderPaymentRow
from tests.support import MovableClock
from tests.support.api import Api
from tests.support.orders import order_key

Runtime = Any  # infra.runtime.Runtime
PRICE = 1990

AFTER_SALE = """id status kind reason requestedBy decisionReason refundAmount orderId
  lines { orderLineId quantity received damaged refunded refundAmount pointsReturned }
  timeline { fromStatus toStatus actor note }"""
ERRORS = "errors { code field message }"
REQUEST = f"""mutation($input: RequestAfterSaleInput!) {{ requestAfterSale(input: $input) {{
  afterSale {{ {AFTER_SALE} }} {ERRORS} }} }}"""
APPROVE = f"""mutation($id: ID!) {{ approveAfterSale(input: {{afterSaleId: $id}}) {{
  afterSale {{ {AFTER_SALE} }} {ERRORS} }} }}"""
REJECT = f"""mutation($id: ID!, $r: String!) {{
  rejectAfterSale(input: {{afterSaleId: $id, reason: $r}}) {{
  afterSale {{ {AFTER_SALE} }} {ERRORS} }} }}"""
RECEIVE = f"""mutation($input: ReceiveReturnInput!) {{ receiveReturn(input: $input) {{
  afterSale {{ {AFTER_SALE} }} {ERRORS} }} }}"""
LINES = "query($id: ID!) { order(id: $id) { lines { id sku quantity } } }"
NODE = f"query($id: ID!) {{ node(id: $id) {{ ... on AfterSale {{ {AFTER_SALE} }} }} }}"
MINE = "{ me { afterSales(first: 10) { nodes { id status } } } }"


async def line_ids(caller: Api, order: dict[str, Any]) -> list[str]:
    found = (await caller.data(LINES, {"id": order["id"]}))["order"]["lines"]
    return [line["id"] for line in found]


def request_input(
    order: dict[str, Any],
    lines: list[tuple[str, int]],
    kind: str = "RETURN_AND_REFUND",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "orderId": order["id"],
        "kind": kind,
        "lines": [{"orderLineId": line, "quantity": q} for line, q in lines],
        "reason": "not as described",
        **extra,
    }


async def ask(caller: Api, input_: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = (await caller.data(REQUEST, {"input": input_}))["requestAfterSale"]
    return payload


async def asked(caller: Api, input_: dict[str, Any]) -> dict[str, Any]:
    payload = await ask(caller, input_)
    assert payload["errors"] == [], payload
    after_sale: dict[str, Any] = payload["afterSale"]
    return after_sale


async def approve(caller: Api, after_sale: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = (await caller.data(APPROVE, {"id": after_sale["id"]}))[
        "approveAfterSale"
    ]
    return payload


async def refunds_of(order: dict[str, Any]) -> list[tuple[int, PaymentStatus]]:
    rows = await OrderPaymentRow.filter(order_id=order_key(order), kind=PaymentKind.REFUND)
    return sorted((r.amount, r.status) for r in rows)


async def settle_refunds(runtime: Runtime, clock: MovableClock) -> None:
    """The refund job submits, then (a poll later) devpay says the money is back."""
    await process_refunds(runtime.ordering)
    clock.advance(POLL_AFTER + timedelta(seconds=1))
    await process_refunds(runtime.ordering)
