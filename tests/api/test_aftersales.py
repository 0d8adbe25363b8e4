"""After-sales over the API (issue 16): a member asks to return goods after hand-over, CS or
the store's manager decides, the store receives them (resaleable back on the shelf, damaged
written off) and the refund job gives the money back; refund-only requests are refunded when
approved. Windows, quantities, who sees what, idempotency; the races on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from api.relay import decode_id
from domain.catalog.model import Variant
from domain.identity.model import StaffRole
from domain.ordering.model import PaymentKind, PaymentStatus
from domain.ordering.ports import RefundState
from domain.ordering.refunds import POLL_AFTER, process_refunds
from infra.db.models.inventory import MovementRow
from infra.db.models.orders import OrderPaymentRow
from tests.support import MovableClock
from tests.support.api import Api, staff_api
from tests.support.orders import (
    Story,
    level,
    lid,
    make_variants,
    order_key,
    outbox,
    receive,
)
from tests.support.shoppers import Shopper, shopper

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
OF_ORDER = "query($id: ID!) { order(id: $id) { afterSales { id status } } }"
DESK = """query($f: AfterSaleFilterInput, $first: Int, $after: String) {
  afterSales(filter: $f, first: $first, after: $after) {
    nodes { id status } pageInfo { hasNextPage endCursor } } }"""


@pytest.fixture(autouse=True)
def devpay(runtime: Runtime) -> Iterator[None]:
    runtime.devpay.refund_submissions.clear()
    runtime.devpay.fail_refunds("", times=0)
    runtime.devpay.refunds_end(RefundState.SUCCESS)
    yield


@pytest.fixture
async def mango(runtime: Runtime, stores: dict[str, Any]) -> Variant:
    (variant,) = await make_variants(runtime, ("M-1", "1kg", PRICE))
    await receive(runtime, stores["SH-A"].id, variant, 50)
    return variant


@pytest.fixture
async def clerk(api: Api, runtime: Runtime, stores: dict[str, Any]) -> Api:
    return await staff_api(api, runtime, "clerk-a", StaffRole.STORE_CLERK, [stores["SH-A"]])


@pytest.fixture
async def cs(api: Api, runtime: Runtime) -> Api:
    return await staff_api(api, runtime, "cs-agent", StaffRole.CS_AGENT, [])


@pytest.fixture
async def manager(api: Api, runtime: Runtime, stores: dict[str, Any]) -> Api:
    return await staff_api(api, runtime, "manager-a", StaffRole.STORE_MANAGER, [stores["SH-A"]])


@pytest.fixture
async def member(api: Api) -> Shopper:
    return await shopper(api, "returning-shopper")


@pytest.fixture
def story(
    client: httpx.AsyncClient,
    runtime: Runtime,
    stores: dict[str, Any],
    mango: Variant,
    clerk: Api,
) -> Story:
    return Story(client, runtime, stores, mango, clerk)


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


def codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["errors"]]


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


async def test_a_return_is_approved_received_and_refunded(
    runtime: Runtime,
    clock: MovableClock,
    story: Story,
    member: Shopper,
    manager: Api,
    clerk: Api,
    cs: Api,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    order = await story.picked_up(member, quantity=3)
    assert await level(runtime, stores["SH-A"].id, mango) == (47, 0)
    (line,) = await line_ids(member.api, order)
    requested = await asked(member.api, request_input(order, [(line, 2)]))
    assert (requested["status"], requested["requestedBy"]) == ("REQUESTED", f"MEMBER:{member.key}")

    approved = await approve(manager, requested)
    assert approved["errors"] == [] and approved["afterSale"]["status"] == "APPROVED"

    received = (
        await clerk.data(
            RECEIVE,
            {
                "input": {
                    "afterSaleId": requested["id"],
                    "locationId": lid(stores, "SH-A"),
                    "lines": [
                        {"orderLineId": line, "quantity": 1, "condition": "RESALEABLE"},
                        {"orderLineId": line, "quantity": 1, "condition": "DAMAGED"},
                    ],
                }
            },
        )
    )["receiveReturn"]
    assert received["errors"] == [], received
    after_sale = received["afterSale"]
    assert (after_sale["status"], after_sale["refundAmount"]) == ("REFUNDING", 2 * PRICE)
    assert after_sale["lines"] == [
        {
            "orderLineId": line,
            "quantity": 2,
            "received": 1,
            "damaged": 1,
            "refunded": 2,
            "refundAmount": 2 * PRICE,
            "pointsReturned": 0,
        }
    ]
    # One back on the shelf; the damaged one in and written off, both in the ledger.
    assert await level(runtime, stores["SH-A"].id, mango) == (48, 0)
    moves = await MovementRow.filter(
        reference=f"after-sale:{decode_id(requested['id'], 'AfterSale')}"
    )
    assert sorted((m.kind.value, m.on_hand_delta) for m in moves) == [
        ("ADJUSTMENT", -1),
        ("RETURN", 2),
    ]
    assert await refunds_of(order) == [(2 * PRICE, PaymentStatus.REFUND_PENDING)]

    await settle_refunds(runtime, clock)
    assert await refunds_of(order) == [(2 * PRICE, PaymentStatus.REFUNDED)]
    seen = (await cs.data(NODE, {"id": requested["id"]}))["node"]
    assert seen["status"] == "REFUNDED"
    assert [(e["fromStatus"], e["toStatus"]) for e in seen["timeline"]] == [
        (None, "REQUESTED"),
        ("REQUESTED", "APPROVED"),
        ("APPROVED", "RETURN_RECEIVED"),
        ("RETURN_RECEIVED", "REFUNDING"),
        ("REFUNDING", "REFUNDED"),
    ]
    assert [e["actor"] for e in seen["timeline"]][-1] == "SYSTEM"
    prefix = f"order:{order_key(order)}:after-sale:{decode_id(requested['id'], 'AfterSale').hex}"
    sent = await outbox(runtime, order)
    assert ("AFTER_SALE_APPROVED", f"{prefix}:approved") in sent
    assert ("AFTER_SALE_REFUNDED", f"{prefix}:refunded") in sent
