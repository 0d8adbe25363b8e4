"""GraphQL over HTTP (issue 14): the response's media type follows Accept, and with
application/graphql-response+json a request error is HTTP 400 without `data`, while with the
legacy application/json every GraphQL response stays 200. Syntax errors are
GRAPHQL_PARSE_FAILED; validation errors and documents refused for their size,
GRAPHQL_VALIDATION_FAILED. The spec's own audit runs in tests/e2e/test_graphql_http_audit.py."""

from __future__ import annotations

import re
from typing import Any
from unittest.mock import ANY

import httpx
import pytest

from tests.support.api import Api
from tests.support.catalog import create_product, variant
from tests.support.payloads import top_level_codes

GRAPHQL_RESPONSE = "application/graphql-response+json; charset=utf-8"
JSON = "application/json"
NEW = "application/graphql-response+json"


async def post(
    client: httpx.AsyncClient,
    query: str,
    accept: str | None,
    variables: dict[str, Any] | None = None,
    token: str | None = None,
) -> httpx.Response:
    """POST /graphql with exactly this Accept (None: no Accept header at all)."""
    request = client.build_request(
        "POST", "/graphql", json={"query": query, "variables": variables}
    )
    del request.headers["accept"]  # httpx sends */* unless told otherwise
    if accept is not None:
        request.headers["accept"] = accept
    if token is not None:
        request.headers["authorization"] = f"Bearer {token}"
    return await client.send(request)


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        (None, JSON),  # no Accept: what clients sent before the spec
        ("*/*", JSON),
        ("application/*", JSON),
        ("application/json", JSON),
        (NEW, GRAPHQL_RESPONSE),
        (f"{NEW}; charset=utf-8", GRAPHQL_RESPONSE),
        (f"application/json, {NEW}", GRAPHQL_RESPONSE),  # a tie: the one it names wins
        (f"{NEW}, */*", GRAPHQL_RESPONSE),
        (f"{NEW}, application/json;q=0.9", GRAPHQL_RESPONSE),  # the spec's recommendation
        (f"{NEW};q=0.5, application/json", JSON),
        (f"{NEW};q=0.5, */*", JSON),
        ("application/json;q=0, */*", GRAPHQL_RESPONSE),
        (f"text/html, {NEW};q=0.1", GRAPHQL_RESPONSE),
        (f"{NEW};charset=iso-8859-1, application/json;q=0.2", JSON),  # only UTF-8 is written
    ],
)
async def test_the_media_type_follows_accept(
    client: httpx.AsyncClient, accept: str | None, content_type: str
) -> None:
    response = await post(client, "{ __typename }", accept)
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.headers["vary"] == "Accept"
    assert response.json()["data"] == {"__typename": "Query"}
    assert "errors" not in response.json()


@pytest.mark.parametrize(
    "accept", ["text/html", "application/json;q=0", f"{NEW};q=0, application/json;q=0", "a/b"]
)
async def test_an_accept_allowing_neither_is_406_and_runs_nothing(
    client: httpx.AsyncClient, admin: Api, accept: str
) -> None:
    create = """mutation { productCreate(input: {name: "Yuzu", variants: [
        {code: "YUZU-1", name: "1 kg", price: 1990}]}) { product { id } errors { code } } }"""
    response = await post(client, create, accept, token=admin.token)
    assert response.status_code == 406
    assert response.headers["content-type"] == JSON
    assert top_level_codes(response.json()) == ["NOT_ACCEPTABLE"]
    assert await admin.data("{ products(first: 5) { nodes { id } } }") == {
        "products": {"nodes": []}
    }


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        ("{ products(first: ", None, "GRAPHQL_PARSE_FAILED"),
        ("{ viewer { kind } } }", None, "GRAPHQL_PARSE_FAILED"),
        ("{ nope }", None, "GRAPHQL_VALIDATION_FAILED"),
        ("query($n: Int!) { products(first: $n) { nodes { id } } }", {"n": "x"}, None),
        ("query($n: Int!) { products(first: $n) { nodes { id } } }", {}, None),
    ],
    ids=["unclosed", "extra brace", "unknown field", "bad variable", "missing variable"],
)
async def test_a_request_error_is_400_without_data_in_graphql_response_json_and_200_in_json(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None, code: str | None
) -> None:
    expected = [code or "GRAPHQL_VALIDATION_FAILED"]
    new = await post(client, query, NEW, variables)
    assert (new.status_code, new.headers["content-type"]) == (400, GRAPHQL_RESPONSE)
    assert "data" not in new.json()
    assert top_level_codes(new.json()) == expected
    legacy = await post(client, query, "application/json", variables)
    assert (legacy.status_code, legacy.headers["content-type"]) == (200, JSON)
    assert legacy.json()["data"] is None
    assert top_level_codes(legacy.json()) == expected


async def test_syntax_errors_are_parse_failures_and_say_where(client: httpx.AsyncClient) -> None:
    body = (await post(client, "{ viewer { kind }", NEW)).json()
    assert top_level_codes(body) == ["GRAPHQL_PARSE_FAILED"]
    assert body["errors"][0]["message"].startswith("Syntax Error")
    assert body["errors"][0]["locations"] == [{"line": 1, "column": 18}]


async def test_limits_refused_before_execution_keep_their_codes_and_are_400(
    client: httpx.AsyncClient,
) -> None:
    """A document refused for its size is not a syntax error: GRAPHQL_VALIDATION_FAILED."""
    refused = {
        "tokens": "{ " + "a " * 3100 + "}",
        # graphql-core's parser refuses this ("... Parsing aborted."): a size, not a typo.
        "nested": "{ products(first: " + "[" * 900 + "]" * 900 + ") { nodes { id } } }",
        "depth": "{ products(first: 1) { nodes { "
        + "variants { product { " * 6
        + "id"
        + " } }" * 6
        + " } } }",
        "cost": "{ products(first: 100) { nodes { variants { product { variants { product { "
        + "variants { id } } } } } } } }",
    }
    for limit, query in refused.items():
        response = await post(client, query, NEW)
        assert response.status_code == 400, (limit, response.text)
        assert "data" not in response.json()
        expected = "QUERY_TOO_COSTLY" if limit == "cost" else "GRAPHQL_VALIDATION_FAILED"
        assert top_level_codes(response.json()) == [expected]
        assert limit in response.json()["errors"][0]["message"]


async def test_an_executed_request_is_200_with_its_field_errors(
    client: httpx.AsyncClient, admin: Api
) -> None:
    await create_product(admin, "Yuzu", variant("YUZU-1", 1990))
    # Anonymous: `viewer` is null with UNAUTHENTICATED, the products still answer.
    response = await post(client, "{ viewer { kind } products(first: 1) { nodes { name } } }", NEW)
    assert (response.status_code, response.headers["content-type"]) == (200, GRAPHQL_RESPONSE)
    body = response.json()
    assert body["data"] == {"viewer": None, "products": {"nodes": [{"name": "Yuzu"}]}}
    assert top_level_codes(body) == ["UNAUTHENTICATED"]
    # A mutation's expected failure is its payload's, and the request succeeded.
    again = """mutation { productCreate(input: {name: "Yuzu again", variants: [
        {code: "YUZU-1", name: "1 kg", price: 1990}]}) { product { id } errors { code } } }"""
    response = await post(client, again, NEW, token=admin.token)
    assert response.status_code == 200, response.text
    assert response.json()["data"] == {"productCreate": {"product": None, "errors": [ANY]}}


async def test_operations_over_get_are_405_and_the_ide_is_still_served(
    client: httpx.AsyncClient,
) -> None:
    for query in ("{ __typename }", "mutation { __typename }"):
        response = await client.get("/graphql", params={"query": query}, headers={"accept": NEW})
        assert response.status_code == 405
        assert response.headers["allow"] == "POST"
        assert response.headers["content-type"] == GRAPHQL_RESPONSE
        assert response.json() == {
            "errors": [
                {
                    "message": (
                        "Send GraphQL operations with POST; GET serves only the GraphiQL IDE."
                    ),
                    "extensions": {"code": "METHOD_NOT_ALLOWED"},
                }
            ]
        }
    ide = await client.get("/graphql", headers={"accept": "text/html"})
    assert ide.status_code == 200
    assert ide.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    ("content", "headers", "status", "code"),
    [
        (b"{not json", {"content-type": "application/json"}, 400, "BAD_REQUEST"),
        (b'{"query": 5}', {"content-type": "application/json"}, 400, "BAD_REQUEST"),
        (b"{ __typename }", {"content-type": "text/plain"}, 400, "BAD_REQUEST"),
        (
            b'{"query": "{ __typename }"}',
            {"content-type": "application/json", "authorization": "Bearer nope"},
            401,
            "UNAUTHENTICATED",
        ),
        (b" " * 1_100_000, {"content-type": "application/json"}, 413, "REQUEST_TOO_LARGE"),
    ],
    ids=["not JSON", "query not a string", "text/plain", "bad token", "too large"],
)
async def test_refusals_of_the_whole_request_are_in_the_negotiated_type(
    client: httpx.AsyncClient, content: bytes, headers: dict[str, str], status: int, code: str
) -> None:
    for accept, content_type in ((NEW, GRAPHQL_RESPONSE), ("application/json", JSON)):
        response = await client.post(
            "/graphql", content=content, headers={**headers, "accept": accept}
        )
        assert (response.status_code, response.headers["content-type"]) == (status, content_type)
        body = response.json()
        assert top_level_codes(body) == [code]
        assert ("data" in body) is (accept == "application/json")


def error_count(metrics: str, code: str) -> float:
    found = re.search(rf'^omnishelf_graphql_errors_total{{code="{code}"}} (\S+)$', metrics, re.M)
    return float(found.group(1)) if found else 0.0


async def test_metrics_count_each_code(client: httpx.AsyncClient) -> None:
    counted = ("GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED", "NOT_ACCEPTABLE")
    before = (await client.get("/metrics")).text
    await post(client, "{ viewer", NEW)
    await post(client, "{ viewer", "application/json")
    await post(client, "{ nope }", NEW)
    await post(client, "{ __typename }", "text/plain")
    after = (await client.get("/metrics")).text
    deltas = [error_count(after, c) - error_count(before, c) for c in counted]
    assert deltas == [2, 1, 1]


@pytest.mark.parametrize(("accept", "status"), [(NEW, 400), (JSON, 400)])
async def test_a_subscription_over_http_is_refused_with_where_to_send_it(
    client: httpx.AsyncClient, accept: str, status: int
) -> None:
    """Not run as a query (it used to fail inside, as a masked INTERNAL_SERVER_ERROR)."""
    response = await post(
        client, 'subscription { orderUpdated(orderId: "T3JkZXI6eA==") { status } }', accept
    )
    assert response.status_code == status
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert "WebSocket" in error["message"] and "graphql-transport-ws" in error["message"]
