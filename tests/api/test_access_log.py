"""The access log (issue 14): one `omnishelf.access` line per HTTP request and per WebSocket
when it closes, with the fields an operator needs and nothing personal."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from api.app import create_app
from infra.logging import JsonFormatter
from infra.runtime import Runtime
from tests.support.api import Api
from tests.support.shoppers import shopper
from tests.support.ws import serve, session, ws_url

LOOKUP = """query LookUpAtTheTill($p: String!) {
  lookupMember(input: {phone: $p}) { id } }"""
PHONE = "+8613900007777"


class Lines(logging.Handler):
    """The access lines as production writes them (formatted while the request id is set)."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.setFormatter(JsonFormatter())
        self.raw: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.raw.append(self.format(record))

    @property
    def parsed(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.raw]


@pytest.fixture
def access() -> Iterator[Lines]:
    lines = Lines()
    logger = logging.getLogger("omnishelf.access")
    logger.addHandler(lines)
    yield lines
    logger.removeHandler(lines)


async def test_one_line_per_request_with_its_fields_and_no_personal_data(
    api: Api, client: httpx.AsyncClient, access: Lines
) -> None:
    member = await shopper(api, "access-log")
    access.raw.clear()
    headers = {"Authorization": f"Bearer {member.api.token}", "X-Request-Id": "req-access-0001"}
    response = await client.post(
        "/graphql?token=secret-in-the-query-string",
        json={"query": LOOKUP, "variables": {"p": PHONE}, "operationName": "LookUpAtTheTill"},
        headers=headers,
    )
    assert response.status_code == 200
    [line] = access.parsed
    assert line["logger"] == "omnishelf.access" and line["level"] == "INFO"
    assert {k: line[k] for k in ("method", "path", "status", "operation", "principal")} == {
        "method": "POST",
        "path": "/graphql",
        "status": 200,
        "operation": "LookUpAtTheTill",
        "principal": "member",
    }
    assert line["request_id"] == response.headers["x-request-id"] == "req-access-0001"
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    raw = access.raw[0]
    for secret in (PHONE, "13900007777", "secret-in-the-query-string", member.api.token or "?"):
        assert secret not in raw
    assert "203.0.113.7" not in raw  # the client's address is not logged


async def test_other_routes_are_named_by_their_template(
    client: httpx.AsyncClient, access: Lines
) -> None:
    await client.get("/healthz")
    await client.post("/webhooks/payments/devpay", content=b"{}")
    await client.get("/no/such/page/13900007777")
    lines = access.parsed
    assert [(x["method"], x["path"], x["status"], x["principal"]) for x in lines] == [
        ("GET", "/healthz", 200, "anonymous"),
        ("POST", "/webhooks/payments/{provider}", 401, "anonymous"),
        ("GET", "other", 404, "anonymous"),
    ]
    assert all(x["operation"] is None for x in lines)
    assert "13900007777" not in "".join(access.raw)


async def test_a_websocket_gets_one_line_when_it_closes(
    api: Api, runtime: Runtime, access: Lines
) -> None:
    member = await shopper(api, "access-ws")
    access.raw.clear()
    async with serve(runtime) as address, session(ws_url(address), member.api.token) as ws:
        await ws.subscribe(
            "subscription Watch($id: ID!) { orderUpdated(orderId: $id) { status } }",
            {"id": "T3JkZXI6MDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAw"},
        )
        await ws.receive()  # its answer (an error for an order that does not exist)
        assert [x for x in access.parsed if x["method"] == "WEBSOCKET"] == []  # still open
    closing = [x for x in access.parsed if x["method"] == "WEBSOCKET"]
    assert len(closing) == 1
    [line] = closing
    assert (line["path"], line["principal"], line["operation"]) == ("/graphql", "member", "Watch")
    assert line["msg"] == "websocket closed" and isinstance(line["status"], int)


@pytest.fixture
async def quiet_client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(replace(runtime.settings, access_log=False), runtime=runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def test_access_log_off(quiet_client: httpx.AsyncClient, access: Lines) -> None:
    assert (await quiet_client.get("/healthz")).status_code == 200
    assert access.raw == []
