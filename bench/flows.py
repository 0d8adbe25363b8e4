"""What the clients send over HTTP, scenario by scenario: GraphQL documents as the
mini-program, the store app, the POS and the CS console send them, encoded once as templates.

Every response is checked: HTTP 200, no top-level `errors`, no non-empty payload `errors`
(and, with `strict`, parsed in full). A failed step fails the operation."""

from __future__ import annotations

import base64
import hmac
import json
import time
import uuid
from hashlib import sha256
from typing import Any

from bench.compose import Scenarios
from bench.coupons import COUPON_OFF, CouponSupply
from bench.driver import Client
from bench.httpclient import (
    ResponseError,
    Template,
    auth_line,
    check,
    data,
    hole,
    raw_post,
    value_hole,
)
from bench.prepared import Supply

GRAPHQL = "/graphql"
POINTS_AT_CHECKOUT = 200  # 2 yuan off a ~25-yuan order (at most half may be paid in points)

PLACE_ORDER = """mutation($input: PlaceOrderInput!) { placeOrder(input: $input) {
  order { id number status amountDue { amount } } errors { code message } } }"""
PLACE_ORDER_COUPON = """mutation($input: PlaceOrderInput!) { placeOrder(input: $input) {
  order { id number status couponDiscount { amount } amountDue { amount } }
  errors { code message } } }"""
CHECKOUT_QUOTE = """query($input: PlaceOrderInput!) { checkoutQuote(input: $input) {
  quote { tier subtotal { amount } memberSavings { amount } maxPointsRedeemable
    amountDue { amount } lines { sku unitPrice { amount } } } errors { code message } } }"""
CHECKOUT_QUOTE_COUPONS = """query($input: PlaceOrderInput!) { checkoutQuote(input: $input) {
  quote { tier subtotal { amount } memberSavings { amount } maxPointsRedeemable
    amountDue { amount } lines { sku unitPrice { amount } }
    couponOptions { applies reason discount { amount } coupon { id name } } }
  errors { code message } } }"""
PAY_ORDER = """mutation($id: ID!) { payOrder(input: {orderId: $id}) {
  order { amountDue { amount } } payment { paymentRef } errors { code message } } }"""
START_PREPARING = """mutation($id: ID!) { startPreparingOrder(input: {orderId: $id}) {
  order { id status } errors { code message } } }"""
MARK_READY = """mutation($id: ID!) { markOrderReadyForPickup(input: {orderId: $id}) {
  order { id status } errors { code message } } }"""
PICKUP_CODE = """query($id: ID!) { order(id: $id) { status pickup { code } } }"""
COMPLETE_PICKUP = """mutation($location: ID!, $code: String!) {
  completePickup(input: {locationId: $location, pickupCode: $code}) {
  order { id status } errors { code message } } }"""
AVAILABILITY = """query($id: ID!, $lat: Float!, $lng: Float!) { variant(id: $id) { id name
  availability(near: {latitude: $lat, longitude: $lng}, pickupOnly: true, first: 5) {
    location { id name address } status distance } } }"""
MY_ORDERS = """{ me { orders(first: 20) { edges { node { number status createdAt
  total { amount } lines { name quantity variant { product { name } } } } } } } }"""
PRODUCTS = """{ products(first: 20) { edges { node { id name priceFrom { amount }
  variants { id code name price { amount } } } } } }"""
PRODUCTS_STOCK = """{ products(first: 20) { edges { node { id name
  variants { id name totalAvailable } } } } }"""
POS_SALE = """mutation($input: RecordPosSalesInput!) { recordPosSales(input: $input) {
  discrepancies replayed errors { code message } } }"""
PAY_WECHAT = """mutation($id: ID!) { payOrder(input: {orderId: $id, provider: "wechatpay"}) {
  payment { paymentRef payload } errors { code message } } }"""
WECHATPAY_WEBHOOK = "/webhooks/payments/wechatpay"
ADJUST_POINTS = """mutation($input: AdjustPointsInput!) { adjustPoints(input: $input) {
  entry { balanceAfter } errors { code message } } }"""


def with_member(c: Client) -> bool:
    """Every other till sale of a client names a member, starting with its first."""
    sales: int = c.state.get("sales", 0) + 1
    c.state["sales"] = sales
    return sales % 2 == 1


def _gql(query: str, variables: dict[str, Any]) -> Template:
    return Template(GRAPHQL, {"query": query, "variables": variables})


def _key() -> bytes:
    return uuid.uuid4().hex.encode()


def coupon_gid(coupon_id: str) -> bytes:
    """The coupon's Relay id, as api.relay.encode_id spells it."""
    return base64.b64encode(f"Coupon:{coupon_id}".encode())


class Flows(Scenarios):
    """Templates and steps for one world (see bench.seed)."""

    def __init__(self, world: dict[str, Any]):
        self.world = world
        self.payment_secret = world["secrets"]["payment"].encode()
        self.members = [(m, auth_line(m["token"])) for m in world["members"]]
        self.history = [auth_line(m["token"]) for m in world["history_members"]]
        self.stores = world["stores"]
        self.clerks = {s["gid"]: auth_line(s["clerk"]["token"]) for s in self.stores}
        self.tills = [(s, auth_line(s["pos"]["token"])) for s in self.stores]
        self.cs = auth_line(world["cs"]["token"])
        self.variants = world["variants"]
        line = {"variantId": hole(2), "quantity": 1}
        order_input = {
            "channel": "MINI_PROGRAM",
            "lines": [line, {"variantId": hole(3), "quantity": 1}],
            "fulfilment": {"pickup": {"locationId": hole(1)}},
            "idempotencyKey": hole(0),
        }
        self.place_ = _gql(PLACE_ORDER, {"input": order_input})
        self.place_coupon = _gql(
            PLACE_ORDER_COUPON, {"input": {**order_input, "couponIds": [hole(4)]}}
        )
        crowd = world.get("coupon_crowd", {}).get("members", [])
        self.coupons = CouponSupply([((m, auth_line(m["token"])), m["coupons"]) for m in crowd])
        self.place_points = _gql(
            PLACE_ORDER, {"input": {**order_input, "pointsToRedeem": POINTS_AT_CHECKOUT}}
        )
        quote_input = {  # place_order_points's cart, without an idempotency key
            "channel": "MINI_PROGRAM",
            "lines": [{"variantId": hole(1), "quantity": 1}, {"variantId": hole(2), "quantity": 1}],
            "fulfilment": {"pickup": {"locationId": hole(0)}},
            "pointsToRedeem": POINTS_AT_CHECKOUT,
        }
        self.quote_ = _gql(CHECKOUT_QUOTE, {"input": quote_input})
        self.quote_coupons = _gql(CHECKOUT_QUOTE_COUPONS, {"input": quote_input})
        quoting = world.get("quote_crowd", {}).get("members", [])
        self.quoting = [(m, auth_line(m["token"])) for m in quoting]
        self.pay = _gql(PAY_ORDER, {"id": hole(0)})
        self.pay_wechat = _gql(PAY_WECHAT, {"id": hole(0)})
        self.prepared = Supply.load(world.get("wechatpay_batch"))  # bench.wechatpay
        self.prepare_ = _gql(START_PREPARING, {"id": hole(0)})
        self.ready_ = _gql(MARK_READY, {"id": hole(0)})
        self.code = _gql(PICKUP_CODE, {"id": hole(0)})
        self.complete = _gql(COMPLETE_PICKUP, {"location": hole(0), "code": hole(1)})
        self.availability_ = _gql(
            AVAILABILITY, {"id": hole(0), "lat": value_hole(1), "lng": value_hole(2)}
        )
        self.my_orders_ = _gql(MY_ORDERS, {})
        self.products_ = _gql(PRODUCTS, {})
        self.products_stock_ = _gql(PRODUCTS_STOCK, {})
        sale = {
            "locationId": hole(0),
            "posTransactionId": hole(1),
            "lines": [
                {"variantId": hole(2), "quantity": 1, "lineTotal": 100},
                {"variantId": hole(3), "quantity": 1, "lineTotal": 100},
            ],
        }
        self.pos_sale_ = _gql(POS_SALE, {"input": sale})
        self.pos_sale_member = _gql(POS_SALE, {"input": {**sale, "memberId": hole(4)}})
        self.adjust = _gql(
            ADJUST_POINTS,
            {
                "input": {
                    "memberId": hole(0),
                    "delta": 100,
                    "reason": "bench goodwill",
                    "idempotencyKey": hole(1),
                }
            },
        )

    # ------------------------------------------------------------ steps

    async def _call(self, c: Client, kind: str, request: bytes, strict: bool) -> Any:
        c.state["step"] = kind
        t0 = time.perf_counter()
        status, body = await c.conn.request(request)
        c.rec.step(kind, time.perf_counter() - t0)
        return data(status, body) if strict else check(status, body)

    async def place(
        self, c: Client, strict: bool, points: bool = False, coupon: bool = False
    ) -> dict[str, Any]:
        rnd = c.rnd
        if coupon:  # a fresh coupon of the member's
            (_, auth), coupon_id = self.coupons.take(rnd)
            template = self.place_coupon
        else:
            _, auth = rnd.choice(self.members)
            template = self.place_points if points else self.place_
        store = rnd.choice(self.stores)
        a, b = rnd.sample(self.variants, 2)
        values = [_key(), store["gid"].encode(), a["gid"].encode(), b["gid"].encode()]
        if coupon:
            values.append(coupon_gid(coupon_id))
        request = template.render(auth, values)
        body = await self._call(c, "placeOrder", request, True)  # later steps need the id
        order = body["data"]["placeOrder"]["order"]
        if coupon and strict and order["couponDiscount"]["amount"] != COUPON_OFF:
            raise ResponseError(200, json.dumps(body).encode(), "the coupon took nothing off")
        return {"id": order["id"], "store": store["gid"], "auth": auth}

    async def quote(self, c: Client, strict: bool, coupons: bool = False) -> None:
        rnd = c.rnd
        _, auth = rnd.choice(self.quoting if coupons else self.members)
        store = rnd.choice(self.stores)
        a, b = rnd.sample(self.variants, 2)
        template = self.quote_coupons if coupons else self.quote_
        request = template.render(
            auth, (store["gid"].encode(), a["gid"].encode(), b["gid"].encode())
        )
        body = await self._call(c, "checkoutQuote", request, strict)
        if strict:
            quote = body["data"]["checkoutQuote"]["quote"]
            offers = [o["applies"] for o in quote.get("couponOptions", [])]
            if coupons and offers != [True, False, False]:
                raise ResponseError(200, json.dumps(body).encode(), "not the three offers")
            due = quote["subtotal"]["amount"] - quote["memberSavings"]["amount"]
            if quote["amountDue"]["amount"] != due - POINTS_AT_CHECKOUT:
                raise ResponseError(200, json.dumps(body).encode(), "a quote that does not add up")

    async def pay_and_notify(self, c: Client, order: dict[str, Any], strict: bool) -> None:
        body = await self._call(
            c, "payOrder", self.pay.render(order["auth"], (order["id"].encode(),)), True
        )
        paid = body["data"]["payOrder"]
        notice = json.dumps(
            {
                "paymentRef": paid["payment"]["paymentRef"],
                "amount": paid["order"]["amountDue"]["amount"],
                "currency": "CNY",
                "status": "SUCCEEDED",
            }
        ).encode()
        signature = hmac.new(self.payment_secret, notice, sha256).hexdigest()
        request = raw_post(
            "/webhooks/payments/devpay", (("x-devpay-signature", signature),), notice
        )
        c.state["step"] = "webhook"
        t0 = time.perf_counter()
        status, response = await c.conn.request(request)
        c.rec.step("webhook", time.perf_counter() - t0)
        if status != 200 or b'"paid"' not in response:
            raise ResponseError(status, response, "payment webhook not accepted as paid")

    async def prepare(self, c: Client, order: dict[str, Any], strict: bool) -> None:
        request = self.prepare_.render(self.clerks[order["store"]], (order["id"].encode(),))
        await self._call(c, "startPreparing", request, strict)

    async def ready(self, c: Client, order: dict[str, Any], strict: bool) -> None:
        request = self.ready_.render(self.clerks[order["store"]], (order["id"].encode(),))
        await self._call(c, "markReady", request, strict)

    async def hand_over(self, c: Client, order: dict[str, Any], strict: bool) -> None:
        request = self.code.render(order["auth"], (order["id"].encode(),))
        body = await self._call(c, "pickupCode", request, True)
        code = body["data"]["order"]["pickup"]["code"].encode()
        request = self.complete.render(self.clerks[order["store"]], (order["store"].encode(), code))
        await self._call(c, "completePickup", request, strict)

    async def availability(self, c: Client, strict: bool) -> None:
        rnd = c.rnd
        variant = rnd.choice(self.variants)
        lat = b"%.5f" % (31.2304 + rnd.uniform(-0.05, 0.05))
        lng = b"%.5f" % (121.4737 + rnd.uniform(-0.05, 0.05))
        _, auth = rnd.choice(self.members)
        request = self.availability_.render(auth, (variant["gid"].encode(), lat, lng))
        await self._call(c, "availability", request, strict)

    async def my_orders(self, c: Client, strict: bool) -> None:
        body = await self._call(
            c, "myOrders", self.my_orders_.render(c.rnd.choice(self.history)), strict
        )
        if strict and len(body["data"]["me"]["orders"]["edges"]) < 20:
            raise ResponseError(200, json.dumps(body).encode(), "fewer than 20 orders")

    async def products(self, c: Client, strict: bool) -> None:
        _, auth = c.rnd.choice(self.members)
        body = await self._call(c, "products", self.products_.render(auth), strict)
        if strict and len(body["data"]["products"]["edges"]) < 20:
            raise ResponseError(200, json.dumps(body).encode(), "fewer than 20 products")

    async def products_stock(self, c: Client, strict: bool) -> None:
        _, auth = c.rnd.choice(self.members)
        body = await self._call(c, "productsStock", self.products_stock_.render(auth), strict)
        if strict:
            edges = body["data"]["products"]["edges"]
            totals = [v["totalAvailable"] for e in edges for v in e["node"]["variants"]]
            if len(edges) < 20 or not all(totals):
                raise ResponseError(200, json.dumps(body).encode(), "a page without stock")

    async def pos_sale(self, c: Client, strict: bool) -> None:
        """A till sale of two items; every other one (the first included) with a member,
        who earns points on it."""
        rnd = c.rnd
        store, till = rnd.choice(self.tills)
        a, b = rnd.sample(self.variants, 2)
        values = [store["gid"].encode(), _key(), a["gid"].encode(), b["gid"].encode()]
        if with_member(c):
            values.append(rnd.choice(self.members)[0]["gid"].encode())
            request = self.pos_sale_member.render(till, values)
        else:
            request = self.pos_sale_.render(till, values)
        await self._call(c, "recordPosSales", request, strict)

    async def points_earn(self, c: Client, strict: bool) -> None:
        member, _ = c.rnd.choice(self.members)
        request = self.adjust.render(self.cs, (member["gid"].encode(), _key()))
        await self._call(c, "adjustPoints", request, strict)

    async def wechatpay_notify(self, c: Client, strict: bool) -> None:
        order = self.prepared.take()
        request = raw_post(
            WECHATPAY_WEBHOOK, tuple(order["headers"].items()), order["body"].encode()
        )
        c.state["step"] = "webhook"
        t0 = time.perf_counter()
        status, response = await c.conn.request(request)
        c.rec.step("webhook", time.perf_counter() - t0)
        if status != 204:  # WeChat Pay's "taken"; a refusal is a 4xx with {"code": "FAIL"}
            raise ResponseError(status, response, "WeChat Pay notification not taken")

    async def wechatpay_pay_order(self, c: Client, strict: bool) -> None:
        order = self.prepared.take()
        _, auth = self.members[order["member"]]
        request = self.pay_wechat.render(auth, (order["gid"].encode(),))
        body = await self._call(c, "payOrder", request, strict)
        if strict:
            payload = body["data"]["payOrder"]["payment"]["payload"]
            if not payload["package"].startswith("prepay_id=") or payload["signType"] != "RSA":
                raise ResponseError(200, json.dumps(body).encode(), "not wx.requestPayment's")
