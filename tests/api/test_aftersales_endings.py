"""How after-sales end besides a refund by the provider (issue 16): a member (or CS for them)
withdraws a request, and the units are free again; a refund given back at the till ends when
the store confirms it (also a cancelled till-paid order's); a failed refund shows on the
after-sale and CS records it again. The races on PostgreSQL. Helpers and queries are
tests/api/test_aftersales.py's."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.relay import decode_id
from domain.catalog.model import Variant
from domain.identity.model import StaffRole
from domain.ordering.model import PaymentStatus
from domain.ordering.ports import RefundState
from infra.doctor import run_checks
from tests.support import MovableClock, is_postgres
from tests.support.aftersales import (
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
    settle_refunds,
)
from tests.support.api import Api, staff_api
from tests.support.orders import (
    CANCEL,
    Story,
    complete,
    in_store,
    level,
    lid,
    make_variants,
    order_input,
    order_key,
    outbox,
    pickup_of,
    placed,
    receive,
    stepped,
)
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


@pytest.mark.usefixtures("postgres")
async def test_a_withdrawal_and_the_goods_arriving_at_once_one_wins(
    runtime: Runtime, story: Story, member: Shopper, cs: Api, clerk: Api, stores: dict[str, Any]
) -> None:
    order = await story.picked_up(member, quantity=2)
    (line,) = await line_ids(member.api, order)
    requested = await asked(member.api, request_input(order, [(line, 2)]))
    assert (await approve(cs, requested))["errors"] == []
    before = await level(runtime, stores["SH-A"].id, story.mango)
    receipt = {
        "afterSaleId": requested["id"],
        "locationId": lid(stores, "SH-A"),
        "lines": [{"orderLineId": line, "quantity": 2, "condition": "RESALEABLE"}],
    }
    withdrawn, received = await asyncio.gather(
        withdraw(member.api, requested), clerk.data(RECEIVE, {"input": receipt})
    )
    outcome = sorted([tuple(codes(withdrawn)), tuple(codes(received["receiveReturn"]))])
    assert outcome == [(), ("ILLEGAL_STATE",)]
    seen = (await cs.data(NODE, {"id": requested["id"]}))["node"]
    after = await level(runtime, stores["SH-A"].id, story.mango)
    if seen["status"] == "CLOSED":  # nothing came back, nothing was refunded
        assert (after, await refunds_of(order)) == (before, [])
    else:
        assert seen["status"] == "REFUNDING"
        assert after == (before[0] + 2, before[1])
        assert await refunds_of(order) == [(2 * PRICE, PaymentStatus.REFUND_PENDING)]


REFUND_VIEW = f"""query($id: ID!) {{ node(id: $id) {{ ... on AfterSale {{ {AFTER_SALE}
  refund {{ paymentId status reason }} refundProblem }} }} }}"""
REFUND_FIELDS = "refund { id kind status amount { amount } reason completedAt }"
CONFIRM = f"""mutation($p: ID!) {{ confirmTillRefund(input: {{paymentId: $p}}) {{
  {REFUND_FIELDS} {ERRORS} }} }}"""
RETRY = f"""mutation($p: ID!) {{ retryRefund(input: {{paymentId: $p}}) {{
  {REFUND_FIELDS} {ERRORS} }} }}"""
PAYMENTS = "query($id: ID!) { order(id: $id) { payments { id kind status amount { amount } } } }"


async def till_paid_and_picked_up(story: Story, member: Shopper, quantity: int) -> Any:
    """A pickup order the member paid at the till (recordInStorePayment), then collected."""
    order = await placed(
        member.api, order_input([(story.mango, quantity)], pickup=lid(story.stores, "SH-A"))
    )
    assert (await in_store(story.staff, order["id"], quantity * PRICE))["errors"] == []
    for step, status in (
        ("startPreparingOrder", "PREPARING"),
        ("markOrderReadyForPickup", "READY_FOR_PICKUP"),
    ):
        assert await stepped(story.staff, step, order["id"]) == status
    code = (await pickup_of(member, order))["code"]
    assert (await complete(story.staff, story.stores, code))["order"]["status"] == "PICKED_UP"
    return order


MONEY_CHECKS = ["refunds_within_paid", "refund_submissions", "order_payments", "after_sale_refunds"]


async def books_balance(clock: MovableClock) -> None:
    """The doctor's checks of refunds and after-sales pass on what the services wrote."""
    report = await run_checks(MONEY_CHECKS, now=clock.now())
    assert report.exit_code == 0, report.text()


async def view(caller: Api, after_sale: dict[str, Any]) -> Any:
    return (await caller.data(REFUND_VIEW, {"id": after_sale["id"]}))["node"]


async def test_a_refund_given_back_at_the_till_ends_when_the_store_confirms_it(
    api: Api,
    runtime: Runtime,
    clock: MovableClock,
    story: Story,
    member: Shopper,
    cs: Api,
    clerk: Api,
    stores: dict[str, Any],
) -> None:
    order = await till_paid_and_picked_up(story, member, 2)
    (line,) = await line_ids(member.api, order)
    requested = await asked(member.api, request_input(order, [(line, 1)], "REFUND_ONLY"))
    assert (await approve(cs, requested))["afterSale"]["status"] == "REFUNDING"
    waiting = await view(member.api, requested)
    assert waiting["refund"]["status"] == "REFUND_AT_TILL"
    assert waiting["refundProblem"].startswith("AT_TILL")
    payment = waiting["refund"]["paymentId"]

    # Another store's clerk does not see it; CS does not stand at a till.
    clerk_b = await staff_api(api, runtime, "clerk-b", StaffRole.STORE_CLERK, [stores["SH-B"]])
    assert codes((await clerk_b.data(CONFIRM, {"p": payment}))["confirmTillRefund"]) == [
        "NOT_FOUND"
    ]
    refused = await cs(CONFIRM, {"p": payment})
    assert [e["extensions"]["code"] for e in refused["errors"]] == ["FORBIDDEN"]
    assert (await view(cs, requested))["refund"]["status"] == "REFUND_AT_TILL"

    done = (await clerk.data(CONFIRM, {"p": payment}))["confirmTillRefund"]
    assert done["errors"] == []
    assert (done["refund"]["status"], done["refund"]["amount"]["amount"]) == ("REFUNDED", PRICE)
    assert done["refund"]["completedAt"] is not None
    seen = await view(member.api, requested)
    assert (seen["status"], seen["refundProblem"]) == ("REFUNDED", None)
    assert seen["timeline"][-1]["fromStatus"] == "REFUNDING"
    after_sale_key = decode_id(requested["id"], "AfterSale").hex
    key = f"order:{order_key(order)}:after-sale:{after_sale_key}:refunded"
    assert ("AFTER_SALE_REFUNDED", key) in await outbox(runtime, order)
    again = (await clerk.data(CONFIRM, {"p": payment}))["confirmTillRefund"]
    assert codes(again) == ["ILLEGAL_TRANSITION"]
    await books_balance(clock)


async def test_a_cancelled_till_paid_orders_refund_is_confirmed_at_the_till(
    clock: MovableClock, story: Story, member: Shopper, clerk: Api
) -> None:
    order = await placed(
        member.api, order_input([(story.mango, 1)], pickup=lid(story.stores, "SH-A"))
    )
    assert (await in_store(clerk, order["id"], PRICE))["errors"] == []
    cancelled = await member.api.data(CANCEL, {"o": order["id"], "r": "changed my mind"})
    assert cancelled["cancelOrder"]["errors"] == []
    payments = (await clerk.data(PAYMENTS, {"id": order["id"]}))["order"]["payments"]
    (refund,) = [p for p in payments if p["kind"] == "REFUND"]
    assert refund["status"] == "REFUND_AT_TILL"
    # The payment itself is not a refund: refused, nothing changes.
    paid = next(p for p in payments if p["kind"] == "PAYMENT")
    assert codes((await clerk.data(CONFIRM, {"p": paid["id"]}))["confirmTillRefund"]) == [
        "NOT_FOUND"
    ]
    done = (await clerk.data(CONFIRM, {"p": refund["id"]}))["confirmTillRefund"]
    assert (done["errors"], done["refund"]["status"]) == ([], "REFUNDED")
    assert await refunds_of(order) == [(PRICE, PaymentStatus.REFUNDED)]
    await books_balance(clock)


async def test_a_failed_refund_shows_on_the_after_sale_and_cs_records_it_again(
    runtime: Runtime,
    clock: MovableClock,
    story: Story,
    member: Shopper,
    cs: Api,
    clerk: Api,
) -> None:
    order = await story.picked_up(member, quantity=2)
    (line,) = await line_ids(member.api, order)
    requested = await asked(member.api, request_input(order, [(line, 2)], "REFUND_ONLY"))
    assert (await approve(cs, requested))["errors"] == []
    runtime.devpay.fail_refunds("NOT_ENOUGH", retry=False)
    await settle_refunds(runtime, clock)
    stuck = await view(member.api, requested)
    assert (stuck["status"], stuck["refundProblem"]) == ("REFUNDING", "FAILED: NOT_ENOUGH")
    assert (stuck["refund"]["status"], stuck["refund"]["reason"]) == ("REFUND_FAILED", "NOT_ENOUGH")
    failed = stuck["refund"]["paymentId"]

    for caller in (member.api, clerk):  # only CS records a refund again
        refused = await caller(RETRY, {"p": failed})
        assert [e["extensions"]["code"] for e in refused["errors"]] == ["FORBIDDEN"]
    retried = (await cs.data(RETRY, {"p": failed}))["retryRefund"]
    assert retried["errors"] == []
    assert (retried["refund"]["status"], retried["refund"]["amount"]["amount"]) == (
        "REFUND_PENDING",
        2 * PRICE,
    )
    assert retried["refund"]["id"] != failed
    following = await view(cs, requested)
    assert following["refund"]["paymentId"] == retried["refund"]["id"]
    assert following["refundProblem"] is None
    assert following["timeline"][-1]["toStatus"] == "REFUNDING"
    assert following["timeline"][-1]["note"] == "refund retried"
    assert following["timeline"][-1]["actor"].startswith("STAFF:")  # the agent who retried
    # Once per failed refund; a refund that did not fail is not retried.
    for payment in (failed, retried["refund"]["id"]):
        assert codes((await cs.data(RETRY, {"p": payment}))["retryRefund"]) == [
            "ILLEGAL_TRANSITION"
        ]

    runtime.devpay.fail_refunds("", times=0)
    await settle_refunds(runtime, clock)
    assert (await view(member.api, requested))["status"] == "REFUNDED"
    assert await refunds_of(order) == [
        (2 * PRICE, PaymentStatus.REFUNDED),
        (2 * PRICE, PaymentStatus.REFUND_FAILED),
    ]
    await books_balance(clock)


@pytest.mark.usefixtures("postgres")
async def test_two_agents_retrying_one_failed_refund_record_one_refund(
    api: Api, runtime: Runtime, clock: MovableClock, story: Story, member: Shopper, cs: Api
) -> None:
    order = await story.picked_up(member, quantity=1)
    (line,) = await line_ids(member.api, order)
    requested = await asked(member.api, request_input(order, [(line, 1)], "REFUND_ONLY"))
    assert (await approve(cs, requested))["errors"] == []
    runtime.devpay.fail_refunds("NOT_ENOUGH", retry=False)
    await settle_refunds(runtime, clock)
    failed = (await view(cs, requested))["refund"]["paymentId"]
    other_cs = await staff_api(api, runtime, "cs-agent-2", StaffRole.CS_AGENT, [])
    answers = await asyncio.gather(
        *(agent.data(RETRY, {"p": failed}) for agent in (cs, other_cs, cs, other_cs))
    )
    outcomes = sorted(tuple(codes(a["retryRefund"])) for a in answers)
    assert outcomes == [
        (),
        ("ILLEGAL_TRANSITION",),
        ("ILLEGAL_TRANSITION",),
        ("ILLEGAL_TRANSITION",),
    ]
    assert await refunds_of(order) == [
        (PRICE, PaymentStatus.REFUND_FAILED),
        (PRICE, PaymentStatus.REFUND_PENDING),
    ]


@pytest.fixture
def postgres(runtime: Runtime) -> None:
    if not is_postgres(runtime.settings.database_url):
        pytest.skip("races need PostgreSQL's row locks (SQLite runs one writer at a time)")
