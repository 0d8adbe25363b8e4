"""GET /me/export: the member's data export, streamed (bounded memory at any size).

Authenticated like /graphql (`Authorization: Bearer <member access token>`); the body is the
same JSON document `exportMyData` returns, written as it is read, page by page."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from domain.errors import DomainError
from domain.members.privacy import export_stream

if TYPE_CHECKING:
    from infra.runtime import Runtime


def _refusal(code: str, message: str, status: int) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]}, status_code=status
    )


def member_export(runtime: Runtime) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        principal = request.scope.get("state", {}).get("principal")
        if principal is None:
            return _refusal("UNAUTHENTICATED", "Send the member's access token.", 401)
        if not principal.is_member:
            return _refusal("FORBIDDEN", "Only a member exports their own data.", 403)
        chunks = export_stream(runtime.members, principal)
        try:
            first = await anext(chunks)  # the member's record: refusals come before the 200
        except DomainError as error:
            return _refusal(error.code.value, error.message, 404)

        async def body() -> AsyncIterator[bytes]:
            yield first.encode()
            async for chunk in chunks:
                yield chunk.encode()

        return StreamingResponse(
            body(),
            media_type="application/json",
            headers={
                "Content-Disposition": 'attachment; filename="omnishelf-export.json"',
                "Cache-Control": "no-store",
            },
        )

    return endpoint
