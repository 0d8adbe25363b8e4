"""How after-sales end besides a refund by the provider (issue 16): a member (or CS for them)
withdraws a request, and the units are free again; the race of a withdrawal and an approval
on PostgreSQL. Helpers and queries are tests/api/test_aftersales.py's."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from domain.catalog.model import Variant
from domain.identity.model import StaffRole
from domain.ordering.model import PaymentStatus
from domain.ordering.ports import RefundState
from tests.api.test_aftersales import (
    AFTER_SALE,
    ERRORS,
    NODE,
    PRICE,
    approve,
    ask,
    asked,
    line_ids,
    refunds_of,
    request_input,
)
from tests.support import is_postgres
from tests.support.api import Api, staff_api
from tests.support.orders import Story, lid, make_variants, receive
from tests.support.payloads import codes
from tests.support.shoppers import Shopper, shopper

Runtime = Any  # infra.runtime.Runtime

WITHDRAW = f"""mutation($id: ID!, $r: String) {{
  withdrawAfterSale(input: {{afterSaleId: $id, reason: $r}}) {{
  afterSale {{ {AFTER_SALE} }} {ERRORS} }} }}"""
RECEIVE = """mutation($input: ReceiveReturnInput!) { receiveReturn(input: $input) {
  afterSale { status } errors { code } } }"""


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


async def withdraw(caller: Api, after_sale: dict[str, Any], reason: str | None = None) -> Any:
    return (await caller.data(WITHDRAW, {"id": after_sale["id"], "r": reason}))["withdrawAfterSale"]


async def test_a_member_withdraws_a_request_and_may_ask_for_its_units_again(
    api: Api, story: Story, member: Shopper, cs: Api
) -> None:
    order = await story.picked_up(member, quantity=2)
    (line,) = await line_ids(member.api, order)
    first = await asked(member.api, request_input(order, [(line, 2)]))
    assert codes(await ask(member.api, request_input(order, [(line, 1)]))) == ["QUANTITY_EXCEEDED"]
    done = await withdraw(member.api, first, "found the receipt")
    assert done["errors"] == [] and done["afterSale"]["status"] == "CLOSED"
    assert [(e["fromStatus"], e["toStatus"], e["note"]) for e in done["afterSale"]["timeline"]][
        -1
    ] == ("REQUESTED", "CLOSED", "found the receipt")
    # The units are free: a new request for all of them passes.
    again = await asked(member.api, request_input(order, [(line, 2)], "REFUND_ONLY"))
    assert again["status"] == "REQUESTED"
    # A closed request stays closed; a decision on it is refused.
    assert codes(await withdraw(member.api, first)) == ["ILLEGAL_STATE"]
    assert codes(await approve(cs, first)) == ["ALREADY_DECIDED"]
    # CS withdraws for the member; the timeline says who.
    by_cs = await withdraw(cs, again)
    assert by_cs["errors"] == []
    assert by_cs["afterSale"]["timeline"][-1]["actor"].startswith("STAFF:")
    assert by_cs["afterSale"]["timeline"][-1]["note"] == "withdrawn"


async def test_an_approved_return_is_withdrawn_until_its_goods_arrive(
    story: Story, member: Shopper, cs: Api, clerk: Api, stores: dict[str, Any]
) -> None:
    order = await story.picked_up(member, quantity=3)
    (line,) = await line_ids(member.api, order)
    kept = await asked(member.api, request_input(order, [(line, 1)]))
    received = await asked(member.api, request_input(order, [(line, 1)]))
    money = await asked(member.api, request_input(order, [(line, 1)], "REFUND_ONLY"))
    for after_sale in (kept, received, money):
        assert (await approve(cs, after_sale))["errors"] == []
    # A refund-only request is refunded when approved: too late to withdraw.
    assert codes(await withdraw(member.api, money)) == ["ILLEGAL_STATE"]
    receipt = {
        "afterSaleId": received["id"],
        "locationId": lid(stores, "SH-A"),
        "lines": [{"orderLineId": line, "quantity": 1, "condition": "RESALEABLE"}],
    }
    got = (await clerk.data(RECEIVE, {"input": receipt}))["receiveReturn"]
    assert got["errors"] == []
    assert codes(await withdraw(member.api, received)) == ["ILLEGAL_STATE"]
    done = await withdraw(member.api, kept)
    assert done["errors"] == [] and done["afterSale"]["status"] == "CLOSED"
    # Two refunds (the refund-only and the received return), none for the withdrawn one.
    assert sorted(a for a, _ in await refunds_of(order)) == [PRICE, PRICE]


async def test_only_the_member_and_cs_withdraw_and_nobody_else_sees_it(
    api: Api, runtime: Runtime, story: Story, member: Shopper, clerk: Api
) -> None:
    order = await story.picked_up(member, quantity=1)
    (line,) = await line_ids(member.api, order)
    requested = await asked(member.api, request_input(order, [(line, 1)]))
    other = await shopper(api, "someone-else")
    assert codes(await withdraw(other.api, requested)) == ["NOT_FOUND"]
    manager = await staff_api(
        api, runtime, "manager-a", StaffRole.STORE_MANAGER, [story.stores["SH-A"]]
    )
    refused = await manager(WITHDRAW, {"id": requested["id"], "r": None})
    assert [e["extensions"]["code"] for e in refused["errors"]] == ["FORBIDDEN"]
    seen = (await member.api.data(NODE, {"id": requested["id"]}))["node"]
    assert seen["status"] == "REQUESTED"


@pytest.mark.usefixtures("postgres")
async def test_a_withdrawal_and_an_approval_at_once_one_wins(
    story: Story, member: Shopper, cs: Api
) -> None:
    order = await story.picked_up(member, quantity=2)
    (line,) = await line_ids(member.api, order)
    for _ in range(5):  # the race goes either way; each round must end consistent
        requested = await asked(member.api, request_input(order, [(line, 2)], "REFUND_ONLY"))
        withdrawn, approved = await asyncio.gather(
            withdraw(member.api, requested), approve(cs, requested)
        )
        outcome = sorted([tuple(codes(withdrawn)), tuple(codes(approved))])
        seen = (await cs.data(NODE, {"id": requested["id"]}))["node"]
        refunds = await refunds_of(order)
        if seen["status"] == "CLOSED":
            assert outcome == [(), ("ALREADY_DECIDED",)]
            assert refunds == []
        else:
            assert outcome == [(), ("ILLEGAL_STATE",)]
            assert (seen["status"], refunds) == (
                "REFUNDING",
                [(2 * PRICE, PaymentStatus.REFUND_PENDING)],
            )
            return


@pytest.fixture
def postgres(runtime: Runtime) -> None:
    if not is_postgres(runtime.settings.database_url):
        pytest.skip("races need PostgreSQL's row locks (SQLite runs one writer at a time)")
