"""List queries issue a constant number of SQL statements whatever the page size (N+1 guard)."""

from __future__ import annotations

from typing import Any

from domain.catalog.services import ProductDraft, VariantDraft, create_category, create_product
from infra.runtime import Runtime
from tests.support import count_sql
from tests.support.api import Api

PRODUCTS = """query($n: Int!) { products(first: $n) { edges { cursor node {
  id name category { name parent { name } } priceFrom { amount }
  variants { code price { amount } product { name } }
} } pageInfo { hasNextPage endCursor } } }"""

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


async def _statements(api: Api, query: str, size: int) -> tuple[int, dict[str, Any]]:
    with count_sql() as statements:
        data = await api.data(query, {"n": size})
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


async def test_locations_list_is_constant(admin: Api, api: Api, stores: dict[str, Any]) -> None:
    small, _ = await _statements(api, LOCATIONS, 1)
    large, data = await _statements(api, LOCATIONS, 3)
    assert len(data["locations"]["edges"]) == 3
    assert small == large == 1
