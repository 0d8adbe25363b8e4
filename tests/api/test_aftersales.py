"""After-sales over the API (issue 16): a member asks to return goods after hand-over, CS or
the store's manager decides, the store receives them (resaleable back on the shelf, damaged
written off) and the refund job gives the money back; refund-only requests are refunded when
approved. Windows, quantities, who sees what, idempotency; the races on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from api.relay import decode_id
from domain.catalog.model import Variant
from domain.errors import OrderError
from domain.identity.model import StaffRole
from domain.loyalty.model import EntryKind
from domain.members.merge import merge_members
from domain.ordering.model import PaymentKind, PaymentStatus
from domain.ordering.ports import RefundState
from domain.ordering.refunds import refund_payment
from infra.db.models.inventory import MovementRow
from infra.db.models.loyalty import PointsEntryRow
from infra.db.models.orders import OrderPaymentRow
from tests.support import MovableClock, is_postgres
from tests.support.aftersales import (
    APPROVE,
    MINE,
    NODE,
    PRICE,
    RECEIVE,
    REJECT,
    approve,
    ask,
    asked,
    line_ids,
    refunds_of,
    request_input,
    settle_refunds,
)
from tests.support.api import Api, relogin, staff_api
from tests.support.orders import (
    ROOT,
    Story,
    complete,
    level,
    lid,
    make_variants,
    order_input,
    order_key,
    outbox,
    pay_online,
    pickup_of,
    placed,
    receive,
    stepped,
)
from tests.support.payloads import codes
from tests.support.points import earn
from tests.support.shoppers import Shopper, shopper

Runtime = Any  # infra.runtime.Runtime
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


async def test_refund_only_gives_back_each_lines_share_of_money_and_points(
    client: httpx.AsyncClient,
    runtime: Runtime,
    clock: MovableClock,
    member: Shopper,
    clerk: Api,
    cs: Api,
    stores: dict[str, Any],
) -> None:
    """4980 fen of goods, 1000 of them paid with 1000 points: the points discount goes to
    the lines in proportion (largest remainder: 799 and 201), and a refund of some units
    gives back their part of the money and of the points, the parts adding up to the line."""
    mango, kiwi = await make_variants(runtime, ("M-1", "1kg", PRICE), ("K-1", "box", 1000))
    for variant in (mango, kiwi):
        await receive(runtime, stores["SH-A"].id, variant, 10)
    await earn(runtime, member.key, 5000)
    story = Story(client, runtime, stores, mango, clerk)
    order = await _picked_up_with_points(story, member, [(mango, 2), (kiwi, 1)], 1000)
    mango_line, kiwi_line = await line_ids(member.api, order)

    first = await asked(member.api, request_input(order, [(mango_line, 1)], "REFUND_ONLY"))
    whole = await asked(member.api, request_input(order, [(kiwi_line, 1)], "REFUND_ONLY"))
    done = await approve(cs, first)
    assert done["errors"] == [] and done["afterSale"]["status"] == "REFUNDING"
    # 3980 - 799 = 3181 paid in money for two mangoes: one is 1590; 799 points: one is 399.
    assert [(x["refundAmount"], x["pointsReturned"]) for x in done["afterSale"]["lines"]] == [
        (1590, 399)
    ]
    kiwi_done = (await approve(cs, whole))["afterSale"]
    assert [(x["refundAmount"], x["pointsReturned"]) for x in kiwi_done["lines"]] == [(799, 201)]
    second = await asked(member.api, request_input(order, [(mango_line, 1)], "REFUND_ONLY"))
    last = (await approve(cs, second))["afterSale"]
    assert [(x["refundAmount"], x["pointsReturned"]) for x in last["lines"]] == [(1591, 400)]
    assert sorted(a for a, _ in await refunds_of(order)) == [799, 1590, 1591]  # all 3980 paid

    # Points: the redeemed ones came back, the earned ones were taken back per refund.
    entries = await PointsEntryRow.filter(member_id=member.key, kind=EntryKind.REVERSE)
    returned = sorted(e.amount for e in entries if e.idempotency_key.startswith("return-redeemed"))
    assert returned == [201, 399, 400]
    earned = await PointsEntryRow.get(
        member_id=member.key, idempotency_key=f"earn:order:{order_key(order)}"
    )
    taken = sorted(-e.amount for e in entries if e.idempotency_key.startswith("reverse-earn"))
    assert taken == sorted(earned.amount * part // 3980 for part in (799, 1590, 1591))

    await settle_refunds(runtime, clock)
    mine = (await member.api.data(MINE))["me"]["afterSales"]["nodes"]
    assert [x["status"] for x in mine] == ["REFUNDED"] * 3
    again = await ask(member.api, request_input(order, [(kiwi_line, 1)], "REFUND_ONLY"))
    assert codes(again) == ["QUANTITY_EXCEEDED"]


async def _picked_up_with_points(
    story: Story, member: Shopper, lines: list[tuple[Variant, int]], points: int
) -> dict[str, Any]:
    input_ = order_input(lines, pickup=lid(story.stores, "SH-A"))
    input_["pointsToRedeem"] = points
    order = await placed(member.api, input_)
    due = order["total"]["amount"] - points  # 100 points pay a yuan: a point is a fen
    await pay_online(story.client, story.runtime, member, {**order, "total": {"amount": due}})
    assert await stepped(story.staff, "startPreparingOrder", order["id"]) == "PREPARING"
    assert await stepped(story.staff, "markOrderReadyForPickup", order["id"]) == "READY_FOR_PICKUP"
    code = (await pickup_of(member, order))["code"]
    assert (await complete(story.staff, story.stores, code))["order"]["status"] == "PICKED_UP"
    return order


PRODUCT_WINDOW = """mutation($input: ProductUpdateInput!) { productUpdate(input: $input) {
  product { returnWindowDays } errors { code field } } }"""


async def test_the_return_window_is_seven_days_unless_the_product_says_otherwise(
    api: Api,
    runtime: Runtime,
    clock: MovableClock,
    story: Story,
    member: Shopper,
    stores: dict[str, Any],
) -> None:
    admin = await staff_api(api, runtime, "admin", StaffRole.ADMIN, [])
    product = {"id": _product_id(story.mango)}
    order = await story.picked_up(member, quantity=2)
    (line,) = await line_ids(member.api, order)

    async def window(days: int | None) -> None:
        set_ = await admin.data(PRODUCT_WINDOW, {"input": {**product, "returnWindowDays": days}})
        assert set_["productUpdate"] == {"product": {"returnWindowDays": days}, "errors": []}

    await window(0)  # no returns at all
    assert codes(await ask(member.api, request_input(order, [(line, 1)]))) == [
        "RETURN_WINDOW_CLOSED"
    ]
    bad = await admin.data(PRODUCT_WINDOW, {"input": {**product, "returnWindowDays": -1}})
    assert bad["productUpdate"]["errors"] == [
        {"code": "INVALID_INPUT", "field": ["returnWindowDays"]}
    ]
    await window(None)  # the default: seven days
    clock.advance(timedelta(days=7, minutes=1))
    member = await shopper(api, member.openid)  # tokens live minutes, not days
    admin = await relogin(api, "admin")
    assert codes(await ask(member.api, request_input(order, [(line, 1)]))) == [
        "RETURN_WINDOW_CLOSED"
    ]
    await window(30)
    assert (await asked(member.api, request_input(order, [(line, 1)])))["status"] == "REQUESTED"
    # Nothing was written by the refusals: one request holds one unit.
    mine = (await member.api.data(MINE))["me"]["afterSales"]["nodes"]
    assert len(mine) == 1
    created = await admin.data(
        """mutation { productCreate(input: {name: "Lychee", returnWindowDays: 1}) {
          product { returnWindowDays } errors { code field } } }"""
    )
    assert created["productCreate"] == {"product": {"returnWindowDays": 1}, "errors": []}


def _product_id(variant: Variant) -> str:
    from api.relay import encode_id

    return str(encode_id("Product", variant.product_id))


async def test_bad_requests_are_refused_with_a_code_and_change_nothing(
    api: Api, story: Story, member: Shopper, cs: Api
) -> None:
    paid = await story.paid(member)
    (paid_line,) = await line_ids(member.api, paid)
    assert codes(await ask(member.api, request_input(paid, [(paid_line, 1)]))) == [
        "ORDER_NOT_HANDED_OVER"
    ]
    order = await story.picked_up(member, quantity=2)
    (line,) = await line_ids(member.api, order)
    for wrong, code in (
        (request_input(order, [(line, 3)]), "QUANTITY_EXCEEDED"),
        (request_input(order, [(line, 0)]), "INVALID_INPUT"),
        (request_input(order, [(paid_line, 1)]), "NOT_FOUND"),  # a line of another order
        (request_input(order, [(line, 1), (line, 1)]), "INVALID_INPUT"),
        (request_input(order, [(line, 1)], reason=" "), "INVALID_INPUT"),
        (request_input(order, [(line, 1)], photoUrls=["http://x"]), "INVALID_INPUT"),
        (request_input(order, []), "INVALID_INPUT"),
    ):
        assert codes(await ask(member.api, wrong)) == [code], wrong
    first = await asked(member.api, request_input(order, [(line, 2)]))
    assert codes(await ask(member.api, request_input(order, [(line, 1)]))) == ["QUANTITY_EXCEEDED"]
    rejected = (await cs.data(REJECT, {"id": first["id"], "r": "photos show no damage"}))[
        "rejectAfterSale"
    ]
    assert rejected["afterSale"]["status"] == "REJECTED"
    assert rejected["afterSale"]["decisionReason"] == "photos show no damage"
    assert codes(await approve(cs, first)) == ["ALREADY_DECIDED"]
    # A rejected request holds nothing: both units may be asked for again.
    assert (await asked(member.api, request_input(order, [(line, 2)])))["status"] == "REQUESTED"
    mine = (await member.api.data(MINE))["me"]["afterSales"]["nodes"]
    assert [x["status"] for x in mine] == ["REQUESTED", "REJECTED"]  # newest first


async def test_members_see_only_their_own_and_staff_only_their_stores(
    api: Api,
    runtime: Runtime,
    story: Story,
    member: Shopper,
    clerk: Api,
    manager: Api,
    stores: dict[str, Any],
) -> None:
    order = await story.picked_up(member)
    (line,) = await line_ids(member.api, order)
    other = await shopper(api, "someone-else")
    assert codes(await ask(other.api, request_input(order, [(line, 1)]))) == ["NOT_FOUND"]
    requested = await asked(member.api, request_input(order, [(line, 1)]))
    assert (await other.api.data(NODE, {"id": requested["id"]}))["node"] is None
    assert (await other.api.data(MINE))["me"]["afterSales"]["nodes"] == []
    assert (await other.api.data(OF_ORDER, {"id": order["id"]}))["order"] is None
    mine = (await member.api.data(OF_ORDER, {"id": order["id"]}))["order"]["afterSales"]
    assert [x["id"] for x in mine] == [requested["id"]]
    refused = await other.api(APPROVE, {"id": requested["id"]})
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    clerk_b = await staff_api(api, runtime, "clerk-b", StaffRole.STORE_CLERK, [stores["SH-B"]])
    manager_b = await staff_api(
        api, runtime, "manager-b", StaffRole.STORE_MANAGER, [stores["SH-B"]]
    )
    assert (await clerk_b.data(NODE, {"id": requested["id"]}))["node"] is None
    assert (await clerk_b.data(DESK, {}))["afterSales"]["nodes"] == []
    forbidden = await clerk_b(DESK, {"f": {"locationId": lid(stores, "SH-A")}})
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert codes(await approve(manager_b, requested)) == ["NOT_FOUND"]
    refused = await clerk(APPROVE, {"id": requested["id"]})
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"  # a manager decides
    seen = (await clerk.data(DESK, {"f": {"status": "REQUESTED"}}))["afterSales"]["nodes"]
    assert [x["id"] for x in seen] == [requested["id"]]
    assert (await manager.data(NODE, {"id": requested["id"]}))["node"]["status"] == "REQUESTED"
    # Staff ask for a member, and are recorded as the one who asked.
    for_member = await asked(clerk, request_input(order, [(line, 1)]))
    assert for_member["requestedBy"].startswith("STAFF:")
    assert codes(await ask(clerk_b, request_input(order, [(line, 1)]))) == ["FORBIDDEN"]


async def test_a_retried_request_with_its_key_returns_the_first_one(
    story: Story, member: Shopper
) -> None:
    order = await story.picked_up(member, quantity=2)
    (line,) = await line_ids(member.api, order)
    input_ = request_input(order, [(line, 2)], idempotencyKey="as-1")
    first = await asked(member.api, input_)
    again = await asked(member.api, input_)
    assert again["id"] == first["id"]
    changed = await ask(member.api, {**input_, "reason": "another reason"})
    assert codes(changed) == ["IDEMPOTENCY_CONFLICT"]
    assert len((await member.api.data(MINE))["me"]["afterSales"]["nodes"]) == 1


async def test_the_desk_list_pages_newest_first_in_constant_statements(
    story: Story, member: Shopper, cs: Api
) -> None:
    from tests.support import count_sql

    order = await story.picked_up(member, quantity=9)
    (line,) = await line_ids(member.api, order)
    made = [(await asked(member.api, request_input(order, [(line, 1)])))["id"] for _ in range(9)]

    async def statements(size: int) -> tuple[int, list[str]]:
        with count_sql() as seen:
            data = await cs.data(DESK, {"first": size})
        return len(seen), [x["id"] for x in data["afterSales"]["nodes"]]

    small, few = await statements(2)
    large, many = await statements(9)
    assert (few, many) == (made[::-1][:2], made[::-1])
    assert small == large
    page = (await cs.data(DESK, {"first": 4}))["afterSales"]
    rest = await cs.data(DESK, {"first": 10, "after": page["pageInfo"]["endCursor"]})
    assert [x["id"] for x in page["nodes"] + rest["afterSales"]["nodes"]] == made[::-1]


@pytest.fixture
def postgres(runtime: Runtime) -> None:
    if not is_postgres(runtime.settings.database_url):
        pytest.skip("races need PostgreSQL's row locks (SQLite runs one writer at a time)")


@pytest.mark.usefixtures("postgres")
async def test_fifty_requests_at_once_never_ask_for_more_than_was_bought(
    story: Story, member: Shopper
) -> None:
    order = await story.picked_up(member, quantity=5)
    (line,) = await line_ids(member.api, order)
    answers = await asyncio.gather(
        *(ask(member.api, request_input(order, [(line, 1)])) for _ in range(50))
    )
    assert sorted(tuple(codes(a)) for a in answers) == [()] * 5 + [("QUANTITY_EXCEEDED",)] * 45
    mine = (await member.api.data(MINE))["me"]["afterSales"]["nodes"]
    assert len(mine) == 5


@pytest.mark.usefixtures("postgres")
async def test_two_agents_deciding_at_once_make_one_decision_and_one_refund(
    api: Api, runtime: Runtime, story: Story, member: Shopper, cs: Api, manager: Api
) -> None:
    order = await story.picked_up(member, quantity=2)
    (line,) = await line_ids(member.api, order)
    requested = await asked(member.api, request_input(order, [(line, 2)], "REFUND_ONLY"))
    other_cs = await staff_api(api, runtime, "cs-agent-2", StaffRole.CS_AGENT, [])
    answers = await asyncio.gather(
        approve(cs, requested),
        approve(other_cs, requested),
        manager.data(REJECT, {"id": requested["id"], "r": "changed my mind"}),
    )
    payloads = [*answers[:2], answers[2]["rejectAfterSale"]]
    decided = sorted(tuple(codes(p)) for p in payloads)
    assert decided == [(), ("ALREADY_DECIDED",), ("ALREADY_DECIDED",)]
    winner = next(p for p in payloads if not p["errors"])["afterSale"]
    refunds = await refunds_of(order)
    if winner["status"] == "REJECTED":
        assert refunds == []
    else:
        assert (winner["status"], refunds) == (
            "REFUNDING",
            [(2 * PRICE, PaymentStatus.REFUND_PENDING)],
        )


@pytest.mark.usefixtures("postgres")
async def test_a_return_and_a_refund_racing_refund_each_unit_once(
    runtime: Runtime,
    clock: MovableClock,
    story: Story,
    member: Shopper,
    cs: Api,
    clerk: Api,
    stores: dict[str, Any],
) -> None:
    order = await story.picked_up(member, quantity=3)
    (line,) = await line_ids(member.api, order)
    goods = await asked(member.api, request_input(order, [(line, 2)]))
    money = await asked(member.api, request_input(order, [(line, 1)], "REFUND_ONLY"))
    assert not (await approve(cs, goods))["errors"]
    receipt = {
        "afterSaleId": goods["id"],
        "locationId": lid(stores, "SH-A"),
        "lines": [{"orderLineId": line, "quantity": 2, "condition": "RESALEABLE"}],
    }
    received, approved, twice = await asyncio.gather(
        clerk.data(RECEIVE, {"input": receipt}),
        approve(cs, money),
        clerk.data(RECEIVE, {"input": receipt}),
    )
    outcomes = sorted(tuple(codes(p)) for p in (received["receiveReturn"], twice["receiveReturn"]))
    assert outcomes == [(), ("ILLEGAL_STATE",)]
    assert approved["errors"] == []
    assert sorted(a for a, _ in await refunds_of(order)) == [PRICE, 2 * PRICE]  # all 3 units
    assert await level(runtime, stores["SH-A"].id, story.mango) == (49, 0)  # 50 - 3 + 2
    await settle_refunds(runtime, clock)
    assert {s for _, s in await refunds_of(order)} == {PaymentStatus.REFUNDED}


async def test_an_order_of_a_merged_member_is_refunded_to_the_survivor(
    api: Api, runtime: Runtime, story: Story, member: Shopper, cs: Api
) -> None:
    """The member's record was merged into another after the purchase: the order, its
    after-sales and the points it earned are the survivor's, and the refund takes the earned
    points back from the survivor's account."""
    order = await story.picked_up(member, quantity=2)
    (line,) = await line_ids(member.api, order)
    first = await asked(member.api, request_input(order, [(line, 1)], "REFUND_ONLY"))
    survivor = await shopper(api, "the-same-person")
    await merge_members(runtime.members, ROOT, member.key, survivor.key, "same person")
    survivor = await shopper(api, "the-same-person")  # merges end sessions
    assert [x["id"] for x in (await survivor.api.data(MINE))["me"]["afterSales"]["nodes"]] == [
        first["id"]
    ]
    second = await asked(survivor.api, request_input(order, [(line, 1)], "REFUND_ONLY"))
    for after_sale in (first, second):
        assert (await approve(cs, after_sale))["afterSale"]["status"] == "REFUNDING"
    # The entry stays in the absorbed account's ledger; the survivor holds the balance now.
    earned = await PointsEntryRow.get(
        member_id=member.key, idempotency_key=f"earn:order:{order_key(order)}"
    )
    taken = await PointsEntryRow.filter(
        member_id=survivor.key, idempotency_key__startswith="reverse-earn:"
    )
    assert earned.amount > 0
    # Each refund of one of two units (1990 of 3980 paid) takes back its part, rounded down.
    assert [-e.amount for e in taken] == [earned.amount * 1990 // 3980] * 2


@pytest.mark.usefixtures("postgres")
async def test_a_return_racing_a_cs_refund_of_the_same_money_refunds_it_once(
    runtime: Runtime,
    story: Story,
    member: Shopper,
    cs: Api,
    clerk: Api,
    stores: dict[str, Any],
) -> None:
    order = await story.picked_up(member, quantity=2)
    (line,) = await line_ids(member.api, order)
    goods = await asked(member.api, request_input(order, [(line, 2)]))
    assert not (await approve(cs, goods))["errors"]
    [payment] = await OrderPaymentRow.filter(order_id=order_key(order), kind=PaymentKind.PAYMENT)
    receipt = {
        "afterSaleId": goods["id"],
        "locationId": lid(stores, "SH-A"),
        "lines": [{"orderLineId": line, "quantity": 2, "condition": "RESALEABLE"}],
    }

    async def goodwill() -> str:
        try:
            await refund_payment(runtime.ordering, order_key(order), payment.id, 3000, "goodwill")
        except OrderError as error:
            return error.code.value
        return "refunded"

    received, cs_refund = await asyncio.gather(clerk.data(RECEIVE, {"input": receipt}), goodwill())
    outcome = (codes(received["receiveReturn"]), cs_refund)
    assert outcome in (([], "AMOUNT_MISMATCH"), (["REFUND_NOT_POSSIBLE"], "refunded"))
    refunded = sum(a for a, _ in await refunds_of(order))
    assert refunded in (2 * PRICE, 3000)  # one of them, never both (3980 + 3000 > paid)
    seen = (await cs.data(NODE, {"id": goods["id"]}))["node"]
    on_hand = (await level(runtime, stores["SH-A"].id, story.mango))[0]
    if refunded == 3000:  # the return was refused and left nothing behind
        assert (seen["status"], on_hand) == ("APPROVED", 48)
    else:
        assert (seen["status"], on_hand) == ("REFUNDING", 50)
