from __future__ import annotations

from typing import Any

from domain.catalog.services import ProductDraft, VariantDraft, create_product
from infra.runtime import Runtime
from tests.support.api import Api

ADJUST = """mutation($l: ID!, $v: ID!, $d: Int!, $k: String) { inventoryAdjust(input: {
  locationId: $l, variantId: $v, delta: $d, kind: RECEIPT, reason: "delivery", idempotencyKey: $k})
  { stockLevel { onHand reserved available } errors { code message field } } }"""

AVAILABILITY = """query($v: ID!) { variant(id: $v) { totalAvailable availability(
  near: {latitude: 31.19, longitude: 121.44}) { location { code } status distance quantity } } }"""


async def test_adjust_and_shopper_availability(
    admin: Api, api: Api, runtime: Runtime, stores: dict[str, Any]
) -> None:
    product = await create_product(
        runtime.catalog,
        ProductDraft(name="Milk", variants=[VariantDraft(code="MILK-1", name="1L", price=1290)]),
    )
    variant = (await runtime.repos.catalog.variants_of([product.id]))[0]
    from api.relay import encode_id

    v, a, b = (
        encode_id("Variant", variant.id),
        encode_id("Location", stores["SH-A"].id),
        encode_id("Location", stores["SH-B"].id),
    )
    first = await admin.data(ADJUST, {"l": a, "v": v, "d": 12, "k": "r-1"})
    again = await admin.data(ADJUST, {"l": a, "v": v, "d": 12, "k": "r-1"})
    assert first["inventoryAdjust"]["stockLevel"]["onHand"] == 12
    assert again["inventoryAdjust"]["stockLevel"]["onHand"] == 12  # the retry did nothing
    await admin.data(ADJUST, {"l": b, "v": v, "d": 3, "k": None})
    shopper = await api.data(AVAILABILITY, {"v": v})
    rows = shopper["variant"]["availability"]
    assert [r["location"]["code"] for r in rows] == ["SH-B", "SH-A"]
    assert [r["status"] for r in rows] == ["LOW_STOCK", "IN_STOCK"]
    assert all(r["quantity"] is None for r in rows)
    staff = await admin.data(AVAILABILITY, {"v": v})
    assert [r["quantity"] for r in staff["variant"]["availability"]] == [3, 12]
    assert shopper["variant"]["totalAvailable"] == 0  # neither store ships online
