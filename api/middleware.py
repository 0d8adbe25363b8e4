"""Pure ASGI middleware: request ids, body size limit, bearer authentication."""

from __future__ import annotations

import re
import uuid
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.media_types import accepted, error_response
from api.metrics import METRICS
from domain.errors import DomainError
from domain.identity.model import Principal
from domain.identity.services import authenticate
from infra.logging import request_id_var

REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


async def _refuse(
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
) -> None:
    """Refuse the whole request, in the media type its Accept prefers."""
    response = error_response(status, code, message, accepted(Headers(scope=scope)), headers)
    await response(scope, receive, send)


class RequestIdMiddleware:
    """Accept a sane incoming X-Request-Id or make one; echo it and log with it."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers", [])).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if REQUEST_ID_RE.fullmatch(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        route = (
            "/graphql" if scope.get("path", "").startswith("/graphql") else scope.get("path", "")
        )

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
                label = (
                    route if route in ("/graphql", "/healthz", "/readyz", "/metrics") else "other"
                )
                METRICS.http.labels(label, str(message["status"])).inc()
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


class BodyLimitMiddleware:
    """Refuse request bodies above the limit with 413, whether announced or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers", [])).get(b"content-length")
        too_big = f"The request body exceeds {self.max_bytes} bytes."
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await _refuse(scope, receive, send, 413, "REQUEST_TOO_LARGE", too_big)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _refuse(scope, receive, send, 413, "REQUEST_TOO_LARGE", too_big)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class AuthMiddleware:
    """Resolve `Authorization: Bearer` into a principal; a bad token is refused with 401 (a
    WebSocket handshake with 403). Browsers cannot set headers on a WebSocket: theirs send the
    token in `connection_init` instead (OmnishelfGraphQL.on_ws_connect)."""

    def __init__(self, app: ASGIApp, runtime: Any):
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        header = dict(scope.get("headers", [])).get(b"authorization", b"").decode("latin-1")
        principal = None
        if header:
            try:
                principal = await bearer_principal(self.runtime, header)
            except DomainError as error:
                METRICS.error("UNAUTHENTICATED")
                if scope["type"] == "http":
                    await _refuse(
                        scope,
                        receive,
                        send,
                        401,
                        "UNAUTHENTICATED",
                        error.message,
                        {"www-authenticate": 'Bearer error="invalid_token"'},
                    )
                else:
                    await send({"type": "websocket.close", "code": 4401})
                return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


async def bearer_principal(runtime: Any, authorization: str) -> Principal:
    """`Bearer <token>` (a header, or a WebSocket's connection_init) to the caller it names;
    a DomainError (UNAUTHENTICATED) when it is malformed, unknown, expired or revoked."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or len(token) > 4096:
        raise _malformed()
    return await authenticate(runtime.auth, token.strip())


def _malformed() -> DomainError:
    from domain.errors import AuthError, AuthErrorCode

    return AuthError(
        AuthErrorCode.UNAUTHENTICATED, "Send the token as `Authorization: Bearer <token>`."
    )
