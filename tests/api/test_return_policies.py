"""Return policies per category and for fresh produce (issue 16): a product's own setting wins,
then its category's, then the 7-day default; fresh produce takes only refund-only requests
within its hours of hand-over. Set by catalog admins (categoryCreate/categoryUpdate,
productCreate/productUpdate), refused with typed errors when wrong."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from api.relay import encode_id
from domain.catalog.model import Variant
from domain.identity.model import StaffRole
from domain.ordering.ports import RefundState
from tests.support import MovableClock
from tests.support.aftersales import MINE, PRICE, ask, asked, line_ids, request_input
from tests.support.api import Api, relogin, staff_api
from tests.support.orders import Story, make_variants, receive
from tests.support.payloads import codes
from tests.support.shoppers import shopper

Runtime = Any  # infra.runtime.Runtime

POLICY = "returnWindowDays refundOnlyWithinHours"
CATEGORY_CREATE = f"""mutation($input: CategoryCreateInput!) {{ categoryCreate(input: $input) {{
  category {{ id {POLICY} }} errors {{ code field }} }} }}"""
CATEGORY_UPDATE = f"""mutation($input: CategoryUpdateInput!) {{ categoryUpdate(input: $input) {{
  category {{ id {POLICY} }} errors {{ code field }} }} }}"""
PRODUCT_UPDATE = f"""mutation($input: ProductUpdateInput!) {{ productUpdate(input: $input) {{
  product {{ {POLICY} category {{ {POLICY} }} }} errors {{ code field }} }} }}"""


@pytest.fixture(autouse=True)
def devpay(runtime: Runtime) -> Iterator[None]:
    runtime.devpay.fail_refunds("", times=0)
    runtime.devpay.refunds_end(RefundState.SUCCESS)
    yield


@pytest.fixture
async def mango(runtime: Runtime, stores: dict[str, Any]) -> Variant:
    (variant,) = await make_variants(runtime, ("M-1", "1kg", PRICE))
    await receive(runtime, stores["SH-A"].id, variant, 50)
    return variant


@pytest.fixture
async def story(
    api: Api, client: httpx.AsyncClient, runtime: Runtime, stores: dict[str, Any], mango: Variant
) -> Story:
    clerk = await staff_api(api, runtime, "clerk-a", StaffRole.STORE_CLERK, [stores["SH-A"]])
    return Story(client, runtime, stores, mango, clerk)


@pytest.fixture
async def admin(api: Api, runtime: Runtime) -> Api:
    return await staff_api(api, runtime, "admin", StaffRole.ADMIN, [])


def product_of(variant: Variant) -> str:
    return str(encode_id("Product", variant.product_id))


async def changed(caller: Api, document: str, input_: dict[str, Any]) -> Any:
    payload = next(iter((await caller.data(document, {"input": input_})).values()))
    assert payload["errors"] == [], payload
    return payload


async def test_fresh_produce_takes_only_refund_only_requests_within_its_hours(
    api: Api, admin: Api, clock: MovableClock, story: Story
) -> None:
    fresh = (
        await changed(admin, CATEGORY_CREATE, {"name": "Fresh fruit", "refundOnlyWithinHours": 24})
    )["category"]
    assert (fresh["returnWindowDays"], fresh["refundOnlyWithinHours"]) == (None, 24)
    product = await changed(
        admin, PRODUCT_UPDATE, {"id": product_of(story.mango), "categoryId": fresh["id"]}
    )
    assert product["product"]["category"]["refundOnlyWithinHours"] == 24
    member = await shopper(api, "fruit-lover")
    order = await story.picked_up(member, quantity=2)
    (line,) = await line_ids(member.api, order)

    refused = await ask(member.api, request_input(order, [(line, 1)]))
    assert refused["errors"][0]["code"] == "REFUND_ONLY_REQUIRED"
    assert refused["errors"][0]["field"] == ["lines", "0"]
    assert "REFUND_ONLY" in refused["errors"][0]["message"]
    clock.advance(timedelta(hours=23, minutes=59))
    member = await shopper(api, member.openid)  # tokens live minutes, not hours
    first = await asked(member.api, request_input(order, [(line, 1)], "REFUND_ONLY"))
    assert first["status"] == "REQUESTED"
    clock.advance(timedelta(minutes=2))  # 24 h and a minute after hand-over
    member = await shopper(api, member.openid)
    late = await ask(member.api, request_input(order, [(line, 1)], "REFUND_ONLY"))
    assert codes(late) == ["RETURN_WINDOW_CLOSED"]
    # The refusals wrote nothing: one request.
    assert len((await member.api.data(MINE))["me"]["afterSales"]["nodes"]) == 1


async def test_the_products_window_wins_then_the_categorys_then_seven_days(
    api: Api, admin: Api, runtime: Runtime, clock: MovableClock, story: Story
) -> None:
    group = (await changed(admin, CATEGORY_CREATE, {"name": "Durables", "returnWindowDays": 30}))[
        "category"
    ]
    await changed(admin, PRODUCT_UPDATE, {"id": product_of(story.mango), "categoryId": group["id"]})
    member = await shopper(api, "careful-buyer")
    order = await story.picked_up(member, quantity=3)
    (line,) = await line_ids(member.api, order)
    clock.advance(timedelta(days=8))  # past the default 7 days, within the category's 30
    member = await shopper(api, member.openid)
    admin = await relogin(api, "admin")
    assert (await asked(member.api, request_input(order, [(line, 1)])))["status"] == "REQUESTED"

    # The product's own 3 days win over the category's 30.
    own = await changed(
        admin, PRODUCT_UPDATE, {"id": product_of(story.mango), "returnWindowDays": 3}
    )
    assert own["product"]["returnWindowDays"] == 3
    assert codes(await ask(member.api, request_input(order, [(line, 1)]))) == [
        "RETURN_WINDOW_CLOSED"
    ]
    # Unset on the product (null): the category's again; the category's 0 takes no returns.
    await changed(admin, PRODUCT_UPDATE, {"id": product_of(story.mango), "returnWindowDays": None})
    none = await changed(admin, CATEGORY_UPDATE, {"id": group["id"], "returnWindowDays": 0})
    assert none["category"]["returnWindowDays"] == 0
    assert codes(await ask(member.api, request_input(order, [(line, 1)]))) == [
        "RETURN_WINDOW_CLOSED"
    ]
    # Omitted fields stay as they are; the category's fresh-produce hours apply now.
    kept = await changed(
        admin,
        CATEGORY_UPDATE,
        {"id": group["id"], "returnWindowDays": None, "refundOnlyWithinHours": 24 * 10},
    )
    assert kept["category"]["refundOnlyWithinHours"] == 240
    again = await changed(admin, CATEGORY_UPDATE, {"id": group["id"]})
    assert (again["category"]["returnWindowDays"], again["category"]["refundOnlyWithinHours"]) == (
        None,
        240,
    )
    assert codes(await ask(member.api, request_input(order, [(line, 1)]))) == [
        "REFUND_ONLY_REQUIRED"
    ]
    assert (await asked(member.api, request_input(order, [(line, 1)], "REFUND_ONLY")))[
        "kind"
    ] == "REFUND_ONLY"


async def test_bad_policies_are_refused_with_a_code_and_change_nothing(
    admin: Api, story: Story
) -> None:
    group = (await changed(admin, CATEGORY_CREATE, {"name": "Bakery"}))["category"]
    for document, input_, field in (
        (CATEGORY_UPDATE, {"id": group["id"], "refundOnlyWithinHours": 0}, "refundOnlyWithinHours"),
        (CATEGORY_UPDATE, {"id": group["id"], "returnWindowDays": 366}, "returnWindowDays"),
        (CATEGORY_CREATE, {"name": "Deli", "refundOnlyWithinHours": -1}, "refundOnlyWithinHours"),
        (
            PRODUCT_UPDATE,
            {"id": product_of(story.mango), "refundOnlyWithinHours": 721},
            "refundOnlyWithinHours",
        ),
    ):
        payload = next(iter((await admin.data(document, {"input": input_})).values()))
        assert payload["errors"] == [{"code": "INVALID_INPUT", "field": [field]}], input_
    unknown = await admin.data(
        CATEGORY_UPDATE,
        {
            "input": {
                "id": str(encode_id("Category", story.mango.product_id)),
                "returnWindowDays": 1,
            }
        },
    )
    assert unknown["categoryUpdate"]["errors"] == [{"code": "NOT_FOUND", "field": ["id"]}]
    seen = await changed(admin, CATEGORY_UPDATE, {"id": group["id"]})
    assert (seen["category"]["returnWindowDays"], seen["category"]["refundOnlyWithinHours"]) == (
        None,
        None,
    )
