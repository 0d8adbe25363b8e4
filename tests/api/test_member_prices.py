"""Member prices (会员价) and the checkout quote over the API (issue 17, part 2): each caller
sees their own tier's price, also through the whole-result cache; the quote prices a cart as
placeOrder does (the placed order repeats every number of the quote) and writes nothing."""

from __future__ import annotations

from typing import Any

from graphql import parse

from api.response_cache import reads_only_catalog
from api.schema import build_schema
from domain.catalog.model import Variant
from infra.runtime import Runtime
from tests.support import count_sql
from tests.support.api import Api
from tests.support.orders import level, lid, make_variants, order_input, receive, vid
from tests.support.points import numbers, purchase
from tests.support.shoppers import Shopper, shopper

SET = """mutation($v: ID!, $t: String!, $p: Int!) {
  setMemberPrice(input: {variantId: $v, tier: $t, price: $p}) {
    variantId memberPrice { tier price { amount } } errors { code field message } } }"""
REMOVE = """mutation($v: ID!, $t: String!) {
  removeMemberPrice(input: {variantId: $v, tier: $t}) { ok errors { code field } } }"""
PRICES = """query($id: ID!) { variant(id: $id) { code price { amount } yourPrice { amount }
  memberPrices { tier price { amount } } } }"""
LIST_ONLY = "query($id: ID!) { variant(id: $id) { code price { amount } } }"

MONEY = "{ amount }"
QUOTE = f"""query($input: PlaceOrderInput!) {{ checkoutQuote(input: $input) {{
  quote {{ tier subtotal {MONEY} memberSavings {MONEY} total {MONEY} maxPointsRedeemable
    pointsToRedeem pointsDiscount {MONEY} amountDue {MONEY}
    lines {{ variantId sku quantity listPrice {MONEY} unitPrice {MONEY} saving {MONEY}
      total {MONEY} }} }}
  errors {{ code field message }} }} }}"""
PLACE = f"""mutation($input: PlaceOrderInput!) {{ placeOrder(input: $input) {{
  order {{ id subtotal {MONEY} memberSavings {MONEY} total {MONEY} pointsRedeemed
    pointsDiscount {MONEY} amountDue {MONEY}
    lines {{ variant {{ id }} sku quantity listPrice {MONEY} unitPrice {MONEY}
      memberSaving {MONEY} total {MONEY} }} }}
  errors {{ code field message }} }} }}"""

SILVER_SPEND = 120_000  # fen of growth: SILVER from 1,000 yuan
GOLD_SPEND = 600_000  # GOLD from 5,000 yuan


async def _tiered(api: Api, runtime: Runtime, openid: str, spend: int) -> Shopper:
    member = await shopper(api, openid)
    if spend:
        await purchase(runtime, member.key, spend, f"growth-{openid}")
    return member


async def _mango(runtime: Runtime, admin: Api) -> tuple[Variant, Variant]:
    """Two variants; the first has GOLD and SILVER prices, the second a GOLD one only."""
    big, small = await make_variants(runtime, ("M-1", "1kg", 1990), ("M-2", "500g", 1090))
    for variant, tier, price in ((big, "GOLD", 1590), (big, "SILVER", 1790), (small, "GOLD", 990)):
        payload = (await admin.data(SET, {"v": vid(variant), "t": tier, "p": price}))[
            "setMemberPrice"
        ]
        assert payload["errors"] == [], payload
        assert payload["memberPrice"] == {"tier": tier, "price": {"amount": price}}
    return big, small


async def _your_price(caller: Api, variant: Variant) -> int:
    found: int = (await caller.data(PRICES, {"id": vid(variant)}))["variant"]["yourPrice"]["amount"]
    return found


async def test_each_caller_sees_their_own_price_through_the_result_cache(
    api: Api, admin: Api, runtime: Runtime
) -> None:
    big, _ = await _mango(runtime, admin)
    gold = await _tiered(api, runtime, "gold-1", GOLD_SPEND)
    silver = await _tiered(api, runtime, "silver-1", SILVER_SPEND)
    plain = await _tiered(api, runtime, "plain-1", 0)  # the first tier: MEMBER, no price

    # The same document, in turns, twice: a result kept for one caller would show the next.
    for _ in range(2):
        assert await _your_price(api, big) == 1990
        assert await _your_price(gold.api, big) == 1590
        assert await _your_price(silver.api, big) == 1790
        assert await _your_price(plain.api, big) == 1990
    shown = (await gold.api.data(PRICES, {"id": vid(big)}))["variant"]
    assert shown["price"] == {"amount": 1990}  # `price` stays the list price for everyone
    assert shown["memberPrices"] == [
        {"tier": "GOLD", "price": {"amount": 1590}},
        {"tier": "SILVER", "price": {"amount": 1790}},
    ]
    # The whole-result cache keeps list-only documents; one asking for a caller's price runs.
    schema = build_schema()._schema
    assert reads_only_catalog(schema, parse(LIST_ONLY), None)
    assert not reads_only_catalog(schema, parse(PRICES), None)

    # A changed price shows at once (nothing kept it).
    assert (await admin.data(REMOVE, {"v": vid(big), "t": "GOLD"}))["removeMemberPrice"] == {
        "ok": True,
        "errors": [],
    }
    assert await _your_price(gold.api, big) == 1990
    await admin.data(SET, {"v": vid(big), "t": "SILVER", "p": 2500})  # above the list price
    assert await _your_price(silver.api, big) == 1990  # the lower of the two is charged


async def test_bad_member_prices_are_refused_with_codes_and_change_nothing(
    api: Api, admin: Api, runtime: Runtime
) -> None:
    big, _ = await _mango(runtime, admin)
    before = (await admin.data(PRICES, {"id": vid(big)}))["variant"]["memberPrices"]
    for variables, code, field in (
        ({"v": vid(big), "t": "PLATINUM", "p": 100}, "UNKNOWN_TIER", ["tier"]),
        ({"v": vid(big), "t": "GOLD", "p": -1}, "INVALID_PRICE", ["price"]),
        ({"v": "not-an-id", "t": "GOLD", "p": 100}, "INVALID_ID", ["variantId"]),
    ):
        payload = (await admin.data(SET, variables))["setMemberPrice"]
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)]
        assert payload["memberPrice"] is None
    removed = (await admin.data(REMOVE, {"v": vid(big), "t": "DIAMOND"}))["removeMemberPrice"]
    assert removed == {"ok": False, "errors": [{"code": "NOT_FOUND", "field": None}]}
    assert (await admin.data(PRICES, {"id": vid(big)}))["variant"]["memberPrices"] == before


def _numbers(priced: dict[str, Any]) -> dict[str, Any]:
    """The money of a quote or an order, in one shape."""
    return {
        "subtotal": priced["subtotal"]["amount"],
        "memberSavings": priced["memberSavings"]["amount"],
        "total": priced["total"]["amount"],
        "pointsDiscount": priced["pointsDiscount"]["amount"],
        "amountDue": priced["amountDue"]["amount"],
        "lines": sorted(
            (
                line["sku"],
                line["quantity"],
                line["listPrice"]["amount"],
                line["unitPrice"]["amount"],
                line.get("saving", line.get("memberSaving"))["amount"],
                line["total"]["amount"],
            )
            for line in priced["lines"]
        ),
    }


async def test_the_placed_order_repeats_every_number_of_its_quote(
    api: Api, admin: Api, runtime: Runtime, stores: dict[str, Any]
) -> None:
    big, small = await _mango(runtime, admin)
    for variant in (big, small):
        await receive(runtime, stores["SH-A"].id, variant, 10)
    gold = await _tiered(api, runtime, "gold-2", GOLD_SPEND)
    cart = order_input([(big, 2), (small, 3)], pickup=lid(stores, "SH-A"))

    quote = (await gold.api.data(QUOTE, {"input": cart}))["checkoutQuote"]
    assert quote["errors"] == []
    quoted = quote["quote"]
    assert quoted["tier"] == "GOLD"
    # 2 x 19.90 + 3 x 10.90 at list; 2 x 15.90 + 3 x 9.90 to pay.
    assert _numbers(quoted) == {
        "subtotal": 7250,
        "memberSavings": 1100,
        "total": 6150,
        "pointsDiscount": 0,
        "amountDue": 6150,
        "lines": [("M-1", 2, 1990, 1590, 800, 3180), ("M-2", 3, 1090, 990, 300, 2970)],
    }
    # Points pay at most half: 3,075 fen, 3,075 points (100 a yuan); the member has more.
    assert quoted["maxPointsRedeemable"] == 3075
    assert (await numbers(runtime, gold.key))[2] > 3075

    cart["pointsToRedeem"] = 1234
    with_points = (await gold.api.data(QUOTE, {"input": cart}))["checkoutQuote"]["quote"]
    assert (with_points["pointsToRedeem"], with_points["pointsDiscount"]) == (
        1234,
        {"amount": 1234},
    )
    assert with_points["amountDue"] == {"amount": 6150 - 1234}

    order = (await gold.api.data(PLACE, {"input": cart}))["placeOrder"]
    assert order["errors"] == []
    assert _numbers(order["order"]) == _numbers(with_points)
    assert order["order"]["pointsRedeemed"] == with_points["pointsToRedeem"]

    # One point over the cap: the quote and the order refuse it with the same code.
    cart["pointsToRedeem"] = 3076
    refused_quote = (await gold.api.data(QUOTE, {"input": cart}))["checkoutQuote"]
    refused_order = (await gold.api.data(PLACE, {"input": cart}))["placeOrder"]
    assert [e["code"] for e in refused_quote["errors"]] == ["POINTS_CAP_EXCEEDED"]
    assert [(e["code"], e["field"], e["message"]) for e in refused_order["errors"]] == [
        (e["code"], e["field"], e["message"]) for e in refused_quote["errors"]
    ]


async def test_anonymous_shoppers_and_walk_ins_are_quoted_list_prices(
    api: Api, admin: Api, runtime: Runtime, stores: dict[str, Any], manager_a: Api
) -> None:
    big, _ = await _mango(runtime, admin)
    gold = await _tiered(api, runtime, "gold-3", GOLD_SPEND)
    cart = order_input([(big, 1)], pickup=lid(stores, "SH-A"), channel="POS")
    for caller in (api, manager_a):
        quoted = (await caller.data(QUOTE, {"input": cart}))["checkoutQuote"]["quote"]
        assert (quoted["tier"], quoted["amountDue"], quoted["maxPointsRedeemable"]) == (
            None,
            {"amount": 1990},
            0,
        )
    # The till names the member: the member's tier prices the cart.
    quoted = await manager_a.data(QUOTE, {"input": {**cart, "memberId": gold.id}})
    assert quoted["checkoutQuote"]["quote"]["amountDue"] == {"amount": 1590}
    # Without a sign-in, nobody's prices or points.
    refused = (await api.data(QUOTE, {"input": {**cart, "memberId": gold.id}}))["checkoutQuote"]
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("FORBIDDEN", ["memberId"])]


async def test_a_quote_writes_nothing_in_a_bounded_number_of_reads(
    api: Api, admin: Api, runtime: Runtime, stores: dict[str, Any]
) -> None:
    variants = await make_variants(runtime, *((f"Q-{n}", f"{n}", 1000 + n) for n in range(12)))
    for variant in variants:
        await admin.data(SET, {"v": vid(variant), "t": "GOLD", "p": 900})
        await receive(runtime, stores["SH-A"].id, variant, 5)
    gold = await _tiered(api, runtime, "gold-4", GOLD_SPEND)
    points_before = await numbers(runtime, gold.key)
    stock_before = [await level(runtime, stores["SH-A"].id, v) for v in variants]

    async def quote(count: int) -> list[str]:
        cart = order_input([(v, 2) for v in variants[:count]], pickup=lid(stores, "SH-A"))
        cart["pointsToRedeem"] = 100
        with count_sql() as statements:
            payload = (await gold.api.data(QUOTE, {"input": cart}))["checkoutQuote"]
        assert payload["errors"] == [] and payload["quote"]["amountDue"]["amount"] == (
            count * 2 * 900 - 100
        )
        return statements

    one, twelve = await quote(1), await quote(12)
    # The sign-in session, the variants with their products, the live flash sales, the
    # account, the member prices, the member's coupons (none: no templates to read).
    assert len(one) == len(twelve) == 6, twelve
    assert not [s for s in twelve if not s.lstrip().upper().startswith(("SELECT", "WITH"))]
    assert await numbers(runtime, gold.key) == points_before  # nothing held
    assert [await level(runtime, stores["SH-A"].id, v) for v in variants] == stock_before
