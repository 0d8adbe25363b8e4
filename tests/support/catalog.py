"""The catalog over GraphQL: product and variant documents, creating products."""

from __future__ import annotations

from typing import Any

from tests.support.api import Api

ERRORS = "errors { code field message }"
VARIANT = (
    "id code name barcode status price { amount currency formatted } attributes { name value }"
)
PRODUCT = f"""id name slug description status createdAt updatedAt
  category {{ id name }} priceFrom {{ amount }}
  variants(includeArchived: true) {{ {VARIANT} }}"""

PRODUCT_CREATE = f"""mutation($input: ProductCreateInput!) {{
  productCreate(input: $input) {{ product {{ {PRODUCT} }} {ERRORS} }} }}"""
PRODUCT_ARCHIVE = f"""mutation($id: ID!) {{
  productArchive(input: {{id: $id}}) {{ product {{ {PRODUCT} }} {ERRORS} }} }}"""
VARIANT_UPDATE = f"""mutation($input: VariantUpdateInput!) {{
  variantUpdate(input: $input) {{ variant {{ {VARIANT} }} {ERRORS} }} }}"""
PRODUCT_BY_ID = f"query($id: ID!) {{ product(id: $id) {{ {PRODUCT} }} }}"


def variant(code: str, price: int = 1000, **extra: Any) -> dict[str, Any]:
    return {"code": code, "name": f"{code} each", "price": price, **extra}


async def mutate(api: Api, query: str, field: str, variables: dict[str, Any]) -> dict[str, Any]:
    """Run a mutation that must not fail at the top level; return its payload."""
    payload: dict[str, Any] = (await api.data(query, variables))[field]
    return payload


async def create_product(api: Api, name: str, *variants: dict[str, Any], **extra: Any) -> Any:
    payload = await mutate(
        api,
        PRODUCT_CREATE,
        "productCreate",
        {"input": {"name": name, "variants": list(variants), **extra}},
    )
    assert payload["errors"] == [], payload
    return payload["product"]
