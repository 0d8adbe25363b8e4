"""Persisted queries (api/persisted.py): Apollo's automatic persisted queries as its client's
`createPersistedQueryLink` speaks them, and the allow-list mode of production mini-programs,
over HTTP and over the WebSocket."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import httpx
import pytest

from api.app import create_app
from infra.db.models.catalog import ProductRow
from infra.persisted_queries import APQ_PREFIX, Operation, sha256_hex
from infra.runtime import Runtime
from infra.settings import Settings
from tests.support import MovableClock
from tests.support.api import Api
from tests.support.catalog import PRODUCT_CREATE, variant
from tests.support.ws import serve, session, ws_url

# Without Redis, what one test teaches APQ stays in the session runtime's memory: a test that
# expects PersistedQueryNotFound first uses a document no other test sends with its hash.
PRODUCTS = "query Products { products(first: 5) { edges { node { name } } } }"
PING = "query Ping { __typename }"
TYPENAME = {"__typename": "Query"}


def _extension(sha256: str, version: object = 1) -> dict[str, Any]:
    return {"persistedQuery": {"version": version, "sha256Hash": sha256}}


async def _post(
    client: httpx.AsyncClient,
    *,
    query: str | None = None,
    sha256: str | None = None,
    variables: dict[str, Any] | None = None,
    token: str | None = None,
) -> httpx.Response:
    """One request as Apollo's link sends it: the extension, the document or both."""
    body: dict[str, Any] = {"variables": variables or {}}
    if query is not None:
        body["query"] = query
    if sha256 is not None:
        body["extensions"] = _extension(sha256)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await client.post("/graphql", json=body, headers=headers)


def _data(response: httpx.Response) -> Any:
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    return body["data"]


def _refusal(response: httpx.Response) -> tuple[int, str, str]:
    [error] = response.json()["errors"]
    return response.status_code, error["extensions"]["code"], error["message"]


@asynccontextmanager
async def _app(
    settings: Settings, clock: MovableClock, **changes: Any
) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    """Another API instance on the same database (and Redis, unless `redis_url=None`), with
    its own runtime: its own caches and its own in-process APQ store."""
    runtime = Runtime(replace(settings, **changes), clock=clock, fast_password_hashing=True)
    await runtime.start(database=False)
    try:
        transport = httpx.ASGITransport(app=create_app(runtime=runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield runtime, c
    finally:
        await runtime.stop(database=False)


@pytest.fixture
async def allowlist(
    settings: Settings, clock: MovableClock
) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    async with _app(settings, clock, persisted_queries="allowlist") as app:
        yield app


# -- automatic persisted queries (the default mode) -------------------------------------------


async def test_the_apollo_round_trip(client: httpx.AsyncClient, admin: Api) -> None:
    await admin.data(PRODUCT_CREATE, {"input": {"name": "Mango", "variants": [variant("M-1")]}})
    sha256 = sha256_hex(PRODUCTS)

    miss = await _post(client, sha256=sha256)
    not_found = {
        "message": "PersistedQueryNotFound",
        "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
    }
    assert miss.json() == {"errors": [not_found]}
    assert miss.status_code == 200  # Apollo Server's: the client retries, nothing is masked
    assert miss.headers["cache-control"] == "private, no-cache, must-revalidate"

    registered = await _post(client, query=PRODUCTS, sha256=sha256)
    assert registered.status_code == 200
    names = [e["node"]["name"] for e in registered.json()["data"]["products"]["edges"]]
    assert names == ["Mango"]

    by_hash = await _post(client, sha256=sha256)
    assert _data(by_hash) == _data(registered)
    # Without the extension a document runs as ever.
    assert _data(await _post(client, query=PRODUCTS)) == _data(registered)


async def test_a_hash_names_the_document_with_its_variables_and_operation(
    client: httpx.AsyncClient,
) -> None:
    query = "query A { __typename } query B($n: Int!) { products(first: $n) { edges { cursor } } }"
    sha256 = sha256_hex(query)
    first = await client.post(
        "/graphql",
        json={"query": query, "operationName": "A", "extensions": _extension(sha256)},
    )
    assert _data(first) == TYPENAME
    second = await client.post(
        "/graphql",
        json={"operationName": "B", "variables": {"n": 1}, "extensions": _extension(sha256)},
    )
    assert _data(second) == {"products": {"edges": []}}


async def test_a_hash_that_is_not_the_documents_is_refused_and_not_learnt(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    other = sha256_hex("query Mismatched { __typename }")
    mismatch = await _post(client, query=PRODUCTS, sha256=other)
    assert _refusal(mismatch) == (
        400,
        "PERSISTED_QUERY_HASH_MISMATCH",
        "provided sha does not match query",
    )
    assert "data" not in mismatch.json()
    assert await runtime.apq_documents.get(other) is None
    assert _refusal(await _post(client, sha256=other))[1] == "PERSISTED_QUERY_NOT_FOUND"


@pytest.mark.parametrize(
    ("extensions", "message"),
    [
        (_extension("0" * 64, version=2), "Unsupported persisted query version 2"),
        (_extension("0" * 64, version="1"), "Unsupported persisted query version '1'"),
        (_extension("0" * 64, version=True), "Unsupported persisted query version True"),
        (_extension("abc"), "must be 64 hexadecimal digits"),
        (_extension("g" * 64), "must be 64 hexadecimal digits"),
        ({"persistedQuery": "0" * 64}, "must be an object"),
    ],
)
async def test_a_malformed_extension_is_a_bad_request(
    client: httpx.AsyncClient, extensions: dict[str, Any], message: str
) -> None:
    response = await client.post("/graphql", json={"query": PING, "extensions": extensions})
    status, code, text = _refusal(response)
    assert (status, code) == (400, "BAD_REQUEST") and message in text


async def test_an_uppercase_hash_names_the_same_document(client: httpx.AsyncClient) -> None:
    await _post(client, query=PING, sha256=sha256_hex(PING))
    assert _data(await _post(client, sha256=sha256_hex(PING).upper())) == TYPENAME


async def test_a_document_learnt_by_one_instance_runs_by_hash_on_another(
    client: httpx.AsyncClient, settings: Settings, clock: MovableClock, runtime: Runtime
) -> None:
    """Two API instances share what APQ learnt through Redis: the client's retry may reach
    another process than its first request, and its next request a third."""
    if not settings.redis_url:
        pytest.skip("APQ documents are shared through Redis")
    sha256 = sha256_hex(PING)
    async with _app(settings, clock) as (_, other):
        assert _refusal(await _post(other, sha256=sha256))[1] == "PERSISTED_QUERY_NOT_FOUND"
        assert (await _post(client, query=PING, sha256=sha256)).status_code == 200
        assert _data(await _post(other, sha256=sha256)) == TYPENAME
    assert runtime.redis is not None
    assert await runtime.redis.ttl(APQ_PREFIX + sha256) > 0  # PERSISTED_QUERY_TTL


async def test_without_redis_documents_are_learnt_in_the_process(
    settings: Settings, clock: MovableClock
) -> None:
    async with _app(settings, clock, redis_url=None) as (runtime, client):
        assert runtime.redis is None
        await _post(client, query=PING, sha256=sha256_hex(PING))
        assert _data(await _post(client, sha256=sha256_hex(PING))) == TYPENAME


async def test_a_document_longer_than_allowed_is_not_learnt(
    client: httpx.AsyncClient, runtime: Runtime, settings: Settings
) -> None:
    padded = PING + " " * (settings.graphql_max_tokens * 10)
    response = await _post(client, query=padded, sha256=sha256_hex(padded))
    assert response.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert await runtime.apq_documents.get(sha256_hex(padded)) is None


async def test_registered_operations_run_by_hash_in_apq_mode_too(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    registered = "query Registered { __typename }"
    await runtime.persisted_queries.add([Operation("Registered", registered)])
    assert _data(await _post(client, sha256=sha256_hex(registered))) == TYPENAME


async def test_with_persisted_queries_off_the_client_is_told_to_stop(
    settings: Settings, clock: MovableClock
) -> None:
    async with _app(settings, clock, persisted_queries="off") as (runtime, client):
        for sent in ({"sha256": sha256_hex(PING)}, {"query": PING, "sha256": sha256_hex(PING)}):
            response = await _post(client, **sent)
            assert _refusal(response) == (
                200,
                "PERSISTED_QUERY_NOT_SUPPORTED",
                "PersistedQueryNotSupported",
            )
        assert await runtime.apq_documents.get(sha256_hex(PING)) is None
        assert _data(await _post(client, query=PING)) == TYPENAME


# -- the allow-list ---------------------------------------------------------------------------


async def test_allowlist_runs_registered_operations_by_hash_or_by_document(
    allowlist: tuple[Runtime, httpx.AsyncClient],
) -> None:
    runtime, client = allowlist
    await runtime.persisted_queries.add([Operation("Ping", PING)])
    assert _data(await _post(client, sha256=sha256_hex(PING))) == TYPENAME
    assert _data(await _post(client, query=PING, sha256=sha256_hex(PING))) == TYPENAME
    assert _data(await _post(client, query=PING)) == TYPENAME


async def test_allowlist_refuses_an_unregistered_mutation_which_changes_nothing(
    allowlist: tuple[Runtime, httpx.AsyncClient], admin: Api
) -> None:
    runtime, client = allowlist
    await runtime.persisted_queries.add([Operation("Ping", PING)])
    create = {"input": {"name": "Mango", "variants": [variant("M-1")]}}
    for sent in (
        {"query": PRODUCT_CREATE},  # a document alone
        {"query": PRODUCT_CREATE, "sha256": sha256_hex(PRODUCT_CREATE)},  # APQ registration
        {"sha256": sha256_hex(PRODUCT_CREATE)},  # a hash alone
    ):
        response = await _post(client, variables=create, token=admin.token, **sent)
        status, code, _ = _refusal(response)
        assert (status, code) == (403, "PERSISTED_QUERY_NOT_ALLOWED")
        assert "data" not in response.json()
    assert await ProductRow.all().count() == 0
    assert await runtime.apq_documents.get(sha256_hex(PRODUCT_CREATE)) is None
    # The same token and mutation through an instance in APQ mode do run: the refusal was
    # the allow-list's, not the caller's or the input's.
    assert (await admin.data(PRODUCT_CREATE, create))["productCreate"]["errors"] == []
    assert await ProductRow.all().count() == 1


async def test_allowlist_compares_the_exact_text(
    allowlist: tuple[Runtime, httpx.AsyncClient],
) -> None:
    """The hash is of the text: the same operation formatted otherwise is another one."""
    runtime, client = allowlist
    await runtime.persisted_queries.add([Operation("Ping", PING)])
    refused = await _post(client, query=PING.replace(" {", "{"))
    assert _refusal(refused)[:2] == (403, "PERSISTED_QUERY_NOT_ALLOWED")


async def test_allowlist_sees_an_operation_registered_by_another_process(
    allowlist: tuple[Runtime, httpx.AsyncClient], runtime: Runtime
) -> None:
    """Registered through another runtime (the CLI's): seen once the cache's change counter
    is read (0.1 s with Redis, the TTL without)."""
    allowlist_runtime, client = allowlist
    assert _refusal(await _post(client, query=PING))[1] == "PERSISTED_QUERY_NOT_ALLOWED"
    await runtime.persisted_queries.add([Operation("Ping", PING)])
    allowlist_runtime.caches.persisted_queries.clear()  # as the counter's change would
    assert _data(await _post(client, query=PING)) == TYPENAME
    await runtime.persisted_queries.remove(sha256_hex(PING))
    allowlist_runtime.caches.persisted_queries.clear()
    assert _refusal(await _post(client, query=PING))[1] == "PERSISTED_QUERY_NOT_ALLOWED"


async def test_allowlist_applies_to_websocket_operations(
    allowlist: tuple[Runtime, httpx.AsyncClient],
) -> None:
    runtime, _ = allowlist
    await runtime.persisted_queries.add([Operation("Ping", PING)])
    async with serve(runtime) as address, session(ws_url(address)) as ws:
        await ws.send({"id": "1", "type": "subscribe", "payload": {"query": "{ __typename }"}})
        refused = await ws.receive()
        assert refused["type"] == "error" and refused["id"] == "1"
        assert refused["payload"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_ALLOWED"
        extensions = _extension(sha256_hex(PING))
        await ws.send({"id": "2", "type": "subscribe", "payload": {"extensions": extensions}})
        answer = await ws.receive()
        assert (answer["id"], answer["type"]) == ("2", "next")
        assert answer["payload"]["data"] == TYPENAME
        assert (await ws.receive())["type"] == "complete"
        await ws.send({"id": "3", "type": "subscribe", "payload": {"query": PING}})
        assert (await ws.receive())["payload"]["data"] == TYPENAME


async def test_apq_over_the_websocket(server: str) -> None:
    query = "query OverTheSocket { __typename }"  # learnt by no other test of this process
    async with session(server) as ws:
        extensions = _extension(sha256_hex(query))
        await ws.send({"id": "1", "type": "subscribe", "payload": {"extensions": extensions}})
        miss = await ws.receive()
        assert (miss["type"], miss["payload"][0]["message"]) == ("error", "PersistedQueryNotFound")
        payload = {"query": query, "extensions": extensions}
        await ws.send({"id": "2", "type": "subscribe", "payload": payload})
        assert (await ws.receive())["payload"]["data"] == TYPENAME
        assert (await ws.receive())["type"] == "complete"
        await ws.send({"id": "3", "type": "subscribe", "payload": {"extensions": extensions}})
        assert (await ws.receive())["payload"]["data"] == TYPENAME
