"""The Starlette application: /graphql, health, readiness, metrics, and the middleware."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from tortoise import connections

from api.context import Context, build_context
from api.metrics import METRICS
from api.middleware import AuthMiddleware, BodyLimitMiddleware, RequestIdMiddleware
from api.schema import build_schema
from infra.jobs import InProcessScheduler
from infra.logging import configure_logging
from infra.runtime import Runtime
from infra.settings import Settings

log = logging.getLogger("omnishelf.api")


class OmnishelfGraphQL(GraphQL[Context, None]):
    def __init__(self, runtime: Runtime):
        super().__init__(
            build_schema(runtime.settings),
            graphql_ide="graphiql",
            allow_queries_via_get=False,
        )
        self.runtime = runtime

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket | None = None
    ) -> Context:
        return build_context(
            request, response if isinstance(response, Response) else None, self.runtime
        )


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
            Route("/graphql", graphql, methods=["GET", "POST"]),
        ],
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    wrapped: Any = BodyLimitMiddleware(app, settings.max_body_bytes)
    return RequestIdMiddleware(wrapped)  # type: ignore[return-value]
