"""Flash sales over GraphQL (issue 17, part 3), on PostgreSQL and SQLite: ADMIN creates, changes
and cancels them with typed refusals; during a sale placeOrder at a covered store (or online)
sells at the sale price, refuses past the units offered and past a member's limit, and a
cancelled or timed-out order gives its units back. Concurrency: tests/integration/
test_flash_sale_concurrency.py."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from api.relay import encode_id
from domain.catalog.model import Variant
from domain.identity.model import StaffRole
from domain.inventory.reservations import sweep_expired
from domain.ordering.lifecycle import cancel_unpaid
from infra.runtime import Runtime
from tests.support import MovableClock, count_sql
from tests.support.api import Api, staff_api
from tests.support.orders import (
    CANCEL,
    level,
    lid,
    make_variants,
    order_input,
    place,
    placed,
    receive,
    vid,
)
from tests.support.payloads import codes, refusal, top_level_codes
from tests.support.shoppers import Shopper, shopper

SALE = """id price { amount } startsAt endsAt unitsOffered unitsSold unitsLeft perMemberLimit
  online locationIds phase cancelReason variant { code }"""
CREATE = f"""mutation($input: CreateFlashSaleInput!) {{ createFlashSale(input: $input) {{
  flashSale {{ {SALE} }} errors {{ code field message }} }} }}"""
UPDATE = f"""mutation($input: UpdateFlashSaleInput!) {{ updateFlashSale(input: $input) {{
  flashSale {{ {SALE} }} errors {{ code field message }} }} }}"""
CANCEL_SALE = f"""mutation($input: CancelFlashSaleInput!) {{ cancelFlashSale(input: $input) {{
  flashSale {{ {SALE} }} errors {{ code field message }} }} }}"""
LIST = f"query($a: Boolean) {{ flashSales(active: $a) {{ {SALE} }} }}"
VARIANT = """query($id: ID!) { variant(id: $id) { code price { amount }
  flashSale { price { amount } unitsLeft phase } } }"""


@pytest.fixture
async def mango(runtime: Runtime, stores: dict[str, Any]) -> Variant:
    """Mango 1kg at 19.90, 50 on the shelf of SH-A and of SH-B."""
    [variant] = await make_variants(runtime, ("M-1", "1kg", 1990))
    await receive(runtime, stores["SH-A"].id, variant, 50)
    await receive(runtime, stores["SH-B"].id, variant, 50)
    return variant


def terms(
    runtime: Runtime,
    stores: dict[str, Any],
    *,
    price: int = 990,
    units: int = 5,
    limit: int = 2,
    where: tuple[str, ...] = ("SH-A",),
    online: bool = False,
    starts_in: timedelta = timedelta(0),
    lasts: timedelta = timedelta(hours=1),
) -> dict[str, Any]:
    starts = runtime.clock.now() + starts_in
    return {
        "price": price,
        "startsAt": starts.isoformat(),
        "endsAt": (starts + lasts).isoformat(),
        "unitsOffered": units,
        "perMemberLimit": limit,
        "locationIds": [lid(stores, code) for code in where],
        "online": online,
    }


async def create(admin: Api, variant: Variant, sale_terms: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = (
        await admin.data(CREATE, {"input": {"variantId": vid(variant), "terms": sale_terms}})
    )["createFlashSale"]
    return payload


async def created(admin: Api, variant: Variant, sale_terms: dict[str, Any]) -> dict[str, Any]:
    payload = await create(admin, variant, sale_terms)
    assert payload["errors"] == [], payload
    sale: dict[str, Any] = payload["flashSale"]
    return sale


async def buy(who: Shopper, stores: dict[str, Any], variant: Variant, quantity: int = 1) -> Any:
    return await place(
        who.api, order_input([(variant, quantity)], pickup=lid(stores, "SH-A"), member_id=who.id)
    )


# ---------------------------------------------------------------- ADMIN


async def test_admin_creates_a_flash_sale_that_the_variant_and_the_list_show(
    admin: Api, api: Api, runtime: Runtime, stores: dict[str, Any], mango: Variant
) -> None:
    sale = await created(admin, mango, terms(runtime, stores, units=5, limit=2))
    assert (sale["price"], sale["unitsOffered"], sale["unitsSold"], sale["unitsLeft"]) == (
        {"amount": 990},
        5,
        0,
        5,
    )
    assert (sale["phase"], sale["variant"], sale["locationIds"]) == (
        "LIVE",
        {"code": "M-1"},
        [lid(stores, "SH-A")],
    )
    seen = (await api.data(VARIANT, {"id": vid(mango)}))["variant"]  # anonymous
    assert seen["flashSale"] == {"price": {"amount": 990}, "unitsLeft": 5, "phase": "LIVE"}
    assert [s["id"] for s in (await api.data(LIST, {"a": True}))["flashSales"]] == [sale["id"]]
    assert (await api.data(LIST, {"a": False}))["flashSales"] == []


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"price": 1990}, "INVALID_PRICE", ["price"]),
        ({"price": -1}, "INVALID_PRICE", ["price"]),
        ({"lasts": timedelta(0)}, "INVALID_WINDOW", ["endsAt"]),
        ({"starts_in": -timedelta(hours=2)}, "INVALID_WINDOW", ["endsAt"]),
        ({"units": 0}, "INVALID_INPUT", ["unitsOffered"]),
        ({"limit": 6}, "INVALID_INPUT", ["perMemberLimit"]),
        ({"where": ()}, "INVALID_INPUT", ["locationIds"]),
    ],
)
async def test_bad_terms_are_refused_with_a_code_and_change_nothing(
    admin: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    mango: Variant,
    change: dict[str, Any],
    code: str,
    field: list[str],
) -> None:
    payload = await create(admin, mango, terms(runtime, stores, **change))
    assert (payload["flashSale"], [(e["code"], e["field"]) for e in payload["errors"]]) == (
        None,
        [(code, field)],
    )
    assert (await admin.data(LIST))["flashSales"] == []


async def test_unknown_variant_store_and_an_overlapping_sale_are_refused(
    admin: Api, runtime: Runtime, stores: dict[str, Any], mango: Variant
) -> None:
    ghost = await create(admin, mango, {**terms(runtime, stores), "locationIds": []})
    assert codes(ghost) == ["INVALID_INPUT"]
    unknown_store = {**terms(runtime, stores), "locationIds": [encode_id("Location", mango.id)]}
    assert codes(await create(admin, mango, unknown_store)) == ["NOT_FOUND"]
    await created(admin, mango, terms(runtime, stores, where=("SH-A",)))
    overlap = await create(admin, mango, terms(runtime, stores, where=("SH-A", "SH-B")))
    assert [(e["code"], e["field"]) for e in overlap["errors"]] == [
        ("FLASH_SALE_OVERLAP", ["startsAt"])
    ]
    # Another store at the same time is another sale.
    await created(admin, mango, terms(runtime, stores, where=("SH-B",)))


async def test_a_retried_create_with_the_same_key_makes_one_sale(
    admin: Api, runtime: Runtime, stores: dict[str, Any], mango: Variant
) -> None:
    request = {"variantId": vid(mango), "terms": terms(runtime, stores), "idempotencyKey": "fs-1"}
    first = (await admin.data(CREATE, {"input": request}))["createFlashSale"]
    again = (await admin.data(CREATE, {"input": request}))["createFlashSale"]
    assert first["flashSale"]["id"] == again["flashSale"]["id"]
    assert len((await admin.data(LIST))["flashSales"]) == 1


async def test_admin_changes_and_cancels_a_sale_and_nobody_else_may(
    admin: Api,
    api: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    sale = await created(admin, mango, terms(runtime, stores))
    member = await shopper(api, "fs-not-admin")
    denied = await member.api(
        CREATE, {"input": {"variantId": vid(mango), "terms": terms(runtime, stores)}}
    )
    assert top_level_codes(denied) == ["FORBIDDEN"]

    new_terms = terms(runtime, stores, price=890, units=8, limit=3, online=True)
    changed = (await admin.data(UPDATE, {"input": {"id": sale["id"], "terms": new_terms}}))[
        "updateFlashSale"
    ]
    assert changed["errors"] == []
    assert (changed["flashSale"]["price"]["amount"], changed["flashSale"]["online"]) == (890, True)

    cancelled = (await admin.data(CANCEL_SALE, {"input": {"id": sale["id"], "reason": "stop"}}))[
        "cancelFlashSale"
    ]
    assert (cancelled["flashSale"]["phase"], cancelled["flashSale"]["cancelReason"]) == (
        "CANCELLED",
        "stop",
    )
    again = (await admin.data(UPDATE, {"input": {"id": sale["id"], "terms": new_terms}}))[
        "updateFlashSale"
    ]
    assert codes(again) == ["FLASH_SALE_ENDED"]
    assert (await api.data(VARIANT, {"id": vid(mango)}))["variant"]["flashSale"] is None


# ---------------------------------------------------------------- buying


async def test_during_the_sale_a_member_buys_at_the_sale_price_up_to_the_limit(
    admin: Api, api: Api, runtime: Runtime, stores: dict[str, Any], mango: Variant
) -> None:
    await created(admin, mango, terms(runtime, stores, units=3, limit=2))
    ann, bob = await shopper(api, "fs-ann"), await shopper(api, "fs-bob")
    first = await buy(ann, stores, mango, 2)
    assert first["errors"] == []
    line = first["order"]["lines"][0]
    assert (line["unitPrice"]["amount"], first["order"]["total"]["amount"]) == (990, 1980)

    assert refusal(await buy(ann, stores, mango, 1)) == (
        "FLASH_SALE_LIMIT_REACHED",
        ["lines", "0", "quantity"],
    )
    assert refusal(await buy(bob, stores, mango, 2)) == (
        "FLASH_SALE_SOLD_OUT",
        ["lines", "0", "quantity"],
    )
    assert (await buy(bob, stores, mango, 1))["errors"] == []
    assert refusal(await buy(bob, stores, mango, 1))[0] == "FLASH_SALE_SOLD_OUT"
    # Refusals reserved nothing: 3 units held of 50.
    assert await level(runtime, stores["SH-A"].id, mango) == (50, 3)
    sale = (await api.data(LIST))["flashSales"][0]
    assert (sale["unitsSold"], sale["unitsLeft"]) == (3, 0)


async def test_uncovered_places_times_and_walk_ins(
    admin: Api,
    api: Api,
    runtime: Runtime,
    clock: MovableClock,
    stores: dict[str, Any],
    mango: Variant,
    clerk_a: Api,
) -> None:
    await created(
        admin,
        mango,
        terms(runtime, stores, starts_in=timedelta(minutes=10), lasts=timedelta(hours=1)),
    )
    ann = await shopper(api, "fs-ann-2")
    early = await buy(ann, stores, mango, 1)
    assert early["order"]["lines"][0]["unitPrice"]["amount"] == 1990  # not started yet
    clock.advance(timedelta(minutes=11))
    at_b = await placed(
        ann.api, order_input([(mango, 1)], pickup=lid(stores, "SH-B"), member_id=ann.id)
    )
    assert at_b["lines"][0]["unitPrice"]["amount"] == 1990  # SH-B is not in the sale
    assert (await buy(ann, stores, mango, 1))["order"]["lines"][0]["unitPrice"]["amount"] == 990
    walk_in = await place(
        clerk_a, order_input([(mango, 1)], pickup=lid(stores, "SH-A"), channel="POS")
    )
    assert refusal(walk_in) == ("FLASH_SALE_MEMBERS_ONLY", ["memberId"])
    clock.advance(timedelta(hours=1))
    ann = await shopper(api, "fs-ann-2")  # a fresh token: the clock moved
    after = await buy(ann, stores, mango, 1)
    assert after["order"]["lines"][0]["unitPrice"]["amount"] == 1990  # ended


async def test_online_sale_prices_delivery_orders(
    admin: Api, api: Api, runtime: Runtime, stores: dict[str, Any], mango: Variant
) -> None:
    await receive(runtime, stores["WH-1"].id, mango, 10)  # the warehouse ships online
    await created(admin, mango, terms(runtime, stores, where=(), online=True))
    ann = await shopper(api, "fs-online")
    delivery = {"address": "88 Century Ave, Pudong", "latitude": 31.23, "longitude": 121.5}
    order = await placed(ann.api, order_input([(mango, 1)], delivery=delivery, member_id=ann.id))
    assert order["lines"][0]["unitPrice"]["amount"] == 990
    pickup = await buy(ann, stores, mango, 1)  # SH-A pickup is not covered by an online sale
    assert pickup["order"]["lines"][0]["unitPrice"]["amount"] == 1990


async def test_a_cancelled_order_gives_its_units_and_the_members_back(
    admin: Api, api: Api, runtime: Runtime, stores: dict[str, Any], mango: Variant
) -> None:
    await created(admin, mango, terms(runtime, stores, units=2, limit=2))
    ann, bob = await shopper(api, "fs-ann-3"), await shopper(api, "fs-bob-3")
    order = (await buy(ann, stores, mango, 2))["order"]
    assert refusal(await buy(bob, stores, mango, 1))[0] == "FLASH_SALE_SOLD_OUT"
    gone = await ann.api.data(CANCEL, {"o": order["id"], "r": "changed my mind"})
    assert gone["cancelOrder"]["errors"] == []
    assert (await api.data(LIST))["flashSales"][0]["unitsSold"] == 0
    assert (await buy(ann, stores, mango, 2))["errors"] == []  # her limit came back too
    # A second cancellation of the same order gives nothing back twice.
    again = await ann.api.data(CANCEL, {"o": order["id"], "r": "changed my mind"})
    assert again["cancelOrder"]["errors"] != []
    assert (await api.data(LIST))["flashSales"][0]["unitsSold"] == 2


@pytest.mark.parametrize("job", ["cancel_unpaid", "reservation_sweeper"])
async def test_an_order_that_times_out_gives_its_units_back(
    admin: Api,
    api: Api,
    runtime: Runtime,
    clock: MovableClock,
    stores: dict[str, Any],
    mango: Variant,
    job: str,
) -> None:
    await created(admin, mango, terms(runtime, stores, units=1, limit=1))
    ann, bob = await shopper(api, "fs-ann-4"), await shopper(api, "fs-bob-4")
    assert (await buy(ann, stores, mango, 1))["errors"] == []
    assert refusal(await buy(bob, stores, mango, 1))[0] == "FLASH_SALE_SOLD_OUT"
    clock.advance(timedelta(minutes=16))
    if job == "cancel_unpaid":
        assert await cancel_unpaid(runtime.ordering) == 1
    else:
        assert await sweep_expired(runtime.inventory) == 1
    assert (await api.data(LIST))["flashSales"][0]["unitsSold"] == 0
    bob = await shopper(api, "fs-bob-4")  # a fresh token: the clock moved
    assert (await buy(bob, stores, mango, 1))["errors"] == []


MERGE = """mutation($source: ID!, $target: ID!) {
  mergeMembers(input: {sourceMemberId: $source, targetMemberId: $target, reason: "same person"})
  { errors { code } } }"""


async def test_a_merge_adds_the_absorbed_members_units_to_the_survivors_limit(
    admin: Api, api: Api, runtime: Runtime, stores: dict[str, Any], mango: Variant
) -> None:
    await created(admin, mango, terms(runtime, stores, units=5, limit=2))
    ann, bob = await shopper(api, "fs-ann-5"), await shopper(api, "fs-bob-5")
    assert (await buy(ann, stores, mango, 1))["errors"] == []
    bobs = (await buy(bob, stores, mango, 1))["order"]
    cs = await staff_api(api, runtime, "cs-agent", StaffRole.CS_AGENT, [])
    assert (await cs.data(MERGE, {"source": bob.id, "target": ann.id}))["mergeMembers"][
        "errors"
    ] == []

    assert refusal(await buy(ann, stores, mango, 1))[0] == "FLASH_SALE_LIMIT_REACHED"
    gone = await ann.api.data(CANCEL, {"o": bobs["id"], "r": "one is enough"})
    assert gone["cancelOrder"]["errors"] == []  # the order is hers now; its unit is hers too
    assert (await buy(ann, stores, mango, 1))["errors"] == []
    assert (await api.data(LIST))["flashSales"][0]["unitsSold"] == 2


PAGE = """query($n: Int!) { products(first: $n) { edges { node {
  variants { code flashSale { price { amount } unitsLeft } } } } } }"""


async def test_a_page_of_products_reads_their_flash_sales_in_one_statement(
    admin: Api, api: Api, runtime: Runtime, stores: dict[str, Any]
) -> None:
    for n in range(8):
        [variant] = await make_variants(runtime, (f"P-{n}", "1kg", 1990))
        if n % 2 == 0:
            await created(admin, variant, terms(runtime, stores))

    async def statements(size: int) -> tuple[int, list[Any]]:
        with count_sql() as seen:
            data = await api.data(PAGE, {"n": size})
        sales = [v["flashSale"] for e in data["products"]["edges"] for v in e["node"]["variants"]]
        return len(seen), sales

    small, few = await statements(2)
    large, many = await statements(8)
    assert few == [{"price": {"amount": 990}, "unitsLeft": 5}, None]
    assert len(many) == 8 and many.count(None) == 4
    assert small == large, (small, large)  # the page's sales in one statement, whatever its size


QUOTE = """query($input: PlaceOrderInput!) { checkoutQuote(input: $input) {
  quote { total { amount } lines { unitPrice { amount } listPrice { amount } } }
  errors { code field } } }"""


async def test_the_quote_shows_a_member_the_sale_price_the_order_then_charges(
    admin: Api, api: Api, runtime: Runtime, stores: dict[str, Any], mango: Variant
) -> None:
    """One pricing (`pricing.price_cart`) for both: the quote takes no units."""
    await created(admin, mango, terms(runtime, stores, units=3, limit=2))
    ann = await shopper(api, "fs-quote")
    cart = order_input([(mango, 2)], pickup=lid(stores, "SH-A"), member_id=ann.id)
    quoted = (await ann.api.data(QUOTE, {"input": cart}))["checkoutQuote"]
    assert quoted["errors"] == []
    [line] = quoted["quote"]["lines"]
    assert (line["unitPrice"]["amount"], line["listPrice"]["amount"]) == (990, 1990)
    assert (await api.data(LIST))["flashSales"][0]["unitsSold"] == 0  # a quote takes nothing
    placed = await buy(ann, stores, mango, 2)
    assert placed["order"]["total"]["amount"] == quoted["quote"]["total"]["amount"] == 1980
    walk_in = await api.data(
        QUOTE, {"input": order_input([(mango, 1)], pickup=lid(stores, "SH-A"))}
    )
    assert walk_in["checkoutQuote"]["quote"]["lines"][0]["unitPrice"]["amount"] == 1990
