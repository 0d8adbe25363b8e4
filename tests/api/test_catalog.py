"""Catalog over GraphQL: products, variants (SKUs), categories, archiving, search and paging."""

from __future__ import annotations

import asyncio
import base64
import re
from datetime import timedelta
from typing import Any

from tests.support import MovableClock as MovableClock
from tests.support.api import Api
from tests.support.catalog import (
    ERRORS,
    PRODUCT,
    PRODUCT_ARCHIVE,
    PRODUCT_BY_ID,
    PRODUCT_CREATE,
    VARIANT,
    VARIANT_UPDATE,
    create_product,
    mutate,
    variant,
)

PRODUCT_UPDATE = f"""mutation($input: ProductUpdateInput!) {{
  productUpdate(input: $input) {{ product {{ {PRODUCT} }} {ERRORS} }} }}"""
PRODUCT_RESTORE = f"""mutation($id: ID!) {{
  productRestore(input: {{id: $id}}) {{ product {{ {PRODUCT} }} {ERRORS} }} }}"""
VARIANT_CREATE = f"""mutation($input: VariantCreateInput!) {{
  variantCreate(input: $input) {{ variant {{ {VARIANT} product {{ id }} }} {ERRORS} }} }}"""
CATEGORY_CREATE = f"""mutation($input: CategoryCreateInput!) {{
  categoryCreate(input: $input) {{
    category {{ id name slug parent {{ id name }} }} {ERRORS} }} }}"""

PRODUCTS = """query($first: Int, $after: String, $search: String, $categoryId: ID,
                    $includeArchived: Boolean! = false) {
  products(first: $first, after: $after, search: $search, categoryId: $categoryId,
           includeArchived: $includeArchived) {
    edges { cursor node { id name status } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  } }"""
VARIANT_BY_CODE = f"query($code: String!) {{ variantByCode(code: $code) {{ {VARIANT} }} }}"
VARIANT_BY_BARCODE = (
    f"query($barcode: String!) {{ variantByBarcode(barcode: $barcode) {{ {VARIANT} }} }}"
)
VARIANT_BY_ID = f"query($id: ID!) {{ variant(id: $id) {{ {VARIANT} }} }}"
NODE = """query($id: ID!) { node(id: $id) {
  __typename id
  ... on Product { name }
  ... on Variant { code }
  ... on Category { slug }
  ... on Location { code }
} }"""

EAN13 = "6901234567892"
EAN13_OTHER = "4006381333931"
EAN8 = "96385074"


async def create_category(api: Api, name: str, **extra: Any) -> Any:
    payload = await mutate(
        api, CATEGORY_CREATE, "categoryCreate", {"input": {"name": name, **extra}}
    )
    assert payload["errors"] == [], payload
    return payload["category"]


async def product_names(api: Api, **variables: Any) -> list[str]:
    data = await api.data(PRODUCTS, {"first": 100, **variables})
    return [edge["node"]["name"] for edge in data["products"]["edges"]]


def only_error(payload: dict[str, Any]) -> tuple[str, list[str] | None]:
    assert len(payload["errors"]) == 1, payload
    error = payload["errors"][0]
    assert error["message"], error
    return error["code"], error["field"]


def global_id(type_name: str, value: str) -> str:
    return base64.b64encode(f"{type_name}:{value}".encode()).decode()


def type_of(global_id_: str) -> str:
    return base64.b64decode(global_id_).decode().partition(":")[0]


# --------------------------------------------------------------------------- create / update


async def test_product_create_with_variants_attributes_and_category(admin: Api, api: Api) -> None:
    fruit = await create_category(admin, "Fruit", slug="fruit")
    product = await create_product(
        admin,
        "  Green Tea 500ml ",
        variant(
            "TEA-500",
            price=450,
            barcode=f" {EAN13} ",
            attributes=[{"name": "size", "value": "500ml"}, {"name": "pack", "value": "single"}],
        ),
        variant("TEA-500-X6", price=2400, barcode=EAN8),
        description="Unsweetened.",
        categoryId=fruit["id"],
    )
    assert type_of(product["id"]) == "Product"
    assert product["name"] == "Green Tea 500ml"
    assert re.fullmatch(r"green-tea-500ml-[0-9a-f]{6}", product["slug"]), product["slug"]
    assert product["description"] == "Unsweetened."
    assert product["status"] == "ACTIVE"
    assert product["category"] == {"id": fruit["id"], "name": "Fruit"}
    assert product["priceFrom"] == {"amount": 450}
    first, second = product["variants"]
    assert first["code"] == "TEA-500"
    assert first["barcode"] == EAN13
    assert first["price"] == {"amount": 450, "currency": "CNY", "formatted": "¥4.50"}
    # The order of attributes is not kept by every database (PostgreSQL jsonb sorts keys).
    assert sorted(first["attributes"], key=lambda a: a["name"]) == [
        {"name": "pack", "value": "single"},
        {"name": "size", "value": "500ml"},
    ]
    assert first["status"] == "ACTIVE"
    assert second["code"] == "TEA-500-X6"
    assert second["price"]["formatted"] == "¥24.00"
    assert second["barcode"] == EAN8

    # Anyone reads it back, identically.
    fetched = (await api.data(PRODUCT_BY_ID, {"id": product["id"]}))["product"]
    assert fetched == product


async def test_product_create_without_variants_and_explicit_slug(admin: Api) -> None:
    product = await create_product(admin, "Gift Card", slug="Gift-Card")
    assert product["slug"] == "gift-card"
    assert product["variants"] == []
    assert product["priceFrom"] is None
    assert product["category"] is None


async def test_product_update_changes_only_given_fields(
    admin: Api, api: Api, clock: MovableClock
) -> None:
    drinks = await create_category(admin, "Drinks")
    product = await create_product(admin, "Tea", variant("TEA-1"), description="Old text")
    clock.advance(timedelta(minutes=5))

    payload = await mutate(
        admin,
        PRODUCT_UPDATE,
        "productUpdate",
        {"input": {"id": product["id"], "name": " Black Tea ", "categoryId": drinks["id"]}},
    )
    assert payload["errors"] == []
    updated = payload["product"]
    assert updated["name"] == "Black Tea"
    assert updated["description"] == "Old text"
    assert updated["slug"] == product["slug"]
    assert updated["category"]["id"] == drinks["id"]
    assert updated["createdAt"] == product["createdAt"]
    assert updated["updatedAt"] > product["updatedAt"]

    payload = await mutate(
        admin,
        PRODUCT_UPDATE,
        "productUpdate",
        {"input": {"id": product["id"], "description": "New text", "slug": "black-tea"}},
    )
    assert payload["errors"] == []
    fetched = (await api.data(PRODUCT_BY_ID, {"id": product["id"]}))["product"]
    assert fetched["name"] == "Black Tea"
    assert fetched["description"] == "New text"
    assert fetched["slug"] == "black-tea"
    assert fetched["category"]["id"] == drinks["id"]


async def test_duplicate_slug_on_create_and_update(admin: Api) -> None:
    await create_product(admin, "Tea", slug="tea")
    other = await create_product(admin, "Coffee", slug="coffee")

    payload = await mutate(
        admin, PRODUCT_CREATE, "productCreate", {"input": {"name": "Tea 2", "slug": "tea"}}
    )
    assert only_error(payload) == ("DUPLICATE_SLUG", ["slug"])
    assert payload["product"] is None

    payload = await mutate(
        admin, PRODUCT_UPDATE, "productUpdate", {"input": {"id": other["id"], "slug": "TEA"}}
    )
    assert only_error(payload) == ("DUPLICATE_SLUG", ["slug"])
    assert await product_names(admin) == ["Tea", "Coffee"]

    # Keeping one's own slug is not a conflict.
    payload = await mutate(
        admin, PRODUCT_UPDATE, "productUpdate", {"input": {"id": other["id"], "slug": "coffee"}}
    )
    assert payload["errors"] == []


async def test_product_create_with_unknown_category_creates_nothing(admin: Api) -> None:
    fruit = await create_category(admin, "Fruit")
    unknown = global_id("Category", "0190a000-0000-7000-8000-000000000000")
    assert unknown != fruit["id"]
    payload = await mutate(
        admin,
        PRODUCT_CREATE,
        "productCreate",
        {"input": {"name": "Apple", "categoryId": unknown, "variants": [variant("APPLE-1")]}},
    )
    assert only_error(payload) == ("NOT_FOUND", ["categoryId"])
    assert await product_names(admin) == []
    assert (await admin.data(VARIANT_BY_CODE, {"code": "APPLE-1"}))["variantByCode"] is None


async def test_catalog_writes_need_admin(api: Api, clerk_a: Api) -> None:
    for caller, code in ((api, "UNAUTHENTICATED"), (clerk_a, "FORBIDDEN")):
        body = await caller(PRODUCT_CREATE, {"input": {"name": "Tea"}})
        assert body["data"] is None
        assert [e["extensions"]["code"] for e in body["errors"]] == [code]
    assert await product_names(api) == []


# --------------------------------------------------------------------------- archive / restore


async def test_archive_hides_product_and_variants_from_the_public(admin: Api, api: Api) -> None:
    kept = await create_product(admin, "Kept", variant("KEPT-1"))
    product = await create_product(
        admin, "Old Tea", variant("OLD-1", barcode=EAN13), variant("OLD-2")
    )
    variant_id = product["variants"][0]["id"]

    payload = await mutate(admin, PRODUCT_ARCHIVE, "productArchive", {"id": product["id"]})
    assert payload["errors"] == []
    assert payload["product"]["status"] == "ARCHIVED"
    assert [v["status"] for v in payload["product"]["variants"]] == ["ARCHIVED", "ARCHIVED"]
    assert payload["product"]["priceFrom"] is None

    # Anonymous callers no longer see it anywhere.
    assert await product_names(api) == ["Kept"]
    assert await product_names(api, search="Old") == []
    assert (await api.data(PRODUCT_BY_ID, {"id": product["id"]}))["product"] is None
    assert (await api.data(VARIANT_BY_ID, {"id": variant_id}))["variant"] is None
    assert (await api.data(VARIANT_BY_CODE, {"code": "OLD-1"}))["variantByCode"] is None
    assert (await api.data(VARIANT_BY_BARCODE, {"barcode": EAN13}))["variantByBarcode"] is None
    assert (await api.data(NODE, {"id": product["id"]}))["node"] is None
    assert (await api.data(NODE, {"id": variant_id}))["node"] is None
    assert (await api.data(NODE, {"id": kept["id"]}))["node"]["name"] == "Kept"

    # Anonymous callers may not ask for archived items at all.
    body = await api(PRODUCTS, {"includeArchived": True})
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert body["errors"][0]["path"] == ["products"]

    # An ADMIN sees archived items when asking for them; the default list is still ACTIVE only.
    assert await product_names(admin) == ["Kept"]
    data = await admin.data(PRODUCTS, {"first": 10, "includeArchived": True})
    assert [(e["node"]["name"], e["node"]["status"]) for e in data["products"]["edges"]] == [
        ("Kept", "ACTIVE"),
        ("Old Tea", "ARCHIVED"),
    ]
    assert (await admin.data(PRODUCT_BY_ID, {"id": product["id"]}))["product"]["status"] == (
        "ARCHIVED"
    )
    by_code = (await admin.data(VARIANT_BY_CODE, {"code": "OLD-1"}))["variantByCode"]
    assert by_code["status"] == "ARCHIVED"
    by_barcode = (await admin.data(VARIANT_BY_BARCODE, {"barcode": EAN13}))["variantByBarcode"]
    assert by_barcode["code"] == "OLD-1"
    assert (await admin.data(NODE, {"id": variant_id}))["node"]["code"] == "OLD-1"


async def test_restore_brings_product_and_variants_back(admin: Api, api: Api) -> None:
    product = await create_product(admin, "Tea", variant("TEA-1", price=300))
    await mutate(admin, PRODUCT_ARCHIVE, "productArchive", {"id": product["id"]})
    assert await product_names(api) == []

    payload = await mutate(admin, PRODUCT_RESTORE, "productRestore", {"id": product["id"]})
    assert payload["errors"] == []
    assert payload["product"]["status"] == "ACTIVE"
    assert [v["status"] for v in payload["product"]["variants"]] == ["ACTIVE"]
    assert payload["product"]["priceFrom"] == {"amount": 300}
    assert await product_names(api) == ["Tea"]
    assert (await api.data(VARIANT_BY_CODE, {"code": "TEA-1"}))["variantByCode"]["status"] == (
        "ACTIVE"
    )


async def test_variant_create_on_archived_product_is_refused(admin: Api) -> None:
    product = await create_product(admin, "Tea", variant("TEA-1"))
    await mutate(admin, PRODUCT_ARCHIVE, "productArchive", {"id": product["id"]})

    payload = await mutate(
        admin,
        VARIANT_CREATE,
        "variantCreate",
        {"input": {"productId": product["id"], "variant": variant("TEA-2")}},
    )
    assert only_error(payload) == ("ARCHIVED", ["productId"])
    assert payload["variant"] is None
    assert (await admin.data(VARIANT_BY_CODE, {"code": "TEA-2"}))["variantByCode"] is None


# --------------------------------------------------------------------------- variants


async def test_variant_create_adds_a_sku_to_a_product(admin: Api, api: Api) -> None:
    product = await create_product(admin, "Tea", variant("TEA-1", price=500))
    payload = await mutate(
        admin,
        VARIANT_CREATE,
        "variantCreate",
        {
            "input": {
                "productId": product["id"],
                "variant": variant(
                    "TEA-2", price=250, barcode=EAN13, attributes=[{"name": "size", "value": "S"}]
                ),
            }
        },
    )
    assert payload["errors"] == []
    created = payload["variant"]
    assert created["product"]["id"] == product["id"]
    assert created["attributes"] == [{"name": "size", "value": "S"}]
    fetched = (await api.data(PRODUCT_BY_ID, {"id": product["id"]}))["product"]
    assert [v["code"] for v in fetched["variants"]] == ["TEA-1", "TEA-2"]
    assert fetched["priceFrom"] == {"amount": 250}


async def test_variant_update_price_and_barcode(admin: Api, api: Api) -> None:
    product = await create_product(
        admin,
        "Tea",
        variant("TEA-1", price=500, barcode=EAN13, attributes=[{"name": "size", "value": "L"}]),
    )
    variant_id = product["variants"][0]["id"]

    payload = await mutate(
        admin,
        VARIANT_UPDATE,
        "variantUpdate",
        {"input": {"id": variant_id, "price": 2590, "barcode": EAN13_OTHER}},
    )
    assert payload["errors"] == []
    updated = payload["variant"]
    assert updated["price"] == {"amount": 2590, "currency": "CNY", "formatted": "¥25.90"}
    assert updated["barcode"] == EAN13_OTHER
    assert updated["name"] == "TEA-1 each"
    assert updated["attributes"] == [{"name": "size", "value": "L"}]
    assert (await api.data(VARIANT_BY_BARCODE, {"barcode": EAN13}))["variantByBarcode"] is None
    found = (await api.data(VARIANT_BY_BARCODE, {"barcode": EAN13_OTHER}))["variantByBarcode"]
    assert found["id"] == variant_id

    # "" removes the barcode; omitting it leaves it alone.
    payload = await mutate(
        admin, VARIANT_UPDATE, "variantUpdate", {"input": {"id": variant_id, "barcode": ""}}
    )
    assert payload["errors"] == []
    assert payload["variant"]["barcode"] is None
    assert payload["variant"]["price"]["amount"] == 2590
    assert (await api.data(VARIANT_BY_BARCODE, {"barcode": EAN13_OTHER}))[
        "variantByBarcode"
    ] is None

    payload = await mutate(
        admin,
        VARIANT_UPDATE,
        "variantUpdate",
        {"input": {"id": variant_id, "price": 0, "attributes": []}},
    )
    assert payload["errors"] == []
    assert payload["variant"]["price"]["formatted"] == "¥0.00"
    assert payload["variant"]["attributes"] == []
    assert payload["variant"]["barcode"] is None

    # The freed barcode can be given to another SKU.
    other = await create_product(admin, "Coffee", variant("COF-1", barcode=EAN13_OTHER))
    assert other["variants"][0]["barcode"] == EAN13_OTHER


async def test_variant_by_code_and_barcode(admin: Api, api: Api) -> None:
    product = await create_product(
        admin, "Tea", variant("TEA-1", barcode=EAN13), variant("TEA-2", barcode=EAN8)
    )
    by_code = (await api.data(VARIANT_BY_CODE, {"code": "TEA-2"}))["variantByCode"]
    assert by_code == product["variants"][1]
    by_barcode = (await api.data(VARIANT_BY_BARCODE, {"barcode": EAN13}))["variantByBarcode"]
    assert by_barcode == product["variants"][0]
    assert (await api.data(VARIANT_BY_CODE, {"code": " TEA-1 "}))["variantByCode"]["barcode"] == (
        EAN13
    )
    assert (await api.data(VARIANT_BY_CODE, {"code": "TEA-3"}))["variantByCode"] is None
    assert (await api.data(VARIANT_BY_CODE, {"code": ""}))["variantByCode"] is None
    assert (await api.data(VARIANT_BY_BARCODE, {"barcode": EAN13_OTHER}))[
        "variantByBarcode"
    ] is None
    data = await api.data(
        "query($code: String!) { variantByCode(code: $code) { product { id name } } }",
        {"code": "TEA-1"},
    )
    assert data["variantByCode"]["product"] == {"id": product["id"], "name": "Tea"}


# --------------------------------------------------------------------------- lists


async def test_search_matches_name_and_sku_code(admin: Api, api: Api) -> None:
    await create_product(admin, "Green Tea", variant("GT-500"))
    await create_product(admin, "Black Coffee", variant("BC-1", barcode=EAN13))
    await create_product(admin, "Oolong", variant("TEA-OOL"))
    await create_product(admin, "Water", variant("WTR-1"), variant("WTR-2"))

    assert await product_names(api, search="tea") == ["Green Tea", "Oolong"]
    assert await product_names(api, search="COFFEE") == ["Black Coffee"]
    assert await product_names(api, search="bc-1") == ["Black Coffee"]
    assert await product_names(api, search="WTR") == ["Water"]  # once, though two SKUs match
    assert await product_names(api, search=EAN13) == ["Black Coffee"]
    assert await product_names(api, search="  Oolong  ") == ["Oolong"]
    assert await product_names(api, search="nothing like it") == []
    assert await product_names(api, search="") == ["Green Tea", "Black Coffee", "Oolong", "Water"]


async def test_filter_by_category(admin: Api, api: Api) -> None:
    drinks = await create_category(admin, "Drinks")
    snacks = await create_category(admin, "Snacks")
    await create_product(admin, "Tea", variant("TEA-1"), categoryId=drinks["id"])
    await create_product(admin, "Chips", variant("CHIPS-1"), categoryId=snacks["id"])
    await create_product(admin, "Cola", variant("COLA-1"), categoryId=drinks["id"])
    await create_product(admin, "Loose", variant("LOOSE-1"))

    assert await product_names(api, categoryId=drinks["id"]) == ["Tea", "Cola"]
    assert await product_names(api, categoryId=snacks["id"]) == ["Chips"]
    assert await product_names(api, categoryId=drinks["id"], search="cola") == ["Cola"]
    empty = await create_category(admin, "Empty")
    assert await product_names(api, categoryId=empty["id"]) == []


async def test_keyset_pagination_walks_every_product_once_in_creation_order(
    admin: Api, api: Api
) -> None:
    created = []
    for index in range(25):
        product = await create_product(admin, f"Product {index:02d}", variant(f"P-{index:02d}"))
        created.append(product["id"])

    seen: list[str] = []
    pages: list[tuple[int, bool, bool]] = []
    after = None
    while True:
        data = await api.data(PRODUCTS, {"first": 10, "after": after})
        connection = data["products"]
        edges, info = connection["edges"], connection["pageInfo"]
        pages.append((len(edges), info["hasNextPage"], info["hasPreviousPage"]))
        seen.extend(edge["node"]["id"] for edge in edges)
        assert info["startCursor"] == edges[0]["cursor"]
        assert info["endCursor"] == edges[-1]["cursor"]
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
        assert len(pages) < 5, "pagination does not end"

    assert pages == [(10, True, False), (10, True, True), (5, False, True)]
    assert seen == created

    # Past the end: an empty page, not an error.
    data = await api.data(PRODUCTS, {"first": 10, "after": info["endCursor"]})
    assert data["products"]["edges"] == []
    assert data["products"]["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": True,
        "startCursor": None,
        "endCursor": None,
    }

    # Without `first` a page holds 20.
    data = await api.data(PRODUCTS, {})
    assert [edge["node"]["id"] for edge in data["products"]["edges"]] == created[:20]
    assert data["products"]["pageInfo"]["hasNextPage"] is True


async def test_pagination_of_a_filtered_list(admin: Api, api: Api) -> None:
    expected = []
    for index in range(7):
        name = f"{'Tea' if index % 2 == 0 else 'Coffee'} {index}"
        await create_product(admin, name, variant(f"SKU-{index}"))
        if name.startswith("Tea"):
            expected.append(name)

    names: list[str] = []
    after = None
    for _ in range(5):
        data = await api.data(PRODUCTS, {"first": 3, "after": after, "search": "tea"})
        names.extend(edge["node"]["name"] for edge in data["products"]["edges"])
        if not data["products"]["pageInfo"]["hasNextPage"]:
            break
        after = data["products"]["pageInfo"]["endCursor"]
    assert names == expected == ["Tea 0", "Tea 2", "Tea 4", "Tea 6"]


async def test_categories_with_parent(admin: Api, api: Api) -> None:
    food = await create_category(admin, "Food")
    fruit = await create_category(admin, "Fruit", parentId=food["id"])
    assert fruit["parent"] == {"id": food["id"], "name": "Food"}
    assert re.fullmatch(r"fruit-[0-9a-f]{6}", fruit["slug"]), fruit["slug"]
    await create_category(admin, "Apples", slug="apples", parentId=fruit["id"])

    data = await api.data("{ categories { name slug parent { name parent { name } } } }")
    assert [(c["name"], c["parent"]) for c in data["categories"]] == [
        ("Apples", {"name": "Fruit", "parent": {"name": "Food"}}),
        ("Food", None),
        ("Fruit", {"name": "Food", "parent": None}),
    ]

    payload = await mutate(
        admin, CATEGORY_CREATE, "categoryCreate", {"input": {"name": "More", "slug": "apples"}}
    )
    assert only_error(payload) == ("DUPLICATE_SLUG", ["slug"])
    unknown = global_id("Category", "0190a000-0000-7000-8000-000000000000")
    payload = await mutate(
        admin, CATEGORY_CREATE, "categoryCreate", {"input": {"name": "Orphan", "parentId": unknown}}
    )
    assert only_error(payload) == ("NOT_FOUND", ["parentId"])
    payload = await mutate(
        admin,
        CATEGORY_CREATE,
        "categoryCreate",
        {"input": {"name": "Wrong", "parentId": global_id("Product", unknown[-36:])}},
    )
    assert payload["errors"][0]["code"] == "INVALID_ID"
    assert len((await api.data("{ categories { id } }"))["categories"]) == 3


async def test_node_returns_each_type(admin: Api, api: Api, stores: dict[str, Any]) -> None:
    category = await create_category(admin, "Drinks", slug="drinks")
    product = await create_product(admin, "Tea", variant("TEA-1"), categoryId=category["id"])
    locations = await api.data('{ locationByCode(code: "SH-A") { id } }')
    location_id = locations["locationByCode"]["id"]
    assert base64.b64decode(location_id).decode() == f"Location:{stores['SH-A'].id}"

    cases = [
        (product["id"], "Product", {"name": "Tea"}),
        (product["variants"][0]["id"], "Variant", {"code": "TEA-1"}),
        (category["id"], "Category", {"slug": "drinks"}),
        (location_id, "Location", {"code": "SH-A"}),
    ]
    for node_id, type_name, fields in cases:
        assert type_of(node_id) == type_name
        node = (await api.data(NODE, {"id": node_id}))["node"]
        assert node == {"__typename": type_name, "id": node_id, **fields}

    # A well-formed id of nothing is null, not an error.
    missing = global_id("Product", "0190a000-0000-7000-8000-000000000000")
    assert (await api.data(NODE, {"id": missing}))["node"] is None


# --------------------------------------------------------------------------- uniqueness


async def test_duplicate_sku_code_across_products(admin: Api, api: Api) -> None:
    first = await create_product(admin, "Tea", variant("DUP-1"))
    payload = await mutate(
        admin,
        PRODUCT_CREATE,
        "productCreate",
        {"input": {"name": "Coffee", "variants": [variant("COF-1"), variant(" DUP-1 ")]}},
    )
    assert only_error(payload) == ("DUPLICATE_CODE", ["variants", "1", "code"])
    assert payload["product"] is None
    # Nothing of the failed product was kept, not even its first variant.
    assert await product_names(admin, includeArchived=True) == ["Tea"]
    assert (await api.data(VARIANT_BY_CODE, {"code": "COF-1"}))["variantByCode"] is None

    payload = await mutate(
        admin,
        PRODUCT_CREATE,
        "productCreate",
        {"input": {"name": "Coffee", "variants": [variant("DUP-1")]}},
    )
    assert only_error(payload) == ("DUPLICATE_CODE", ["variants", "0", "code"])

    payload = await mutate(
        admin,
        VARIANT_CREATE,
        "variantCreate",
        {"input": {"productId": first["id"], "variant": variant("DUP-1")}},
    )
    assert only_error(payload) == ("DUPLICATE_CODE", ["variant", "code"])

    # Two variants of one new product with one code.
    payload = await mutate(
        admin,
        PRODUCT_CREATE,
        "productCreate",
        {"input": {"name": "Juice", "variants": [variant("J-1"), variant("J-1")]}},
    )
    assert only_error(payload)[0] == "DUPLICATE_CODE"
    assert await product_names(admin) == ["Tea"]


async def test_duplicate_barcode(admin: Api, api: Api) -> None:
    first = await create_product(admin, "Tea", variant("TEA-1", barcode=EAN13))
    second = await create_product(admin, "Coffee", variant("COF-1", barcode=EAN8))

    payload = await mutate(
        admin,
        PRODUCT_CREATE,
        "productCreate",
        {"input": {"name": "Juice", "variants": [variant("J-1", barcode=f" {EAN13}")]}},
    )
    assert only_error(payload) == ("DUPLICATE_BARCODE", ["variants", "0", "barcode"])

    # Within one new product.
    payload = await mutate(
        admin,
        PRODUCT_CREATE,
        "productCreate",
        {
            "input": {
                "name": "Juice",
                "variants": [
                    variant("J-1", barcode=EAN13_OTHER),
                    variant("J-2", barcode=EAN13_OTHER),
                ],
            }
        },
    )
    assert only_error(payload) == ("DUPLICATE_BARCODE", ["variants", "1", "barcode"])

    payload = await mutate(
        admin,
        VARIANT_CREATE,
        "variantCreate",
        {"input": {"productId": first["id"], "variant": variant("TEA-2", barcode=EAN8)}},
    )
    assert only_error(payload) == ("DUPLICATE_BARCODE", ["variant", "barcode"])

    coffee_variant = second["variants"][0]["id"]
    payload = await mutate(
        admin, VARIANT_UPDATE, "variantUpdate", {"input": {"id": coffee_variant, "barcode": EAN13}}
    )
    assert only_error(payload) == ("DUPLICATE_BARCODE", ["barcode"])
    assert (await api.data(VARIANT_BY_CODE, {"code": "COF-1"}))["variantByCode"]["barcode"] == EAN8

    # Setting a variant's own barcode again is fine.
    payload = await mutate(
        admin, VARIANT_UPDATE, "variantUpdate", {"input": {"id": coffee_variant, "barcode": EAN8}}
    )
    assert payload["errors"] == []
    assert await product_names(admin) == ["Tea", "Coffee"]


async def test_concurrent_creates_of_one_sku_code_let_exactly_one_win(admin: Api, api: Api) -> None:
    async def attempt(index: int) -> dict[str, Any]:
        return await mutate(
            admin,
            PRODUCT_CREATE,
            "productCreate",
            {"input": {"name": f"Racer {index}", "variants": [variant("RACE-1")]}},
        )

    payloads = await asyncio.gather(*(attempt(i) for i in range(5)))

    winners = [p for p in payloads if p["product"] is not None]
    losers = [p for p in payloads if p["product"] is None]
    assert len(winners) == 1, payloads
    assert winners[0]["errors"] == []
    assert len(losers) == 4
    for payload in losers:
        assert only_error(payload) == ("DUPLICATE_CODE", ["variants", "0", "code"])

    assert await product_names(admin, includeArchived=True) == [winners[0]["product"]["name"]]
    found = (await api.data(VARIANT_BY_CODE, {"code": "RACE-1"}))["variantByCode"]
    assert found["id"] == winners[0]["product"]["variants"][0]["id"]


async def test_archived_variants_of_an_active_product_are_listed_only_for_those_who_may(
    admin: Api, api: Api
) -> None:
    product = await create_product(admin, "Tea", variant("TEA-ON"), variant("TEA-OFF"))
    off = product["variants"][1]["id"]
    archived = await mutate(
        admin,
        """mutation($id: ID!) { variantArchive(input: {id: $id}) {
          variant { status } errors { code } } }""",
        "variantArchive",
        {"id": off},
    )
    assert archived["variant"]["status"] == "ARCHIVED"
    lists = """{ products(first: 5) { edges { node { variants(includeArchived: true) { code } } } }
      product: products(first: 5) { nodes { variants(includeArchived: true) { code } } } }"""
    for who, codes in ((api, ["TEA-ON"]), (admin, ["TEA-ON", "TEA-OFF"])):
        data = await who.data(lists)
        assert [v["code"] for v in data["products"]["edges"][0]["node"]["variants"]] == codes
        assert [v["code"] for v in data["product"]["nodes"][0]["variants"]] == codes
        one = await who.data(PRODUCT_BY_ID, {"id": product["id"]})
        assert [v["code"] for v in one["product"]["variants"]] == codes
