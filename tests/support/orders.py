"""Orders over GraphQL as a shopper, the staff and the payment provider drive them: variants
with stock, checkout input, payment (online through the signed webhook, or at the till), the
state machine's steps, pickup codes, and `Story`, which moves an order along."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import httpx

from api.relay import decode_id, encode_id
from domain.catalog.model import Variant
from domain.catalog.services import ProductDraft, VariantDraft, create_product
from domain.identity.model import Principal, PrincipalKind, StaffRole
from domain.ids import new_id
from domain.inventory.model import MovementKind
from domain.inventory.stock import Adjustment, adjust
from infra.payments import SIGNATURE_HEADER, sign_body
from infra.runtime import Runtime
from tests.support.api import Api
from tests.support.shoppers import Shopper

ROOT = Principal(kind=PrincipalKind.STAFF, id=new_id(), role=StaffRole.ADMIN)

ORDER = """id number status channel fulfilment note total { amount currency }
  createdAt paymentDeadline paidAt pickupDeadline cancelReason atRisk
  lines { sku name quantity unitPrice { amount currency } total { amount } }
  location { code }"""
ORDER_ERRORS = """errors { code message field variantId available
  alternatives { locationId distance } }"""
PLACE = f"""mutation($input: PlaceOrderInput!) {{ placeOrder(input: $input) {{
  order {{ {ORDER} }} {ORDER_ERRORS} }} }}"""
PAY = """mutation($o: ID!, $p: String) { payOrder(input: {orderId: $o, provider: $p}) {
  order { id status } payment { provider paymentRef payload } errors { code message field } } }"""
IN_STORE = """mutation($o: ID!, $m: String!, $a: Int!) {
  recordInStorePayment(input: {orderId: $o, method: $m, amount: $a}) {
    order { id status paidAt } errors { code message field } } }"""
CANCEL = """mutation($o: ID!, $r: String!) { cancelOrder(input: {orderId: $o, reason: $r}) {
  order { id status cancelReason } errors { code message field } } }"""
COMPLETE = """mutation($l: ID!, $c: String!) {
  completePickup(input: {locationId: $l, pickupCode: $c}) {
    order { id status } errors { code message field } } }"""
READ = """query($id: ID!) { order(id: $id) { id status atRisk cancelReason paidAt pickupDeadline
  timeline { fromStatus toStatus actor reason }
  payments { kind provider method amount { amount } status }
  notifications { kind status } } }"""
PICKUP = "query($id: ID!) { order(id: $id) { id status pickup { code qrPayload deadline } } }"


async def make_variants(runtime: Runtime, *variants: tuple[str, str, int]) -> list[Variant]:
    """One product "Mango" with the given (code, name, price) variants, in creation order."""
    product = await create_product(
        runtime.catalog,
        ProductDraft(
            name="Mango",
            variants=[VariantDraft(code=c, name=n, price=p) for c, n, p in variants],
        ),
    )
    found = {v.code: v for v in await runtime.repos.catalog.variants_of([product.id])}
    return [found[code] for code, _, _ in variants]


async def receive(runtime: Runtime, location_id: UUID, variant: Variant, quantity: int) -> None:
    await adjust(
        runtime.inventory,
        ROOT,
        Adjustment(location_id, variant.id, quantity, MovementKind.RECEIPT, "delivery"),
        None,
    )


async def level(runtime: Runtime, location_id: UUID, variant: Variant) -> tuple[int, int]:
    """(on hand, reserved)."""
    found = await runtime.repos.inventory.level(location_id, variant.id)
    return (found.on_hand, found.reserved) if found else (0, 0)


def vid(variant: Variant) -> str:
    return encode_id("Variant", variant.id)


def lid(stores: dict[str, Any], code: str) -> str:
    return encode_id("Location", stores[code].id)


def order_key(order: dict[str, Any]) -> UUID:
    return decode_id(order["id"], "Order")


def order_input(
    lines: list[tuple[Variant, int]],
    *,
    pickup: str | None = None,
    delivery: dict[str, Any] | None = None,
    channel: str = "MINI_PROGRAM",
    key: str | None = None,
    member_id: str | None = None,
    note: str = "",
) -> dict[str, Any]:
    fulfilment: dict[str, Any] = {}
    if pickup is not None:
        fulfilment["pickup"] = {"locationId": pickup}
    if delivery is not None:
        fulfilment["delivery"] = delivery
    data: dict[str, Any] = {
        "channel": channel,
        "lines": [{"variantId": vid(v), "quantity": q} for v, q in lines],
        "fulfilment": fulfilment,
        "note": note,
    }
    if key is not None:
        data["idempotencyKey"] = key
    if member_id is not None:
        data["memberId"] = member_id
    return data


async def place(caller: Api, input_: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = (await caller.data(PLACE, {"input": input_}))["placeOrder"]
    return payload


async def placed(caller: Api, input_: dict[str, Any]) -> dict[str, Any]:
    payload = await place(caller, input_)
    assert payload["errors"] == [] and payload["order"] is not None, payload
    order: dict[str, Any] = payload["order"]
    return order


async def start_payment(
    caller: Api, order_id: str, provider: str | None = "devpay"
) -> dict[str, Any]:
    """payOrder with `provider` (None: the server's default)."""
    payload: dict[str, Any] = (await caller.data(PAY, {"o": order_id, "p": provider}))["payOrder"]
    return payload


def notice(ref: str, amount: int, currency: str = "CNY", status: str = "SUCCEEDED") -> bytes:
    body = {"paymentRef": ref, "amount": amount, "currency": currency, "status": status}
    return json.dumps(body).encode()


async def webhook(
    client: httpx.AsyncClient,
    runtime: Runtime,
    body: bytes,
    *,
    signature: str | None = None,
    provider: str = "devpay",
) -> httpx.Response:
    signed = sign_body(runtime.settings.payment_secret, body) if signature is None else signature
    return await client.post(
        f"/webhooks/payments/{provider}", content=body, headers={SIGNATURE_HEADER: signed}
    )


async def pay_online(
    client: httpx.AsyncClient, runtime: Runtime, member: Shopper, order: dict[str, Any]
) -> str:
    """payOrder, then the provider's signed notification; returns the payment reference."""
    started = await start_payment(member.api, order["id"])
    assert started["errors"] == [], started
    ref: str = started["payment"]["paymentRef"]
    hook = await webhook(client, runtime, notice(ref, order["total"]["amount"]))
    assert (hook.status_code, hook.json()) == (200, {"result": "paid"}), hook.text
    return ref


async def step(caller: Api, mutation: str, order_id: str) -> dict[str, Any]:
    """startPreparingOrder, markOrderReadyForPickup, shipOrder or markOrderDelivered."""
    data = await caller.data(
        f"mutation($o: ID!) {{ {mutation}(input: {{orderId: $o}}) {{ order {{ id status }} "
        "errors { code message field } } }",
        {"o": order_id},
    )
    payload: dict[str, Any] = data[mutation]
    return payload


async def stepped(caller: Api, mutation: str, order_id: str) -> str:
    payload = await step(caller, mutation, order_id)
    assert payload["errors"] == [], payload
    status: str = payload["order"]["status"]
    return status


async def read(caller: Api, order_id: str) -> Any:
    return (await caller.data(READ, {"id": order_id}))["order"]


async def in_store(caller: Api, order_id: str, amount: int, method: str = "CASH") -> Any:
    return (await caller.data(IN_STORE, {"o": order_id, "m": method, "a": amount}))[
        "recordInStorePayment"
    ]


async def pickup_of(who: Shopper, order: dict[str, Any]) -> Any:
    return (await who.api.data(PICKUP, {"id": order["id"]}))["order"]["pickup"]


async def complete(
    caller: Api, stores: dict[str, Any], code: str, store: str = "SH-A"
) -> dict[str, Any]:
    data = await caller.data(COMPLETE, {"l": lid(stores, store), "c": code})
    payload: dict[str, Any] = data["completePickup"]
    return payload


async def outbox(runtime: Runtime, order: dict[str, Any]) -> list[tuple[str, str]]:
    """(kind, dedupe key) of the order's outbox messages."""
    messages = await runtime.repos.outbox.for_orders([order_key(order)])
    return [(m.kind, m.dedupe_key) for m in messages]


class Story:
    """Moves orders along the way a shopper and the staff of SH-A would."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        runtime: Runtime,
        stores: dict[str, Any],
        mango: Variant,
        staff: Api,
    ):
        self.client, self.runtime, self.stores, self.mango = client, runtime, stores, mango
        self.staff = staff

    async def pending(self, who: Shopper, quantity: int = 2) -> dict[str, Any]:
        return await placed(
            who.api, order_input([(self.mango, quantity)], pickup=lid(self.stores, "SH-A"))
        )

    async def paid(self, who: Shopper, quantity: int = 2) -> dict[str, Any]:
        order = await self.pending(who, quantity)
        await pay_online(self.client, self.runtime, who, order)
        return order

    async def preparing(self, who: Shopper, quantity: int = 2) -> dict[str, Any]:
        order = await self.paid(who, quantity)
        assert await stepped(self.staff, "startPreparingOrder", order["id"]) == "PREPARING"
        return order

    async def ready(self, who: Shopper, quantity: int = 2) -> dict[str, Any]:
        order = await self.preparing(who, quantity)
        assert await stepped(self.staff, "markOrderReadyForPickup", order["id"]) == (
            "READY_FOR_PICKUP"
        )
        return order

    async def picked_up(self, who: Shopper, quantity: int = 2) -> dict[str, Any]:
        order = await self.ready(who, quantity)
        code = (await pickup_of(who, order))["code"]
        assert (await complete(self.staff, self.stores, code))["order"]["status"] == "PICKED_UP"
        return order
