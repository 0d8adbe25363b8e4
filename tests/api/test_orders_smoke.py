from __future__ import annotations

import json
from typing import Any

import httpx

from api.relay import encode_id
from domain.catalog.services import ProductDraft, VariantDraft, create_product
from domain.identity.model import Principal, PrincipalKind, StaffRole
from domain.ids import new_id
from domain.inventory.model import MovementKind
from domain.inventory.stock import Adjustment, adjust
from infra.payments import SIGNATURE_HEADER, sign_body
from infra.runtime import Runtime
from tests.support.api import Api

PLACE = """mutation($v: ID!, $l: ID!, $k: String) { placeOrder(input: {channel: MINI_PROGRAM,
  lines: [{variantId: $v, quantity: 2}], fulfilment: {pickup: {locationId: $l}},
  idempotencyKey: $k}) { order { id number status total { amount } } errors { code message field
  alternatives { locationId distance } } } }"""


async def test_pickup_story(
    api: Api, runtime: Runtime, stores: dict[str, Any], manager_a: Api, client: httpx.AsyncClient
) -> None:
    admin = Principal(kind=PrincipalKind.STAFF, id=new_id(), role=StaffRole.ADMIN)
    product = await create_product(
        runtime.catalog,
        ProductDraft(name="Mango", variants=[VariantDraft(code="M-1", name="1kg", price=1990)]),
    )
    variant = (await runtime.repos.catalog.variants_of([product.id]))[0]
    await adjust(
        runtime.inventory,
        admin,
        Adjustment(stores["SH-A"].id, variant.id, 5, MovementKind.RECEIPT, "delivery"),
        None,
    )
    login = await api.data(
        """mutation { loginWithWechat(input: {appId: "wx-demo", code: "test:shopper-1"}) {
        tokens { accessToken } } }"""
    )
    shopper = api.as_(login["loginWithWechat"]["tokens"]["accessToken"])
    v, a = encode_id("Variant", variant.id), encode_id("Location", stores["SH-A"].id)
    placed = (await shopper.data(PLACE, {"v": v, "l": a, "k": "cart-1"}))["placeOrder"]
    assert placed["errors"] == [], placed
    order = placed["order"]
    assert order["status"] == "PENDING_PAYMENT" and order["total"]["amount"] == 3980
    again = (await shopper.data(PLACE, {"v": v, "l": a, "k": "cart-1"}))["placeOrder"]
    assert again["order"]["id"] == order["id"]

    paid = await shopper.data(
        """mutation($o: ID!) { payOrder(input: {orderId: $o}) { payment { paymentRef payload }
        errors { code message } } }""",
        {"o": order["id"]},
    )
    ref = paid["payOrder"]["payment"]["paymentRef"]
    body = json.dumps(
        {"paymentRef": ref, "amount": 3980, "currency": "CNY", "status": "SUCCEEDED"}
    ).encode()
    forged = await client.post(
        "/webhooks/payments/devpay", content=body, headers={SIGNATURE_HEADER: "0" * 64}
    )
    assert forged.status_code == 401
    hook = await client.post(
        "/webhooks/payments/devpay",
        content=body,
        headers={SIGNATURE_HEADER: sign_body(runtime.settings.payment_secret, body)},
    )
    assert hook.json() == {"result": "paid"}
    repeat = await client.post(
        "/webhooks/payments/devpay",
        content=body,
        headers={SIGNATURE_HEADER: sign_body(runtime.settings.payment_secret, body)},
    )
    assert repeat.json() == {"result": "duplicate"}

    for step in ("startPreparingOrder", "markOrderReadyForPickup"):
        done = await manager_a.data(
            f"mutation($o: ID!) {{ {step}(input: {{orderId: $o}}) {{ order {{ status }} "
            "errors { code message } } }",
            {"o": order["id"]},
        )
        assert done[step]["errors"] == [], done
    mine = await shopper.data(
        "query($o: ID!) { order(id: $o) { status pickup { code qrPayload deadline } } }",
        {"o": order["id"]},
    )
    code = mine["order"]["pickup"]["code"]
    wrong = await manager_a.data(
        """mutation($l: ID!) { completePickup(input: {locationId: $l, pickupCode: "000000"}) {
        errors { code } } }""",
        {"l": a},
    )
    assert wrong["completePickup"]["errors"][0]["code"] in ("INVALID_PICKUP_CODE",)
    done = await manager_a.data(
        """mutation($l: ID!, $c: String!) { completePickup(input: {locationId: $l, pickupCode: $c})
        { order { status timeline { toStatus actor } } errors { code message } } }""",
        {"l": a, "c": code},
    )
    assert done["completePickup"]["order"]["status"] == "PICKED_UP", done
    level = await runtime.repos.inventory.level(stores["SH-A"].id, variant.id)
    assert level is not None and (level.on_hand, level.reserved) == (3, 0)
    sums = await runtime.repos.inventory.ledger_sums()
    assert sums[(stores["SH-A"].id, variant.id)] == (3, 0)
