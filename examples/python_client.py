"""A shopper's session with omnishelf from Python, with the `gql` client.

    pip install "gql[httpx,websockets]"
    python examples/python_client.py --url http://127.0.0.1:8000/graphql --store SH-XJH

It logs in as a mini-program shopper (the development WeChat gateway takes `test:<openid>`
codes), finds a product in stock at the store, places a pickup order, follows the order over
a WebSocket (graphql-transport-ws) and cancels it, printing each step and, last, one line of
JSON with what it saw. docs/clients.md explains each step; tests/e2e/test_client_examples.py
runs this file against a served app.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from typing import Any

from gql import Client, GraphQLRequest, gql
from gql.client import AsyncClientSession
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport

LOGIN = gql("""
mutation Login($code: String!) {
  loginWithWechat(input: {appId: "wx-demo", code: $code, displayName: "Python"}) {
    tokens { accessToken }
    member { id }
    errors { code message }
  }
}""")

STORE = gql("""
query Store($code: String!) {
  locationByCode(code: $code) { id name coordinates { latitude longitude } }
}""")

PRODUCTS = gql("""
query Products($first: Int!) {
  products(first: $first) {
    edges { node { name variants { id code name price { amount } } } }
  }
}""")

STOCK = gql("""
query Stock($variant: ID!, $near: NearInput!) {
  variant(id: $variant) { availability(near: $near, pickupOnly: true) { location { id } status } }
}""")

PLACE = gql("""
mutation Place($variant: ID!, $store: ID!, $key: String!) {
  placeOrder(input: {channel: MINI_PROGRAM, idempotencyKey: $key,
    lines: [{variantId: $variant, quantity: 1}],
    fulfilment: {pickup: {locationId: $store}}}) {
    order { id number status total { amount } }
    errors { code message field }
  }
}""")

FOLLOW = gql("""
subscription Follow($order: ID!) { orderUpdated(orderId: $order) { orderId status at } }""")

CANCEL = gql("""
mutation Cancel($order: ID!) {
  cancelOrder(input: {orderId: $order, reason: "changed my mind"}) {
    order { status }
    errors { code message }
  }
}""")


def _checked(payload: dict[str, Any]) -> dict[str, Any]:
    """Mutations answer expected failures in `errors` (with a code), not as GraphQL errors."""
    if payload["errors"]:
        raise SystemExit(f"refused: {payload['errors']}")
    return payload


async def ask(session: AsyncClientSession, document: GraphQLRequest, **variables: Any) -> Any:
    return await session.execute(GraphQLRequest(document, variable_values=variables))


def _ws_url(http_url: str) -> str:
    return "ws" + http_url.removeprefix("http")


async def shop(url: str, store_code: str, openid: str) -> dict[str, Any]:
    async with Client(transport=HTTPXAsyncTransport(url=url)) as anonymous:
        login = _checked((await ask(anonymous, LOGIN, code=f"test:{openid}"))["loginWithWechat"])
    token = login["tokens"]["accessToken"]
    print(f"logged in as member {login['member']['id']}")

    headers = {"Authorization": f"Bearer {token}"}
    async with Client(transport=HTTPXAsyncTransport(url=url, headers=headers)) as http:
        store = (await ask(http, STORE, code=store_code))["locationByCode"]
        if store is None:
            raise SystemExit(f"no store has the code {store_code}")
        variant = await _in_stock(http, store)
        print(f"{variant['code']} is in stock at {store['name']}")

        key = f"python-example-{uuid.uuid4()}"  # the same key again returns the same order
        placed = await ask(http, PLACE, variant=variant["id"], store=store["id"], key=key)
        order = _checked(placed["placeOrder"])["order"]
        print(f"order {order['number']}: {order['status']}, {order['total']['amount']} fen")

        # Browsers cannot set headers on a WebSocket: the token goes in connection_init.
        ws = WebsocketsTransport(
            url=_ws_url(url),
            subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
            init_payload={"authorization": f"Bearer {token}"},
        )
        async with Client(transport=ws) as live:
            events = live.subscribe(GraphQLRequest(FOLLOW, variable_values={"order": order["id"]}))
            first = asyncio.ensure_future(anext(events))
            await asyncio.sleep(0.5)  # the subscription is registered before the change
            cancelled = _checked((await ask(http, CANCEL, order=order["id"]))["cancelOrder"])
            event = (await asyncio.wait_for(first, 10))["orderUpdated"]
            await events.aclose()
        print(f"live: order {event['orderId']} is now {event['status']}")

    return {
        "order": order["number"],
        "orderId": order["id"],
        "placed": order["status"],
        "cancelled": cancelled["order"]["status"],
        "event": event["status"],
        "eventOrderId": event["orderId"],
    }


async def _in_stock(http: AsyncClientSession, store: dict[str, Any]) -> dict[str, Any]:
    """The first variant the store can hand over (availability is a status, not a count)."""
    products = (await ask(http, PRODUCTS, first=20))["products"]["edges"]
    for edge in products:
        for variant in edge["node"]["variants"]:
            stock = await ask(http, STOCK, variant=variant["id"], near=store["coordinates"])
            for place in stock["variant"]["availability"]:
                if place["location"]["id"] == store["id"] and place["status"] != "OUT_OF_STOCK":
                    return dict(variant)
    raise SystemExit(f"nothing is in stock at {store['name']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000/graphql")
    parser.add_argument("--store", default="SH-XJH", help="a pickup store's code")
    parser.add_argument("--openid", default="python-example", help="the shopper's openid")
    args = parser.parse_args(argv)
    summary = asyncio.run(shop(args.url, args.store, args.openid))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
