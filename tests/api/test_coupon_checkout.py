"""Coupons at checkout over the API (issue 17): the quote offers every coupon the member holds
(best first, with why the others do not apply) and prices the ones asked for exactly as
placeOrder charges them; the order holds its coupons, spends them when paid, gives them back
when cancelled, timed out or fully refunded; every discount sits on a line, so an after-sales
refund of a line gives back what was paid for it in money. Two orders racing for one coupon:
one wins."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest

from api.relay import decode_id
from domain.catalog.model import Variant
from domain.identity.model import StaffRole
from infra.db.models.coupons import CouponRow
from infra.jobs import find_job, run_job
from infra.runtime import Runtime
from tests.support import MovableClock
from tests.support.aftersales import approve, asked, line_ids, request_input
from tests.support.api import Api, staff_api
from tests.support.orders import (
    CANCEL,
    complete,
    level,
    lid,
    make_variants,
    order_input,
    pay_online,
    pickup_of,
    receive,
    stepped,
)
from tests.support.points import earn
from tests.support.shoppers import Shopper, shopper

MONEY = "{ amount }"
OFFER = f"coupon {{ id name status }} discount {MONEY} applies reason"
QUOTE = f"""query($input: PlaceOrderInput!) {{ checkoutQuote(input: $input) {{
  quote {{ subtotal {MONEY} memberSavings {MONEY} couponDiscount {MONEY} total {MONEY}
    maxPointsRedeemable pointsDiscount {MONEY} amountDue {MONEY}
    coupons {{ {OFFER} }} couponOptions {{ {OFFER} }}
    lines {{ sku quantity total {MONEY} couponDiscount {MONEY} }} }}
  errors {{ code field message }} }} }}"""
PLACE = f"""mutation($input: PlaceOrderInput!) {{ placeOrder(input: $input) {{
  order {{ id status subtotal {MONEY} memberSavings {MONEY} couponDiscount {MONEY}
    total {MONEY} pointsDiscount {MONEY} amountDue {MONEY}
    lines {{ sku quantity total {MONEY} couponDiscount {MONEY} }} }}
  errors {{ code field message }} }} }}"""
CREATE = """mutation($i: CouponTemplateInput!) { createCouponTemplate(input: $i) {
  template { id } errors { code field message } } }"""
CLAIM = """mutation($t: ID!) { claimCoupon(input: {templateId: $t}) {
  coupon { id } errors { code field message } } }"""
MINE = """{ me { coupons { nodes { id status } } } }"""
ALL_MINE = """query($s: CouponListStatus) { me { coupons(status: $s) { nodes { id status } } } }"""

MANGO, TEA = 5000, 1000  # fen: a cart of two mangoes and a tea is ¥110.00


@pytest.fixture
async def goods(runtime: Runtime, stores: dict[str, Any]) -> tuple[Variant, Variant]:
    mango, tea = await make_variants(runtime, ("MANGO", "1kg", MANGO), ("TEA", "box", TEA))
    for variant in (mango, tea):
        await receive(runtime, stores["SH-A"].id, variant, 20)
    return mango, tea


async def _template(admin: Api, **fields: Any) -> str:
    base = {"validDays": 30, "totalQuantity": 100, "perMemberLimit": 5}
    payload = (await admin.data(CREATE, {"i": {**base, **fields}}))["createCouponTemplate"]
    assert payload["errors"] == [], payload
    template_id: str = payload["template"]["id"]
    return template_id


async def _claim(who: Shopper, template_id: str) -> str:
    payload = (await who.api.data(CLAIM, {"t": template_id}))["claimCoupon"]
    assert payload["errors"] == [], payload
    coupon_id: str = payload["coupon"]["id"]
    return coupon_id


async def _statuses(who: Shopper) -> dict[str, str]:
    found: dict[str, str] = {}
    for view in ("AVAILABLE", "USED", "EXPIRED"):
        nodes = (await who.api.data(ALL_MINE, {"s": view}))["me"]["coupons"]["nodes"]
        found.update({x["id"]: x["status"] for x in nodes})
    return found


def _cart(
    stores: dict[str, Any], goods: tuple[Variant, Variant], *coupons: str, **extra: Any
) -> dict[str, Any]:
    mango, tea = goods
    cart = order_input([(mango, 2), (tea, 1)], pickup=lid(stores, "SH-A"))
    return {**cart, "couponIds": list(coupons), **extra}


async def _quote(caller: Api, cart: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = (await caller.data(QUOTE, {"input": cart}))["checkoutQuote"]
    return payload


async def _place(caller: Api, cart: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = (await caller.data(PLACE, {"input": cart}))["placeOrder"]
    return payload


def _money(priced: dict[str, Any]) -> dict[str, Any]:
    keys = ("subtotal", "memberSavings", "couponDiscount", "total", "pointsDiscount", "amountDue")
    return {
        **{k: priced[k]["amount"] for k in keys},
        "lines": [
            (x["sku"], x["quantity"], x["total"]["amount"], x["couponDiscount"]["amount"])
            for x in priced["lines"]
        ],
    }


async def _wallet(admin: Api, who: Shopper) -> dict[str, str]:
    """Four coupons: ¥20 off from ¥99, 10 % off at most ¥5, ¥50 off from ¥300 (short), and
    ¥8 off at the till only."""
    return {
        "20-off-99": await _claim(
            who, await _template(admin, name="满99减20", kind="AMOUNT_OFF", amountOff=2000,
                                 threshold=9900)
        ),
        "10-percent": await _claim(
            who, await _template(admin, name="9折", kind="PERCENT_OFF",
                                 percentOffBasisPoints=1000, maxDiscount=500,
                                 stackableWithCoupons=True, stackableWithPoints=False)
        ),
        "50-off-300": await _claim(
            who, await _template(admin, name="满300减50", kind="AMOUNT_OFF", amountOff=5000,
                                 threshold=30000)
        ),
        "till-8": await _claim(
            who, await _template(admin, name="门店8元", kind="NO_THRESHOLD", amountOff=800,
                                 scope={"channels": ["POS"]})
        ),
    }  # fmt: skip


async def test_the_quote_offers_every_coupon_best_first_and_the_order_repeats_it(
    client: httpx.AsyncClient,
    api: Api,
    admin: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    goods: tuple[Variant, Variant],
) -> None:
    member = await shopper(api, "coupon-buyer")
    wallet = await _wallet(admin, member)

    offered = await _quote(member.api, _cart(stores, goods))
    assert offered["errors"] == []
    options = offered["quote"]["couponOptions"]
    assert [(x["coupon"]["id"], x["discount"]["amount"], x["applies"]) for x in options[:2]] == [
        (wallet["20-off-99"], 2000, True),
        (wallet["10-percent"], 500, True),  # 10 % of ¥110 is ¥11: capped at ¥5
    ]
    assert {x["coupon"]["id"]: (x["applies"], x["reason"]) for x in options[2:]} == {
        wallet["50-off-300"]: (False, "Add ¥190.00 more of the items it covers."),
        wallet["till-8"]: (False, "Only for orders through POS."),
    }
    assert offered["quote"]["coupons"] == [] and offered["quote"]["couponDiscount"]["amount"] == 0

    cart = _cart(stores, goods, wallet["20-off-99"])
    quoted = (await _quote(member.api, cart))["quote"]
    # ¥20 over the lines in proportion: 10000 : 1000 → 1818 and 182 (largest remainder).
    assert _money(quoted) == {
        "subtotal": 11000,
        "memberSavings": 0,
        "couponDiscount": 2000,
        "total": 9000,
        "pointsDiscount": 0,
        "amountDue": 9000,
        "lines": [("MANGO", 2, 10000, 1818), ("TEA", 1, 1000, 182)],
    }
    assert [x["coupon"]["id"] for x in quoted["coupons"]] == [wallet["20-off-99"]]

    placed = await _place(member.api, cart)
    assert placed["errors"] == [], placed
    order = placed["order"]
    assert _money(order) == _money(quoted)
    statuses = await _statuses(member)
    assert statuses[wallet["20-off-99"]] == "HELD"  # listed as available while unpaid
    again = (await _quote(member.api, _cart(stores, goods)))["quote"]["couponOptions"]
    assert wallet["20-off-99"] not in [x["coupon"]["id"] for x in again]  # held: not offered

    await pay_online(client, runtime, member, order)
    assert (await _statuses(member))[wallet["20-off-99"]] == "USED"
    used = (await member.api.data(ALL_MINE, {"s": "USED"}))["me"]["coupons"]["nodes"]
    assert [x["id"] for x in used] == [wallet["20-off-99"]]


async def test_coupons_that_combine_apply_one_after_another_and_never_with_points_unless_allowed(
    api: Api, admin: Api, runtime: Runtime, stores: dict[str, Any], goods: tuple[Variant, Variant]
) -> None:
    member = await shopper(api, "coupon-stacker")
    await earn(runtime, member.key, 5000)
    stacking = await _template(
        admin, name="叠加满50减10", kind="AMOUNT_OFF", amountOff=1000, threshold=5000,
        stackableWithCoupons=True,
    )  # fmt: skip
    ten_off, wallet = await _claim(member, stacking), await _wallet(admin, member)
    # 10 % (capped at ¥5) of ¥110, then ¥10 off the ¥105 left.
    both = _cart(stores, goods, wallet["10-percent"], ten_off)
    quoted = (await _quote(member.api, both))["quote"]
    assert [x["discount"]["amount"] for x in quoted["coupons"]] == [500, 1000]
    assert (quoted["total"]["amount"], quoted["maxPointsRedeemable"]) == (9500, 0)
    refused = await _quote(member.api, {**both, "pointsToRedeem": 100})
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [
        ("COUPON_UNAVAILABLE", ["pointsToRedeem"])
    ]
    # A coupon that stacks with points: the cap applies to what is left after it.
    with_points = _cart(stores, goods, ten_off, pointsToRedeem=4000)
    placed = await _place(member.api, with_points)
    assert placed["errors"] == [], placed
    assert _money(placed["order"])["couponDiscount"] == 1000
    assert (placed["order"]["pointsDiscount"], placed["order"]["amountDue"]) == (
        {"amount": 4000},
        {"amount": 11000 - 1000 - 4000},
    )


async def test_bad_coupons_are_refused_with_a_code_and_change_nothing(
    api: Api,
    admin: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    goods: tuple[Variant, Variant],
    manager_a: Api,
) -> None:
    member, other = await shopper(api, "coupon-owner"), await shopper(api, "coupon-other")
    wallet, theirs = await _wallet(admin, member), await _wallet(admin, other)
    mango, tea = goods
    before = [await level(runtime, stores["SH-A"].id, v) for v in goods]
    cases: list[tuple[Api, dict[str, Any], str, list[str] | None]] = [
        (member.api, _cart(stores, goods, theirs["20-off-99"]), "COUPON_UNAVAILABLE",
         ["couponIds", "0"]),
        (member.api, _cart(stores, goods, wallet["50-off-300"]), "COUPON_UNAVAILABLE",
         ["couponIds", "0"]),
        (member.api, _cart(stores, goods, wallet["till-8"]), "COUPON_UNAVAILABLE",
         ["couponIds", "0"]),
        (member.api, _cart(stores, goods, wallet["20-off-99"], wallet["10-percent"]),
         "COUPON_UNAVAILABLE", ["couponIds"]),
        (member.api, _cart(stores, goods, wallet["20-off-99"], wallet["20-off-99"]),
         "INVALID_INPUT", ["couponIds"]),
        (member.api, _cart(stores, goods, "not-an-id"), "INVALID_ID", ["couponIds", "0"]),
        # Staff with the member's id but not the member code: not the member's consent.
        (manager_a, _cart(stores, goods, wallet["20-off-99"], channel="POS",
                          memberId=member.id), "FORBIDDEN", ["couponIds"]),
        (api, _cart(stores, goods, wallet["20-off-99"]), "FORBIDDEN", ["couponIds"]),
    ]  # fmt: skip
    for caller, cart, code, field in cases:
        quoted = await _quote(caller, cart)
        assert [(e["code"], e["field"]) for e in quoted["errors"]] == [(code, field)], cart
        if caller is api:
            continue  # not signed in: quoted, never placed
        placed = await _place(caller, cart)
        assert placed["order"] is None
        assert [(e["code"], e["field"]) for e in placed["errors"]] == [(code, field)], placed
    shortfall = (await _place(member.api, _cart(stores, goods, wallet["50-off-300"])))["errors"]
    assert shortfall[0]["message"] == "Add ¥190.00 more of the items it covers."
    assert set((await _statuses(member)).values()) == {"AVAILABLE"}
    assert [await level(runtime, stores["SH-A"].id, v) for v in (mango, tea)] == before


async def test_a_cancelled_or_timed_out_order_gives_its_coupon_back_while_valid(
    api: Api,
    admin: Api,
    runtime: Runtime,
    clock: MovableClock,
    stores: dict[str, Any],
    goods: tuple[Variant, Variant],
) -> None:
    member = await shopper(api, "coupon-canceller")
    coupon = await _claim(
        member,
        await _template(admin, name="无门槛5元", kind="NO_THRESHOLD", amountOff=500, validDays=1),
    )
    first = await _place(member.api, _cart(stores, goods, coupon))
    assert first["errors"] == []
    assert (await _statuses(member))[coupon] == "HELD"
    cancelled = await member.api.data(CANCEL, {"o": first["order"]["id"], "r": "changed mind"})
    assert cancelled["cancelOrder"]["errors"] == []
    assert (await _statuses(member))[coupon] == "AVAILABLE"

    second = await _place(member.api, _cart(stores, goods, coupon))
    assert second["errors"] == []
    clock.advance(timedelta(minutes=20))  # past the payment deadline, the coupon still valid
    job = find_job("cancel_unpaid_orders")
    assert job is not None and await run_job(runtime, job) == 1
    member = await shopper(api, "coupon-canceller")  # signed in again: tokens live 15 minutes
    assert (await _statuses(member))[coupon] == "AVAILABLE"

    third = await _place(member.api, _cart(stores, goods, coupon))
    assert third["errors"] == []
    clock.advance(timedelta(days=2))  # the coupon ended while the order held it
    assert await run_job(runtime, job) == 1
    stored = await CouponRow.get(id=decode_id(coupon, "Coupon"))  # the token expired too
    assert (stored.status.value, stored.order_id, stored.discount) == ("EXPIRED", None, 0)


async def test_a_line_refund_leaves_out_its_coupon_share_and_a_full_refund_returns_the_coupon(
    client: httpx.AsyncClient,
    api: Api,
    admin: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    goods: tuple[Variant, Variant],
) -> None:
    member = await shopper(api, "coupon-returner")
    clerk = await staff_api(api, runtime, "coupon-clerk", StaffRole.STORE_CLERK, [stores["SH-A"]])
    cs = await staff_api(api, runtime, "coupon-cs", StaffRole.CS_AGENT, [])
    coupon = await _claim(
        member,
        await _template(admin, name="满99减20", kind="AMOUNT_OFF", amountOff=2000, threshold=9900),
    )
    placed = await _place(member.api, _cart(stores, goods, coupon))
    order = placed["order"]
    await pay_online(client, runtime, member, order)
    for step, status in (
        ("startPreparingOrder", "PREPARING"),
        ("markOrderReadyForPickup", "READY_FOR_PICKUP"),
    ):
        assert await stepped(clerk, step, order["id"]) == status  # fmt: skip
    code = (await pickup_of(member, order))["code"]
    assert (await complete(clerk, stores, code))["order"]["status"] == "PICKED_UP"
    assert (await _statuses(member))[coupon] == "USED"

    mango_line, tea_line = await line_ids(member.api, order)
    one = await asked(member.api, request_input(order, [(mango_line, 1)], "REFUND_ONLY"))
    refunded = (await approve(cs, one))["afterSale"]
    # Two mangoes cost 10000 less their 1818 of the coupon: one is refunded 4091.
    assert [x["refundAmount"] for x in refunded["lines"]] == [4091]
    assert (await _statuses(member))[coupon] == "USED"  # part of the order is still kept
    rest = await asked(
        member.api, request_input(order, [(mango_line, 1), (tea_line, 1)], "REFUND_ONLY")
    )
    last = (await approve(cs, rest))["afterSale"]
    assert sorted(x["refundAmount"] for x in last["lines"]) == [818, 4091]
    assert order["total"]["amount"] == 4091 + 4091 + 818  # every fen paid, and no more
    assert (await _statuses(member))[coupon] == "AVAILABLE"  # fully refunded: back, still valid


async def test_a_retried_order_keeps_its_one_hold_and_two_orders_racing_for_a_coupon_get_one(
    api: Api, admin: Api, runtime: Runtime, stores: dict[str, Any], goods: tuple[Variant, Variant]
) -> None:
    member = await shopper(api, "coupon-racer")
    coupon = await _claim(
        member,
        await _template(admin, name="无门槛5元", kind="NO_THRESHOLD", amountOff=500),
    )
    keyed = _cart(stores, goods, coupon, idempotencyKey="coupon-retry-1")
    first, retried = await _place(member.api, keyed), await _place(member.api, keyed)
    assert first["errors"] == [] and retried["errors"] == []
    assert retried["order"]["id"] == first["order"]["id"]
    cancelled = await member.api.data(CANCEL, {"o": first["order"]["id"], "r": "racing next"})
    assert cancelled["cancelOrder"]["errors"] == []

    mango, _ = goods
    before = await level(runtime, stores["SH-A"].id, mango)
    results = await asyncio.gather(
        *(_place(member.api, _cart(stores, goods, coupon)) for _ in range(6))
    )
    won = [r for r in results if r["order"] is not None]
    lost = [r for r in results if r["order"] is None]
    assert len(won) == 1, results
    assert {e["code"] for r in lost for e in r["errors"]} == {"COUPON_UNAVAILABLE"}
    on_hand, reserved = await level(runtime, stores["SH-A"].id, mango)
    assert (on_hand, reserved) == (before[0], before[1] + 2)  # one order's stock held
    assert (await _statuses(member))[coupon] == "HELD"


SHIPS = """mutation($input: LocationUpdateInput!) { locationUpdate(input: $input) {
  location { shipsOnline } errors { code } } }"""


async def test_a_delivery_holds_its_coupon_and_a_second_delivery_with_it_is_refused(
    api: Api, admin: Api, runtime: Runtime, stores: dict[str, Any], goods: tuple[Variant, Variant]
) -> None:
    mango, tea = goods
    shipped = await admin.data(SHIPS, {"input": {"id": lid(stores, "SH-B"), "shipsOnline": True}})
    assert shipped["locationUpdate"]["errors"] == []
    for variant in goods:
        await receive(runtime, stores["SH-B"].id, variant, 10)
    member = await shopper(api, "coupon-delivery")
    coupon = await _claim(
        member, await _template(admin, name="满99减20", kind="AMOUNT_OFF", amountOff=2000,
                                threshold=9900)
    )  # fmt: skip
    near = {"address": "88 Nanjing Road, Shanghai", "latitude": 31.2350, "longitude": 121.4750}
    cart = {**order_input([(mango, 2), (tea, 1)], delivery=near), "couponIds": [coupon]}

    first = await _place(member.api, cart)
    assert first["errors"] == []
    assert first["order"]["couponDiscount"]["amount"] == 2000
    row = await CouponRow.get(id=decode_id(coupon, "Coupon"))
    assert (row.status, str(row.order_id)) == (
        "HELD",
        str(decode_id(first["order"]["id"], "Order")),
    )

    stock = await level(runtime, stores["SH-B"].id, mango)
    second = await _place(member.api, cart)
    assert second["order"] is None
    assert [(e["code"], e["field"]) for e in second["errors"]] == [
        ("COUPON_UNAVAILABLE", ["couponIds", "0"])
    ]
    assert await level(runtime, stores["SH-B"].id, mango) == stock  # nothing reserved
