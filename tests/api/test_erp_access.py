"""An ERP's API key (issue 14): `orders:read` pulls every store's orders incrementally,
`members:read` reads members with their name and identifiers masked, and a key without the
scope is refused with FORBIDDEN naming it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from api.relay import encode_cursor
from domain.catalog.model import Variant
from domain.identity.model import ApiScope
from domain.identity.services import create_api_key
from infra.runtime import Runtime
from tests.support import MovableClock
from tests.support.api import Api
from tests.support.orders import lid, make_variants, order_input, pay_online, placed, receive
from tests.support.shoppers import BIND_PHONE, shopper

PULL = """query($since: DateTime, $after: String) {
  orders(updatedSince: $since, first: 2, after: $after) {
    edges { cursor node { id number status updatedAt location { code }
      lines { sku quantity } payments { status amount { amount } } member { displayName } } }
    pageInfo { hasNextPage endCursor } } }"""
MEMBER = """query($id: ID!) { member(id: $id) { displayName
  identities { kind masked } orders { edges { cursor } } } }"""
SEARCH = """query($q: String!) { members(search: $q) { edges { node { id displayName
  identities { masked } } } } }"""


async def key_api(api: Api, runtime: Runtime, *scopes: ApiScope) -> Api:
    _, secret = await create_api_key(runtime.auth, "erp", list(scopes))
    return api.as_(secret)


@pytest.fixture
async def mango(runtime: Runtime, stores: dict[str, Any]) -> Variant:
    (variant,) = await make_variants(runtime, ("M-1", "1kg", 1990))
    for code in ("SH-A", "SH-B"):
        await receive(runtime, stores[code].id, variant, 20)
    return variant


async def pull(erp: Api, since: str) -> list[dict[str, Any]]:
    """Every order changed since `since`, page after page, as an ERP follows the cursor."""
    seen: list[dict[str, Any]] = []
    after = None
    while True:
        page = (await erp.data(PULL, {"since": since, "after": after}))["orders"]
        seen += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return seen
        after = page["pageInfo"]["endCursor"]


async def test_an_erp_pulls_every_stores_orders_incrementally(
    api: Api,
    client: httpx.AsyncClient,
    runtime: Runtime,
    stores: dict[str, Any],
    mango: Variant,
    clock: MovableClock,
) -> None:
    member = await shopper(api, "erp-buyer")
    start = clock.now()
    orders = []
    for code in ("SH-A", "SH-B", "SH-A"):
        clock.advance(timedelta(seconds=60))
        orders.append(await placed(member.api, order_input([(mango, 1)], pickup=lid(stores, code))))
    erp = await key_api(api, runtime, ApiScope.ORDERS_READ)

    first = await pull(erp, start.isoformat())
    assert [o["number"] for o in first] == [o["number"] for o in orders]  # oldest change first
    assert {o["location"]["code"] for o in first} == {"SH-A", "SH-B"}
    assert all(o["member"] is None for o in first)  # the customer needs members:read
    last_seen = first[-1]["updatedAt"]

    clock.advance(timedelta(seconds=60))
    await pay_online(client, runtime, member, orders[0])  # the oldest order changes
    second = await pull(erp, last_seen)
    assert [(o["number"], o["status"]) for o in second] == [
        (orders[2]["number"], "PENDING_PAYMENT"),  # updatedAt == last_seen: seen again
        (orders[0]["number"], "PAID"),
    ]
    assert second[1]["payments"][0]["status"] == "SUCCEEDED"
    assert second[1]["lines"] == [{"sku": "M-1", "quantity": 1}]

    one = "query($id: ID!) { order(id: $id) { number } }"
    single = await erp.data(one, {"id": orders[1]["id"]})
    assert single["order"]["number"] == orders[1]["number"]


async def test_the_pull_refuses_bad_input_and_a_foreign_cursor(api: Api, runtime: Runtime) -> None:
    erp = await key_api(api, runtime, ApiScope.ORDERS_READ)
    naive = await erp(PULL, {"since": "2026-01-01T00:00:00"})
    assert naive["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    newest_first = await erp.data("{ orders(first: 1) { pageInfo { endCursor } } }")
    assert newest_first["orders"]["pageInfo"]["endCursor"] is None  # no orders yet
    bad = await erp(PULL, {"since": "2026-01-01T00:00:00Z", "after": encode_cursor("nope")})
    assert bad["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


async def test_members_read_sees_members_masked(
    api: Api, runtime: Runtime, stores: dict[str, Any], mango: Variant
) -> None:
    login = await api.data(
        'mutation { loginWithWechat(input: {appId: "wx-demo", code: "test:erp-member", '
        'displayName: "Wang Fang"}) { tokens { accessToken } member { id } } }'
    )
    buyer = api.as_(login["loginWithWechat"]["tokens"]["accessToken"])
    buyer_id = login["loginWithWechat"]["member"]["id"]
    bound = await buyer.data(BIND_PHONE, {"code": "test-phone:+8613800001234"})
    assert bound["bindPhone"]["errors"] == [], bound
    order = await placed(buyer, order_input([(mango, 1)], pickup=lid(stores, "SH-A")))
    erp = await key_api(api, runtime, ApiScope.MEMBERS_READ, ApiScope.ORDERS_READ)

    seen = (await erp.data(MEMBER, {"id": buyer_id}))["member"]
    assert seen["displayName"] == "W**"
    assert seen["identities"] and all("****" in i["masked"] for i in seen["identities"])
    phone = next(i["masked"] for i in seen["identities"] if i["kind"] == "PHONE")
    assert phone == "138****1234"
    assert seen["orders"] is None  # orders come through `orders`, with orders:read

    found = (await erp.data(SEARCH, {"q": "+8613800001234"}))["members"]["edges"]
    assert [e["node"]["id"] for e in found] == [buyer_id]
    assert found[0]["node"]["displayName"] == "W**"

    on_order = await erp.data(
        "query($id: ID!) { order(id: $id) { member { displayName } } }", {"id": order["id"]}
    )
    assert on_order["order"]["member"] == {"displayName": "W**"}


async def test_each_scope_is_needed_and_named(
    api: Api, runtime: Runtime, stores: dict[str, Any], mango: Variant
) -> None:
    buyer = await shopper(api, "erp-other")
    order = await placed(buyer.api, order_input([(mango, 1)], pickup=lid(stores, "SH-A")))
    members_only = await key_api(api, runtime, ApiScope.MEMBERS_READ)
    orders_only = await key_api(api, runtime, ApiScope.ORDERS_READ)

    async def refusal(caller: Api, query: str, variables: dict[str, Any]) -> str:
        body = await caller(query, variables)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
        message: str = body["errors"][0]["message"]
        return message

    assert "orders:read" in await refusal(members_only, "{ orders { edges { cursor } } }", {})
    assert "orders:read" in await refusal(
        members_only, "query($id: ID!) { order(id: $id) { id } }", {"id": order["id"]}
    )
    assert "members:read" in await refusal(orders_only, MEMBER, {"id": buyer.id})
    assert "members:read" in await refusal(orders_only, SEARCH, {"q": "erp"})
