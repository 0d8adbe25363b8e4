from __future__ import annotations

from tests.support.api import Api


async def test_health_and_request_id(client) -> None:
    response = await client.get("/healthz", headers={"X-Request-Id": "abc12345-test"})
    assert response.json() == {"status": "ok"}
    assert response.headers["x-request-id"] == "abc12345-test"
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"


async def test_admin_creates_product_and_anyone_lists_it(admin: Api, api: Api) -> None:
    created = await admin.data(
        """mutation { productCreate(input: {name: "Mango", variants: [
             {code: "MANGO-1", name: "Mango 1kg", price: 1990, barcode: "6901234567892"}]})
           { product { id name variants { code price { amount formatted } } }
             errors { code field message } } }"""
    )
    payload = created["productCreate"]
    assert payload["errors"] == []
    assert payload["product"]["variants"][0]["price"] == {"amount": 1990, "formatted": "¥19.90"}
    listed = await api.data(
        "{ products(first: 5) { edges { node { name } } pageInfo { hasNextPage } } }"
    )
    assert [e["node"]["name"] for e in listed["products"]["edges"]] == ["Mango"]
