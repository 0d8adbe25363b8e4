"""List queries issue a constant number of SQL statements whatever the page size (N+1 guard)."""

from __future__ import annotations

from typing import Any

from domain.catalog.media import MediaDraft, add_media
from domain.catalog.model import Locale
from domain.catalog.services import ProductDraft, VariantDraft, create_category, create_product
from infra.runtime import Runtime
from tests.support import count_sql
from tests.support.api import Api

PRODUCTS = """query($n: Int!) { products(first: $n) { edges { cursor node {
  id name category { name parent { name } } priceFrom { amount }
  variants { code price { amount } product { name } }
} } pageInfo { hasNextPage endCursor } } }"""

SHELF = """query($n: Int!, $search: String) { products(first: $n, search: $search) {
  edges { node {
    name en: localizedName(locale: EN) names { locale value }
    media { url alt position }
    variants { code en: localizedName(locale: EN) attributes { name value } }
} } } }"""

LOCATIONS = """query($n: Int!) { locations(first: $n, near: {latitude: 31.2, longitude: 121.4}) {
  edges { node { code distance openingHours { day ranges { opens } } } } } }"""


async def _catalog(runtime: Runtime, products: int) -> None:
    parent = await create_category(runtime.catalog, "Food", None, None)
    child = await create_category(runtime.catalog, "Fruit", None, parent.id)
    for n in range(products):
        await create_product(
            runtime.catalog,
            ProductDraft(
                name=f"Product {n:03d}",
                category_id=child.id,
                variants=[
                    VariantDraft(code=f"P{n}-{v}", name=f"V{v}", price=100 + v) for v in range(3)
                ],
            ),
        )


async def _shelf(runtime: Runtime, products: int) -> None:
    """Products with English names, two pictures each and variants with attributes."""
    for n in range(products):
        product = await create_product(
            runtime.catalog,
            ProductDraft(
                name=f"芒果 {n:03d}",
                names=[(Locale.EN, f"Mango {n:03d}")],
                variants=[
                    VariantDraft(
                        code=f"M{n}-{v}",
                        name=f"{v}号",
                        price=100,
                        names=[(Locale.EN, f"No. {v}")],
                        attributes=[("规格", "500ml"), ("温度", "冰")],
                    )
                    for v in range(2)
                ],
            ),
        )
        for picture in ("main", "detail"):
            await add_media(
                runtime.catalog,
                product.id,
                MediaDraft(f"https://cdn.example.com/{n}/{picture}.jpg", picture),
            )


async def _statements(
    api: Api, query: str, size: int, **variables: Any
) -> tuple[int, dict[str, Any]]:
    with count_sql() as statements:
        data = await api.data(query, {"n": size, **variables})
    return len(statements), data


async def test_products_with_variants_and_categories_is_constant(
    api: Api, runtime: Runtime
) -> None:
    await _catalog(runtime, 30)
    small, data_small = await _statements(api, PRODUCTS, 2)
    large, data_large = await _statements(api, PRODUCTS, 30)
    assert len(data_small["products"]["edges"]) == 2
    assert len(data_large["products"]["edges"]) == 30
    assert all(len(e["node"]["variants"]) == 3 for e in data_large["products"]["edges"])
    # products page, variants of the page, categories, parent categories: no per-row queries
    assert small == large, (small, large)
    assert 3 <= large <= 4


async def test_products_with_names_media_and_attributes_is_constant(
    api: Api, runtime: Runtime
) -> None:
    await _shelf(runtime, 12)
    for search in (None, "芒果", "mango"):
        small, data_small = await _statements(api, SHELF, 2, search=search)
        large, data_large = await _statements(api, SHELF, 12, search=search)
        assert len(data_small["products"]["edges"]) == 2
        nodes = [e["node"] for e in data_large["products"]["edges"]]
        assert len(nodes) == 12
        assert all([m["alt"] for m in node["media"]] == ["main", "detail"] for node in nodes)
        assert all(
            v["attributes"] == [{"name": "规格", "value": "500ml"}, {"name": "温度", "value": "冰"}]
            for node in nodes
            for v in node["variants"]
        )
        # products page, variants of the page, media of the page: attributes and names are
        # columns of the rows already read
        assert small == large == 3, (search, small, large)


async def test_locations_list_is_constant(admin: Api, api: Api, stores: dict[str, Any]) -> None:
    small, _ = await _statements(api, LOCATIONS, 1)
    large, data = await _statements(api, LOCATIONS, 3)
    assert len(data["locations"]["edges"]) == 3
    assert small == large == 1
