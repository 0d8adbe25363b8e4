"""The Starlette application: /graphql, health, readiness, metrics, and the middleware."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UnsetType
from tortoise import connections

from api.context import Context, build_context
from api.metrics import METRICS
from api.middleware import (
    AuthMiddleware,
    BodyLimitMiddleware,
    RequestIdMiddleware,
    bearer_principal,
)
from api.schema import build_schema
from api.webhooks import payment_webhook
from domain.errors import DomainError
from infra.jobs import InProcessScheduler
from infra.logging import configure_logging
from infra.runtime import Runtime
from infra.settings import Settings

log = logging.getLogger("omnishelf.api")


class OmnishelfGraphQL(GraphQL[Context, None]):
    """POST /graphql for queries and mutations; subscriptions over a WebSocket on the same path
    with the graphql-transport-ws protocol (the legacy graphql-ws protocol is not offered)."""

    def __init__(self, runtime: Runtime):
        super().__init__(
            build_schema(runtime.settings),
            graphql_ide="graphiql",
            allow_queries_via_get=False,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        )
        self.runtime = runtime

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket | None = None
    ) -> Context:
        return build_context(
            request, response if isinstance(response, Response) else None, self.runtime
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """`connection_init` may carry `{"authorization": "Bearer <token>"}`, since browsers
        cannot set headers on a WebSocket. It replaces any header token; a bad one closes the
        socket with 4403. Without it the connection keeps the header's caller (or none)."""
        params = context.connection_params or {}
        value = next((v for k, v in params.items() if k.lower() == "authorization"), None)
        if value is not None:
            principal = None
            if isinstance(value, str):
                with contextlib.suppress(DomainError):
                    principal = await bearer_principal(self.runtime, value)
            if principal is None:
                METRICS.error("UNAUTHENTICATED")
                raise ConnectionRejectionError()
            context.principal = principal
        return await super().on_ws_connect(context)


async def healthz(_: Request) -> Response:
    return JSONResponse({"status": "ok"})


def _readyz(runtime: Runtime) -> Any:
    async def readyz(_: Request) -> Response:
        checks: dict[str, str] = {}
        try:
            await connections.get("default").execute_query("SELECT 1")
            checks["database"] = "ok"
        except Exception as error:  # any failure means not ready; say which
            checks["database"] = f"error: {type(error).__name__}"
        if runtime.settings.redis_url:
            try:
                assert runtime.redis is not None
                await runtime.redis.ping()
                checks["redis"] = "ok"
            except Exception as error:
                checks["redis"] = f"error: {type(error).__name__}"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    return readyz


async def metrics(_: Request) -> Response:
    return PlainTextResponse(METRICS.render(), media_type="text/plain; version=0.0.4")


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Starlette:
    """App factory (uvicorn --factory). Tests pass a started runtime; serving starts its own."""
    settings = settings or (runtime.settings if runtime else Settings.from_env())
    runtime = runtime or Runtime(settings)
    owns_runtime = not runtime.started
    if owns_runtime:
        configure_logging(settings.log_level)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        scheduler = InProcessScheduler(runtime) if settings.run_jobs_in_process else None
        if owns_runtime:
            await runtime.start()
        if scheduler:
            scheduler.start()
        log.info("omnishelf ready", extra={"env": settings.env, "sqlite": settings.is_sqlite})
        try:
            yield
        finally:
            if scheduler:
                await scheduler.stop()
            if owns_runtime:
                await runtime.stop()

    graphql = AuthMiddleware(OmnishelfGraphQL(runtime), runtime)
    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", _readyz(runtime)),
            Route("/metrics", metrics),
            Route("/webhooks/payments/{provider}", payment_webhook(runtime), methods=["POST"]),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
        ],
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    wrapped: Any = BodyLimitMiddleware(app, settings.max_body_bytes)
    return RequestIdMiddleware(wrapped)  # type: ignore[return-value]
