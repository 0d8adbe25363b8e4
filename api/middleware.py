"""Pure ASGI middleware: request ids, the access log, body size limit, bearer authentication."""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.media_types import accepted, error_response
from api.metrics import METRICS, operation_name
from domain.errors import DomainError
from domain.identity.model import Principal
from domain.identity.services import authenticate
from infra.logging import request_id_var

REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_access_log = logging.getLogger("omnishelf.access")


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

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


@dataclass
class AccessRecord:
    """What the layers inside learn about the request being served, for its access line."""

    operation: str | None = None
    principal: Principal | None = None


_access: contextvars.ContextVar[AccessRecord | None] = contextvars.ContextVar(
    "access", default=None
)
# Paths answered before routing (a body over the limit): the route they would have had.
_UNROUTED = ("/graphql", "/healthz", "/readyz", "/metrics", "/me/export")


def note_operation(name: str | None) -> None:
    """The GraphQL operation being served (its sanitised name, `anonymous` without one)."""
    record = _access.get()
    if record is not None:
        record.operation = operation_name(name) or "anonymous"


def note_principal(principal: Principal | None) -> None:
    """The caller, when it is known only after the handshake (a WebSocket's connection_init)."""
    record = _access.get()
    if record is not None and principal is not None:
        record.principal = principal


def principal_kind(principal: Principal | None) -> str:
    return "anonymous" if principal is None else principal.kind.value.lower()


def route_template(scope: Scope) -> str:
    """The matched route's template (`/webhooks/payments/{provider}`), never the raw path: a
    bounded label that carries nothing a client typed."""
    route = scope.get("route")
    if route is not None and isinstance(getattr(route, "path", None), str):
        return str(route.path)
    path = scope.get("path", "")
    return path if path in _UNROUTED else "other"


class AccessLogMiddleware:
    """One `omnishelf.access` line per HTTP request when its response ends, and one per
    WebSocket when it closes: method, route template, status (a WebSocket's close code),
    duration, GraphQL operation name, principal kind, and (from the formatter) the request id.
    Nothing a client chose beyond a sanitised operation name: no query string, no variables,
    no address, no ids. Counts HTTP requests by route and open WebSockets for /metrics."""

    def __init__(self, app: ASGIApp, enabled: bool = True):
        self.app = app
        self.enabled = enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        record = AccessRecord()
        token = _access.set(record)
        started = time.perf_counter()
        status: int | None = None
        accepted = False

        async def watching_send(message: Message) -> None:
            nonlocal status, accepted
            kind_of = message["type"]
            if kind_of in ("http.response.start", "websocket.http.response.start"):
                status = message["status"]
            elif kind_of == "websocket.accept":
                accepted = True
                METRICS.websockets.inc()
            elif kind_of == "websocket.close" and status is None:
                status = int(message.get("code", 1000))
            await send(message)

        async def watching_receive() -> Message:
            nonlocal status
            message = await receive()
            if message["type"] == "websocket.disconnect" and status is None:
                status = int(message.get("code", 1005))
            return message

        try:
            await self.app(scope, watching_receive, watching_send)
        finally:
            if accepted:
                METRICS.websockets.dec()
            route = route_template(scope)
            if kind == "http":
                status = 500 if status is None else status
                METRICS.http.labels(route, str(status)).inc()
            if self.enabled:
                principal = record.principal or scope.get("state", {}).get("principal")
                _access_log.info(
                    "websocket closed" if kind == "websocket" else "request",
                    extra={
                        "method": scope.get("method", "GET") if kind == "http" else "WEBSOCKET",
                        "path": route,
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                        "operation": record.operation,
                        "principal": principal_kind(principal),
                    },
                )
            _access.reset(token)


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
