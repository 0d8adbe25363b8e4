"""GraphQL over the ASGI app: the `Api` caller and staff logins."""

from __future__ import annotations

from typing import Any

import httpx

from domain.identity.model import StaffRole
from domain.identity.services import create_staff
from infra.runtime import Runtime

STAFF_PASSWORD = "correct-horse-battery"  # every staff account the tests make has it


class Api:
    """Posts GraphQL to the app; `as_(token)` sends a bearer token."""

    def __init__(self, client: httpx.AsyncClient, token: str | None = None):
        self.client = client
        self.token = token

    def as_(self, token: str | None) -> Api:
        return Api(self.client, token)

    async def raw(self, query: str, variables: dict[str, Any] | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )

    async def __call__(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.raw(query, variables)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = await self(query, variables)
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data


LOGIN = """
mutation($u: String!, $p: String!) {
  staffLogin(input: {username: $u, password: $p}) {
    tokens { accessToken refreshToken }
    errors { code message field }
  }
}"""


async def login(api: Api, username: str, password: str) -> dict[str, Any]:
    data = await api.data(LOGIN, {"u": username, "p": password})
    result: dict[str, Any] = data["staffLogin"]
    return result


async def staff_api(
    api: Api, runtime: Runtime, username: str, role: StaffRole, stores: list[Any]
) -> Api:
    """A new staff account of `role` at `stores`, logged in over GraphQL."""
    await create_staff(runtime.auth, username, STAFF_PASSWORD, role, [s.id for s in stores])
    return await relogin(api, username)


async def relogin(api: Api, username: str) -> Api:
    """A fresh access token (they live 15 minutes; tests that move the clock need new ones)."""
    result = await login(api, username, STAFF_PASSWORD)
    assert result["errors"] == [], result
    return api.as_(result["tokens"]["accessToken"])
