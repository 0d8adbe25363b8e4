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
from domain.loyalty.ledger import credit
from domain.loyalty.model import EntryKind
from infra.payments import SIGNATURE_HEADER, sign_body
from infra.runtime import Runtime
from tests.support.api import Api

PLACE = """mutation($v: ID!, $l: ID!, $p: Int!) { placeOrder(input: {channel: MINI_PROGRAM,
  lines: [{variantId: $v, quantity: 2}], fulfilment: {pickup: {locationId: $l}},
  pointsToRedeem: $p}) { order { id total { amount } amountDue { amount } pointsRedeemed }
  errors { code message field } } }"""
POINTS = (
    "{ me { id points { balance held available history(first: 10) { nodes { kind amount } } } } }"
)


async def _setup(api: Api, runtime: Runtime, stores: dict[str, Any]) -> tuple[Api, str, str, Any]:
    admin = Principal(kind=PrincipalKind.STAFF, id=new_id(), role=StaffRole.ADMIN)
    product = await create_product(
        runtime.catalog,
        ProductDraft(name="Tea", variants=[VariantDraft(code="T-1", name="box", price=1990)]),
    )
    variant = (await runtime.repos.catalog.variants_of([product.id]))[0]
    await adjust(
        runtime.inventory,
        admin,
        Adjustment(stores["SH-A"].id, variant.id, 9, MovementKind.RECEIPT, "in"),
        None,
    )
    login = await api.data(
        """mutation { loginWithWechat(input: {appId: "wx-demo", code: "test:points-1"}) {
        tokens { accessToken } member { id } } }"""
    )
    member = api.as_(login["loginWithWechat"]["tokens"]["accessToken"])
    member_id = (await member.data("{ me { id } }"))["me"]["id"]
    from api.relay import decode_id

    async with runtime.loyalty.uow() as uow:
        await credit(
            runtime.loyalty,
            uow,
            decode_id(member_id, "Member"),
            1000,
            EntryKind.ADJUST,
            "test",
            "TEST",
            "starting points",
            "seed-points",
        )
    return (
        member,
        encode_id("Variant", variant.id),
        encode_id("Location", stores["SH-A"].id),
        variant,
    )


async def test_redeem_at_checkout_then_earn_on_pickup(
    api: Api, runtime: Runtime, stores: dict[str, Any], manager_a: Api, client: httpx.AsyncClient
) -> None:
    member, v, a, _ = await _setup(api, runtime, stores)
    capped = (await member.data(PLACE, {"v": v, "l": a, "p": 5000}))["placeOrder"]
    assert capped["errors"][0]["code"] == "POINTS_CAP_EXCEEDED"
    placed = (await member.data(PLACE, {"v": v, "l": a, "p": 500}))["placeOrder"]
    order = placed["order"]
    assert order["amountDue"]["amount"] == 3980 - 500 and order["pointsRedeemed"] == 500
    points = (await member.data(POINTS))["me"]["points"]
    assert (points["balance"], points["held"], points["available"]) == (1000, 500, 500)

    pay = await member.data(
        "mutation($o: ID!) { payOrder(input: {orderId: $o}) { payment { paymentRef } } }",
        {"o": order["id"]},
    )
    body = json.dumps(
        {
            "paymentRef": pay["payOrder"]["payment"]["paymentRef"],
            "amount": 3480,
            "currency": "CNY",
            "status": "SUCCEEDED",
        }
    ).encode()
    hook = await client.post(
        "/webhooks/payments/devpay",
        content=body,
        headers={SIGNATURE_HEADER: sign_body(runtime.settings.payment_secret, body)},
    )
    assert hook.json() == {"result": "paid"}
    points = (await member.data(POINTS))["me"]["points"]
    assert (points["balance"], points["held"]) == (500, 0)

    for step in ("startPreparingOrder", "markOrderReadyForPickup"):
        await manager_a.data(
            f"mutation($o: ID!) {{ {step}(input: {{orderId: $o}}) {{ errors {{ code }} }} }}",
            {"o": order["id"]},
        )
    code = (
        await member.data(
            "query($o: ID!) { order(id: $o) { pickup { code } } }", {"o": order["id"]}
        )
    )["order"]["pickup"]["code"]
    done = await manager_a.data(
        """mutation($l: ID!, $c: String!) { completePickup(input: {locationId: $l, pickupCode: $c})
        { errors { code } } }""",
        {"l": a, "c": code},
    )
    assert done["completePickup"]["errors"] == []
    points = (await member.data(POINTS))["me"]["points"]
    assert points["balance"] == 500 + 34  # 34 yuan paid in money, 1 point per yuan
    kinds = [n["kind"] for n in points["history"]["nodes"]]
    assert kinds[:3] == ["EARN", "REDEEM", "HOLD"]


async def test_cancel_releases_the_hold(api: Api, runtime: Runtime, stores: dict[str, Any]) -> None:
    member, v, a, _ = await _setup(api, runtime, stores)
    order = (await member.data(PLACE, {"v": v, "l": a, "p": 300}))["placeOrder"]["order"]
    cancelled = await member.data(
        """mutation($o: ID!) { cancelOrder(input: {orderId: $o, reason: "changed my mind"}) {
        errors { code } } }""",
        {"o": order["id"]},
    )
    assert cancelled["cancelOrder"]["errors"] == []
    points = (await member.data(POINTS))["me"]["points"]
    assert (points["balance"], points["held"], points["available"]) == (1000, 0, 1000)


async def test_only_the_member_spends_their_points_at_checkout(
    api: Api, runtime: Runtime, stores: dict[str, Any], clerk_a: Api, admin: Api
) -> None:
    member, v, a, _ = await _setup(api, runtime, stores)
    member_id = (await member.data("{ me { id } }"))["me"]["id"]
    for staff in (clerk_a, admin):  # a till or a console may order for the member...
        placed = await staff.data(
            """mutation($v: ID!, $l: ID!, $m: ID!) { placeOrder(input: {channel: POS,
            memberId: $m, lines: [{variantId: $v, quantity: 1}],
            fulfilment: {pickup: {locationId: $l}}, pointsToRedeem: 300}) {
            order { id } errors { code field } } }""",
            {"v": v, "l": a, "m": member_id},
        )
        # ...but not spend the member's points without them
        assert placed["placeOrder"] == {
            "order": None,
            "errors": [{"code": "FORBIDDEN", "field": ["pointsToRedeem"]}],
        }
    points = (await member.data(POINTS))["me"]["points"]
    assert (points["balance"], points["held"], points["available"]) == (1000, 0, 1000)
    assert (await member.data(PLACE, {"v": v, "l": a, "p": 300}))["placeOrder"]["errors"] == []
