"""Request limits, error shaping and the plain HTTP endpoints."""

from __future__ import annotations

import httpx
from tortoise import connections

from infra.runtime import Runtime
from tests.support.api import Api


def _nested(depth: int) -> str:
    inner = "name"
    for _ in range(depth):
        inner = f"parent {{ {inner} }}"
    return f"{{ categories {{ {inner} }} }}"


async def test_depth_limit(api: Api) -> None:
    assert "errors" not in await api(_nested(5))
    body = await api(_nested(20))
    assert body["data"] is None
    assert "exceeds maximum operation depth" in body["errors"][0]["message"]
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_alias_limit(api: Api) -> None:
    query = "{ " + " ".join(f"a{n}: categories {{ name }}" for n in range(40)) + " }"
    body = await api(query)
    assert body["data"] is None
    assert "aliases" in body["errors"][0]["message"]


async def test_token_limit(api: Api) -> None:
    query = "{ categories { " + " ".join(["name"] * 4000) + " } }"
    body = await api(query)
    assert body["data"] is None
    assert "token" in body["errors"][0]["message"].lower()


async def test_cost_is_reported_and_capped(api: Api) -> None:
    cheap = await api("{ products(first: 5) { edges { node { name variants { code } } } } }")
    assert cheap["extensions"]["cost"]["requested"] > 0
    assert cheap["extensions"]["cost"]["maximum"] == 20_000
    costly = """{ a: products(first: 100) { edges { node { variants { product { variants {
      product { variants { product { name } } } } } } } } } }"""
    body = await api(costly)
    assert body["data"] is None
    error = body["errors"][0]
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert error["extensions"]["cost"] > 20_000


async def test_cost_counts_variables(api: Api) -> None:
    query = "query($n: Int) { products(first: $n) { edges { node { name variants { code } } } } }"
    small = await api(query, {"n": 1})
    large = await api(query, {"n": 50})
    assert large["extensions"]["cost"]["requested"] > small["extensions"]["cost"]["requested"]


async def test_oversized_body_is_refused(client: httpx.AsyncClient) -> None:
    padding = "x" * (1_048_576 + 10)
    response = await client.post(
        "/graphql", json={"query": "{ categories { name } }", "p": padding}
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"


async def test_unexpected_failure_is_masked_and_logged(
    api: Api, runtime: Runtime, client: httpx.AsyncClient
) -> None:
    conn = connections.get("default")
    await conn.execute_script("ALTER TABLE category RENAME TO category_moved")
    try:
        response = await client.post(
            "/graphql",
            json={"query": "{ categories { name } }"},
            headers={"X-Request-Id": "req-mask-test-1"},
        )
    finally:
        await conn.execute_script("ALTER TABLE category_moved RENAME TO category")
    assert response.status_code == 200
    error = response.json()["errors"][0]
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-mask-test-1"}
    assert "category" not in response.text.lower()  # no SQL or table names leak
    assert "Traceback" not in response.text


async def test_malformed_json_and_missing_query(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    response = await client.post("/graphql", json={"variables": {}})
    assert response.status_code == 400


async def test_graphiql_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_metrics_count_operations_and_errors(api: Api, client: httpx.AsyncClient) -> None:
    await api("query ShopperCategories { categories { name } }")
    await api('{ product(id: "garbage") { name } }')
    text = (await client.get("/metrics")).text
    assert 'omnishelf_graphql_requests_total{operation="ShopperCategories",status="ok"}' in text
    assert 'omnishelf_graphql_errors_total{code="INVALID_ID"}' in text
    assert "omnishelf_graphql_duration_seconds_bucket" in text
