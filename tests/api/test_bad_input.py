"""Bad input never escapes as a crash.

Unknown ids, malformed ids, ids of the wrong type, empty strings, negative or huge numbers and
over-long lists come back as a typed UserError in the payload (mutations) or as a top-level
error with a code (queries, which have no payload) -- always HTTP 200, never a stack trace,
never a half-done change.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.api import Api

UNKNOWN_UUID = "0190a000-0000-7000-8000-000000000000"

SNAPSHOT = """{
  products(first: 20, includeArchived: true) { nodes {
    id name slug description status updatedAt category { id }
    variants(includeArchived: true) {
      id code name barcode status price { amount currency } attributes { name value } }
  } }
  categories { id name slug parent { id } }
  locations(first: 20) { nodes {
    id code name type status address city timezone coordinates { latitude longitude }
    openingHours { day ranges { opens closes } } pickupEnabled shipsOnline phone
  } }
}"""

# mutation name -> (input type, payload field holding the object)
MUTATIONS = {
    "productCreate": ("ProductCreateInput", "product"),
    "productUpdate": ("ProductUpdateInput", "product"),
    "productArchive": ("ByIdInput", "product"),
    "productRestore": ("ByIdInput", "product"),
    "variantCreate": ("VariantCreateInput", "variant"),
    "variantUpdate": ("VariantUpdateInput", "variant"),
    "variantArchive": ("ByIdInput", "variant"),
    "categoryCreate": ("CategoryCreateInput", "category"),
    "locationCreate": ("LocationCreateInput", "location"),
    "locationUpdate": ("LocationUpdateInput", "location"),
    "staffCreate": ("StaffCreateInput", "staff"),
}


def mutation(name: str) -> str:
    input_type, result = MUTATIONS[name]
    return f"""mutation($input: {input_type}!) {{
      {name}(input: $input) {{ {result} {{ id }} errors {{ code field message }} }} }}"""


def global_id(type_name: str, value: str) -> str:
    return base64.b64encode(f"{type_name}:{value}".encode()).decode()


def sku(code: str = "NEW-1", **extra: Any) -> dict[str, Any]:
    return {"code": code, "name": "New SKU", "price": 100, **extra}


def new_location(**extra: Any) -> dict[str, Any]:
    return {
        "code": "NEW-1",
        "name": "New",
        "type": "STORE",
        "address": "1 Rd",
        "city": "Shanghai",
        "latitude": 31.0,
        "longitude": 121.0,
        **extra,
    }


def attributes(length: int) -> list[dict[str, str]]:
    return [{"name": f"attr{i}", "value": "x"} for i in range(length)]


async def post(api: Api, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """Send; the response must be HTTP 200 JSON with no trace of a stack anywhere."""
    response = await api.raw(query, variables)
    assert response.status_code == 200, response.text
    assert "Traceback" not in response.text, response.text
    assert 'File "' not in response.text, response.text
    body: dict[str, Any] = response.json()
    for error in body.get("errors", []):
        assert "stacktrace" not in (error.get("extensions") or {}), error
        assert (error.get("extensions") or {}).get("code") not in (None, "INTERNAL_SERVER_ERROR")
    return body


async def user_error(api: Api, name: str, input_: dict[str, Any]) -> tuple[str, list[str]]:
    """Run a mutation that must fail with exactly one payload error; return (code, field)."""
    body = await post(api, mutation(name), {"input": input_})
    assert "errors" not in body, body
    payload = body["data"][name]
    assert payload[MUTATIONS[name][1]] is None, payload
    assert len(payload["errors"]) == 1, payload
    error = payload["errors"][0]
    assert error["message"] and "Traceback" not in error["message"], error
    return error["code"], error["field"]


async def top_level_error(api: Api, query: str, variables: dict[str, Any] | None = None) -> str:
    """Run a query that must fail with one top-level error; return its code."""
    body = await post(api, query, variables)
    assert len(body.get("errors", [])) == 1, body
    code: str = body["errors"][0]["extensions"]["code"]
    return code


class World:
    """A category, a product with one variant, and the three stores; ids by name."""

    def __init__(self, admin: Api, ids: dict[str, str]):
        self.admin = admin
        self.ids = ids

    async def snapshot(self) -> dict[str, Any]:
        return await self.admin.data(SNAPSHOT)


@pytest.fixture
async def world(admin: Api, stores: dict[str, Any]) -> World:
    category = await admin.data(
        mutation("categoryCreate"), {"input": {"name": "Drinks", "slug": "drinks"}}
    )
    created = await admin.data(
        """mutation($input: ProductCreateInput!) { productCreate(input: $input) {
             product { id variants { id } } errors { code } } }""",
        {
            "input": {
                "name": "Tea",
                "categoryId": category["categoryCreate"]["category"]["id"],
                "variants": [sku("TEA-1", barcode="6901234567892")],
            }
        },
    )
    product = created["productCreate"]["product"]
    assert product is not None, created
    return World(
        admin,
        {
            "Product": product["id"],
            "Variant": product["variants"][0]["id"],
            "Category": category["categoryCreate"]["category"]["id"],
            "Location": global_id("Location", str(stores["SH-A"].id)),
        },
    )


# Mutations that take an id: (mutation, type of id expected, input around the id, field of id).
MakeInput = Callable[[str], dict[str, Any]]
ID_TARGETS: list[tuple[str, str, MakeInput, list[str]]] = [
    ("productUpdate", "Product", lambda i: {"id": i, "name": "Changed"}, ["id"]),
    ("productArchive", "Product", lambda i: {"id": i}, ["id"]),
    ("productRestore", "Product", lambda i: {"id": i}, ["id"]),
    ("variantCreate", "Product", lambda i: {"productId": i, "variant": sku()}, ["productId"]),
    ("variantUpdate", "Variant", lambda i: {"id": i, "price": 1}, ["id"]),
    ("variantArchive", "Variant", lambda i: {"id": i}, ["id"]),
    ("locationUpdate", "Location", lambda i: {"id": i, "name": "Changed"}, ["id"]),
]
ID_TARGET_IDS = [target[0] for target in ID_TARGETS]

MALFORMED_IDS = [
    "not-an-id",
    "!!!",
    "",
    "   ",
    "产品",
    "x" * 5000,
    f"Product:{UNKNOWN_UUID}",  # not base64
    global_id("Product", "not-a-uuid"),
    global_id("Product", ""),
    base64.b64encode(b"\xff\xfe\xfd").decode(),  # not UTF-8
    base64.b64encode(UNKNOWN_UUID.encode()).decode(),  # no type
]


# --------------------------------------------------------------------------- ids


@pytest.mark.parametrize(("name", "type_name", "make", "field"), ID_TARGETS, ids=ID_TARGET_IDS)
async def test_unknown_id_is_not_found(
    world: World, name: str, type_name: str, make: MakeInput, field: list[str]
) -> None:
    before = await world.snapshot()
    result = await user_error(world.admin, name, make(global_id(type_name, UNKNOWN_UUID)))
    assert result == ("NOT_FOUND", field)
    assert await world.snapshot() == before


@pytest.mark.parametrize(("name", "type_name", "make", "field"), ID_TARGETS, ids=ID_TARGET_IDS)
async def test_malformed_id_is_invalid_id(
    world: World, name: str, type_name: str, make: MakeInput, field: list[str]
) -> None:
    before = await world.snapshot()
    for bad in MALFORMED_IDS:
        assert await user_error(world.admin, name, make(bad)) == ("INVALID_ID", field), bad
    assert await world.snapshot() == before


@pytest.mark.parametrize(("name", "type_name", "make", "field"), ID_TARGETS, ids=ID_TARGET_IDS)
async def test_id_of_another_type_is_invalid_id(
    world: World, name: str, type_name: str, make: MakeInput, field: list[str]
) -> None:
    before = await world.snapshot()
    for other in ("Product", "Variant", "Category", "Location"):
        if other == type_name:
            continue
        result = await user_error(world.admin, name, make(world.ids[other]))
        assert result == ("INVALID_ID", field), other
    assert await world.snapshot() == before


async def test_bad_ids_inside_inputs(world: World) -> None:
    before = await world.snapshot()
    location_id = world.ids["Location"]
    cases = [
        ("productCreate", {"name": "X", "categoryId": "garbage"}, ("INVALID_ID", ["categoryId"])),
        ("productCreate", {"name": "X", "categoryId": location_id}, ("INVALID_ID", ["categoryId"])),
        (
            "productUpdate",
            {"id": world.ids["Product"], "categoryId": global_id("Category", UNKNOWN_UUID)},
            ("NOT_FOUND", ["categoryId"]),
        ),
        (
            "productUpdate",
            {"id": world.ids["Product"], "categoryId": "!!!"},
            ("INVALID_ID", ["categoryId"]),
        ),
        ("categoryCreate", {"name": "X", "parentId": "garbage"}, ("INVALID_ID", ["parentId"])),
        (
            "categoryCreate",
            {"name": "X", "parentId": world.ids["Product"]},
            ("INVALID_ID", ["parentId"]),
        ),
    ]
    for name, input_, expected in cases:
        assert await user_error(world.admin, name, input_) == expected, (name, input_)
    assert await world.snapshot() == before


# --------------------------------------------------------------------------- empty strings


@pytest.mark.parametrize("blank", ["", "   ", "\t\n"], ids=["empty", "spaces", "whitespace"])
async def test_empty_names_are_invalid_input(world: World, blank: str) -> None:
    before = await world.snapshot()
    ids = world.ids
    cases = [
        ("productCreate", {"name": blank}, ["name"]),
        ("productUpdate", {"id": ids["Product"], "name": blank}, ["name"]),
        ("variantUpdate", {"id": ids["Variant"], "name": blank}, ["name"]),
        (
            "variantCreate",
            {"productId": ids["Product"], "variant": sku(name=blank)},
            ["variant", "name"],
        ),
        ("productCreate", {"name": "X", "variants": [sku(name=blank)]}, ["variants", "0", "name"]),
        ("categoryCreate", {"name": blank}, ["name"]),
        ("locationUpdate", {"id": ids["Location"], "name": blank}, ["name"]),
        ("locationCreate", new_location(name=blank), ["name"]),
    ]
    for name, input_, field in cases:
        assert await user_error(world.admin, name, input_) == ("INVALID_INPUT", field), name
    assert await world.snapshot() == before


async def test_other_empty_or_malformed_strings(world: World) -> None:
    before = await world.snapshot()
    ids = world.ids
    cases = [
        ("productCreate", {"name": "X", "variants": [sku(code="")]}, "INVALID_INPUT"),
        ("productCreate", {"name": "X", "variants": [sku(code="A B")]}, "INVALID_INPUT"),
        ("productCreate", {"name": "X", "variants": [sku(code="x" * 65)]}, "INVALID_INPUT"),
        ("productCreate", {"name": "X", "slug": "Not A Slug!"}, "INVALID_INPUT"),
        ("productCreate", {"name": "x" * 201}, "INVALID_INPUT"),
        ("productCreate", {"name": "X", "description": "x" * 10_001}, "INVALID_INPUT"),
        ("productCreate", {"name": "X", "variants": [sku(currency="")]}, "INVALID_INPUT"),
        ("productCreate", {"name": "X", "variants": [sku(barcode="12345")]}, "INVALID_BARCODE"),
        ("variantUpdate", {"id": ids["Variant"], "barcode": "6901234567893"}, "INVALID_BARCODE"),
        ("variantUpdate", {"id": ids["Variant"], "barcode": "690123456789²"}, "INVALID_BARCODE"),
        ("variantUpdate", {"id": ids["Variant"], "barcode": "ABCDEFGHIJKLM"}, "INVALID_BARCODE"),
        (
            "variantUpdate",
            {"id": ids["Variant"], "attributes": [{"name": " ", "value": "x"}]},
            "INVALID_INPUT",
        ),
        ("productUpdate", {"id": ids["Product"], "slug": ""}, "INVALID_INPUT"),
        ("productUpdate", {"id": ids["Product"], "description": "x" * 10_001}, "INVALID_INPUT"),
        ("locationCreate", new_location(code=""), "INVALID_INPUT"),
        ("locationCreate", new_location(timezone=""), "INVALID_TIMEZONE"),
        ("locationUpdate", {"id": ids["Location"], "timezone": ""}, "INVALID_TIMEZONE"),
        ("locationUpdate", {"id": ids["Location"], "city": "  "}, "INVALID_INPUT"),
    ]
    for name, input_, code in cases:
        result = await user_error(world.admin, name, input_)
        assert result[0] == code, (name, input_, result)
    assert await world.snapshot() == before


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize("price", [-1, -2_147_483_648, 1_000_000_001, 2_000_000_000, 2_147_483_647])
async def test_out_of_range_prices_are_invalid_price(world: World, price: int) -> None:
    before = await world.snapshot()
    ids = world.ids
    cases = [
        ("variantUpdate", {"id": ids["Variant"], "price": price}, ["price"]),
        (
            "variantCreate",
            {"productId": ids["Product"], "variant": sku(price=price)},
            ["variant", "price"],
        ),
        (
            "productCreate",
            {"name": "X", "variants": [sku(price=price)]},
            ["variants", "0", "price"],
        ),
    ]
    for name, input_, field in cases:
        assert await user_error(world.admin, name, input_) == ("INVALID_PRICE", field), name
    assert await world.snapshot() == before


async def test_the_highest_price_is_accepted(world: World) -> None:
    body = await post(
        world.admin,
        mutation("variantUpdate"),
        {"input": {"id": world.ids["Variant"], "price": 1_000_000_000}},
    )
    assert body["data"]["variantUpdate"]["errors"] == []


@pytest.mark.parametrize("how", ["variable", "literal"])
async def test_numbers_beyond_graphql_int_fail_validation(world: World, how: str) -> None:
    before = await world.snapshot()
    variant_id = world.ids["Variant"]
    for literal, value in (
        ("99999999999", 99_999_999_999),
        ("-99999999999", -99_999_999_999),
        ("2147483648", 2_147_483_648),
        ("10.5", 10.5),
        ('"100"', "100"),
    ):
        if how == "variable":
            query = mutation("variantUpdate")
            variables: dict[str, Any] = {"input": {"id": variant_id, "price": value}}
        else:
            query = f"""mutation {{ variantUpdate(input: {{id: "{variant_id}", price: {literal}}})
                          {{ variant {{ id }} errors {{ code }} }} }}"""
            variables = {}
        body = await post(world.admin, query, variables)
        assert body.get("data") is None, body
        assert [e["extensions"]["code"] for e in body["errors"]] == ["GRAPHQL_VALIDATION_FAILED"], (
            body
        )
    assert await world.snapshot() == before


async def test_huge_numbers_elsewhere(world: World) -> None:
    before = await world.snapshot()
    code = await top_level_error(world.admin, "{ products(first: 99999999999) { nodes { id } } }")
    assert code == "GRAPHQL_VALIDATION_FAILED"
    result = await user_error(world.admin, "locationCreate", new_location(latitude=1e308))
    assert result == ("INVALID_COORDINATES", ["latitude"])
    result = await user_error(
        world.admin, "locationUpdate", {"id": world.ids["Location"], "longitude": -1e308}
    )
    assert result == ("INVALID_COORDINATES", ["longitude"])
    near = "query($near: NearInput) { locations(near: $near) { nodes { id } } }"
    far_east = {"near": {"latitude": 0, "longitude": 1e300}}
    assert await top_level_error(world.admin, near, far_east) == "INVALID_COORDINATES"
    assert await world.snapshot() == before


# --------------------------------------------------------------------------- long lists


async def test_over_long_lists_are_too_many_items(world: World) -> None:
    before = await world.snapshot()
    ids = world.ids
    many_variants = [sku(f"V-{i}") for i in range(101)]
    cases = [
        ("productCreate", {"name": "X", "variants": many_variants}, ["variants"]),
        (
            "productCreate",
            {"name": "X", "variants": [sku(attributes=attributes(21))]},
            ["variants", "0", "attributes"],
        ),
        (
            "variantCreate",
            {"productId": ids["Product"], "variant": sku(attributes=attributes(21))},
            ["variant", "attributes"],
        ),
        ("variantUpdate", {"id": ids["Variant"], "attributes": attributes(21)}, ["attributes"]),
        (
            "locationCreate",
            new_location(openingHours=[{"day": "mon", "ranges": []}] * 8),
            ["openingHours"],
        ),
        (
            "locationUpdate",
            {"id": ids["Location"], "openingHours": [{"day": "mon", "ranges": []}] * 8},
            ["openingHours"],
        ),
        (
            "staffCreate",
            {
                "username": "many-stores",
                "password": "correct horse battery",
                "role": "STORE_CLERK",
                "storeIds": [ids["Location"]] * 51,
            },
            ["storeIds"],
        ),
    ]
    for name, input_, field in cases:
        assert await user_error(world.admin, name, input_) == ("TOO_MANY_ITEMS", field), name
    # Many ranges in one day are refused, not truncated into something else.
    ranges = [{"opens": "09:00", "closes": "10:00"}] * 50
    result = await user_error(
        world.admin, "locationCreate", new_location(openingHours=[{"day": "mon", "ranges": ranges}])
    )
    assert result == ("INVALID_OPENING_HOURS", ["openingHours", "mon"])
    assert await world.snapshot() == before


async def test_lists_at_the_limit_are_accepted(world: World) -> None:
    body = await post(
        world.admin,
        mutation("productCreate"),
        {
            "input": {
                "name": "Big",
                "variants": [sku(f"B-{i}", attributes=attributes(20)) for i in range(100)],
            }
        },
    )
    assert body["data"]["productCreate"]["errors"] == [], body


# --------------------------------------------------------------------------- queries

PRODUCTS = """query($first: Int, $after: String, $search: String, $categoryId: ID) {
  products(first: $first, after: $after, search: $search, categoryId: $categoryId) {
    nodes { id } } }"""
LOCATIONS = """query($first: Int, $after: String) {
  locations(first: $first, after: $after) { nodes { id } } }"""


def cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode()


async def test_page_sizes_out_of_range_are_invalid_input(world: World) -> None:
    for query in (PRODUCTS, LOCATIONS):
        for first in (1000, 101, -1, -2_147_483_648):
            assert await top_level_error(world.admin, query, {"first": first}) == "INVALID_INPUT"
        assert "errors" not in await post(world.admin, query, {"first": 100})
        assert "errors" not in await post(world.admin, query, {"first": 0})


async def test_malformed_cursors_are_invalid_input(world: World, api: Api) -> None:
    locations = await api.data("{ locations(first: 1) { pageInfo { endCursor } } }")
    location_cursor = locations["locations"]["pageInfo"]["endCursor"]
    products = await api.data("{ products(first: 1) { pageInfo { endCursor } } }")
    product_cursor = products["products"]["pageInfo"]["endCursor"]

    bad = ["garbage", "!!!", "", "产品", "x" * 5000, cursor("c:not-a-uuid"), cursor("x:1")]
    for after in [*bad, location_cursor]:
        assert await top_level_error(api, PRODUCTS, {"after": after}) == "INVALID_INPUT", after
    for after in [*bad[:5], cursor("x:1")]:
        assert await top_level_error(api, LOCATIONS, {"after": after}) == "INVALID_INPUT", after
    # A products cursor is no locations cursor either; at worst it must not crash.
    body = await post(api, LOCATIONS, {"after": product_cursor})
    assert body.get("errors") is None or body["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


async def test_malformed_ids_in_queries_are_invalid_id(world: World, api: Api) -> None:
    ids = world.ids
    cases = [
        ("query($id: ID!) { product(id: $id) { id } }", ["garbage", "!!!", "", ids["Location"]]),
        ("query($id: ID!) { variant(id: $id) { id } }", ["garbage", ids["Product"]]),
        ("query($id: ID!) { location(id: $id) { id } }", ["garbage", ids["Variant"]]),
        ("query($id: ID!) { node(id: $id) { id } }", ["garbage", "!!!", "", "x" * 5000]),
    ]
    for query, values in cases:
        for value in values:
            assert await top_level_error(api, query, {"id": value}) == "INVALID_ID", (query, value)
    for value in ("garbage", ids["Product"]):
        assert await top_level_error(api, PRODUCTS, {"categoryId": value}) == "INVALID_ID"


async def test_odd_lookups_are_null_or_empty(world: World, api: Api) -> None:
    for query, variables, field in (
        ("query($c: String!) { variantByCode(code: $c) { id } }", {"c": "x" * 5000}, None),
        ("query($c: String!) { variantByCode(code: $c) { id } }", {"c": "  "}, None),
        ("query($b: String!) { variantByBarcode(barcode: $b) { id } }", {"b": "产品"}, None),
        ("query($b: String!) { variantByBarcode(barcode: $b) { id } }", {"b": ""}, None),
        ("query($c: String!) { locationByCode(code: $c) { id } }", {"c": "x" * 5000}, None),
    ):
        body = await post(api, query, variables)
        assert "errors" not in body, body
        assert list(body["data"].values()) == [field]

    # Searches up to 100 characters are fine, whatever they hold.
    for search in ("x" * 100, "%", "_", "'; DROP TABLE product; --", "产品", "   "):
        body = await post(api, PRODUCTS, {"search": search})
        assert "errors" not in body, (search, body)
    assert await top_level_error(api, PRODUCTS, {"search": "x" * 101}) == "INVALID_INPUT"
    # LIKE wildcards are searched for literally.
    for search in ("%", "_", "T_a"):
        assert (await api.data(PRODUCTS, {"search": search}))["products"]["nodes"] == []
    body = await post(api, PRODUCTS, {"search": "tea"})
    assert body["data"]["products"]["nodes"] == [{"id": world.ids["Product"]}]


# --------------------------------------------------------------------------- NUL characters


async def test_nul_characters_are_refused_not_crashed_on(world: World, api: Api) -> None:
    """PostgreSQL cannot store U+0000 in text; it must be a user error on every database."""
    before = await world.snapshot()
    ids = world.ids
    cases = [
        ("productCreate", {"name": "Tea\x00"}, ["name"]),
        ("productCreate", {"name": "Tea", "description": "a\x00b"}, ["description"]),
        ("productUpdate", {"id": ids["Product"], "description": "a\x00b"}, ["description"]),
        ("variantUpdate", {"id": ids["Variant"], "name": "A\x00"}, ["name"]),
        (
            "variantUpdate",
            {"id": ids["Variant"], "attributes": [{"name": "size", "value": "L\x00"}]},
            ["attributes", "0", "value"],
        ),
        ("categoryCreate", {"name": "Drinks\x00"}, ["name"]),
        ("locationCreate", new_location(name="A\x00"), ["name"]),
        ("locationCreate", new_location(code="A\x00"), ["code"]),
        ("locationUpdate", {"id": ids["Location"], "phone": "1\x00"}, ["phone"]),
    ]
    for name, input_, field in cases:
        assert await user_error(world.admin, name, input_) == ("INVALID_INPUT", field), name
    for query, variables in (
        ("query($c: String!) { variantByCode(code: $c) { id } }", {"c": "A\x00"}),
        ("query($b: String!) { variantByBarcode(barcode: $b) { id } }", {"b": "\x00"}),
        ("query($c: String!) { locationByCode(code: $c) { id } }", {"c": "SH-A\x00"}),
    ):
        # A lookup has no payload: a top-level INVALID_INPUT naming the argument (issue 12, 6).
        body = await post(api, query, variables)
        [error] = body["errors"]
        assert error["extensions"]["code"] == "INVALID_INPUT", body
        assert error["extensions"]["field"] == list(variables), body
    assert await top_level_error(api, PRODUCTS, {"search": "tea\x00"}) == "INVALID_INPUT"
    assert await world.snapshot() == before
