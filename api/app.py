"""The Starlette application: /graphql, health, readiness, metrics, and the middleware."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute, request_response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketState
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UnsetType
from tortoise import connections

from api.context import Context, build_context
from api.exports import member_export
from api.ide import ASSET_ROUTE, graphiql_asset, graphiql_page
from api.media_types import (
    CONTENT_TYPES,
    GRAPHQL_RESPONSE,
    JSON,
    error_response,
    is_request_error,
    negotiate,
    status_of,
)
from api.metrics import METRICS, metrics_endpoint
from api.metrics_export import cohorts_csv, metrics_csv
from api.middleware import (
    AccessLogMiddleware,
    AuthMiddleware,
    BodyLimitMiddleware,
    RequestIdMiddleware,
    bearer_principal,
    note_principal,
)
from api.persisted import PersistedQueries, PersistedQueriesTransportWS, PersistedQueryRefused
from api.schema import build_schema
from api.segments_export import segment_members_csv
from api.webhooks import payment_webhook
from domain.errors import DomainError
from infra.jobs import InProcessScheduler
from infra.logging import configure_logging
from infra.runtime import Runtime
from infra.settings import Settings

log = logging.getLogger("omnishelf.api")


def _json_bytes(data: object) -> bytes:
    try:
        return orjson.dumps(data)
    except (TypeError, orjson.JSONEncodeError):  # e.g. an unpaired surrogate quoted in a message
        return json.dumps(data, separators=(",", ":")).encode()


HTTP_OPERATIONS = frozenset({OperationType.QUERY, OperationType.MUTATION})
SUBSCRIPTIONS_OVER_WEBSOCKET = (
    "Subscriptions run over a WebSocket on /graphql (the graphql-transport-ws protocol), "
    "not over HTTP."
)


class OmnishelfGraphQL(GraphQL[Context, None]):
    """POST /graphql for queries and mutations; subscriptions over a WebSocket on the same path
    with the graphql-transport-ws protocol (the legacy graphql-ws protocol is not offered).
    Both take persisted queries (api/persisted.py)."""

    graphql_transport_ws_handler_class = PersistedQueriesTransportWS

    def __init__(self, runtime: Runtime):
        super().__init__(
            build_schema(runtime.settings),
            graphql_ide="graphiql",
            allow_queries_via_get=False,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        )
        self.runtime = runtime
        self.persisted = PersistedQueries.of(runtime)
        self._guards: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """As strawberry's, in the media type the request's Accept prefers
        (`api/media_types.py`), and a request it cannot take (not JSON, a batch, another
        content type) gets the JSON error shape of every other refusal, not text."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        media_type = negotiate(request.headers.get("accept"))
        request.state.media_type = media_type or JSON
        response = self._refusal(request, media_type)
        if response is None:
            try:
                response = await self.run(request)
            except HTTPException as error:
                METRICS.error("BAD_REQUEST")
                response = error_response(
                    error.status_code, "BAD_REQUEST", error.reason, request.state.media_type
                )
            except PersistedQueryRefused as refusal:
                response = refusal.response(request.state.media_type)
        await response(scope, receive, send)

    def _refusal(self, request: Request, media_type: str | None) -> Response | None:
        """406 when Accept allows neither media type; 405 for an operation over GET (GET
        serves only the IDE, to a browser). Neither runs anything."""
        if request.method == "GET" and self.should_render_graphql_ide(
            self.request_adapter_class(request)
        ):
            return None
        if media_type is None:
            METRICS.error("NOT_ACCEPTABLE")
            message = f"Accept allows neither {GRAPHQL_RESPONSE} nor {JSON}."
            return error_response(406, "NOT_ACCEPTABLE", message, JSON)
        if request.method != "POST":
            METRICS.error("METHOD_NOT_ALLOWED")
            message = "Send GraphQL operations with POST; GET serves only the GraphiQL IDE."
            return error_response(405, "METHOD_NOT_ALLOWED", message, media_type, {"allow": "POST"})
        return None

    async def execute_single(
        self,
        request: Request,
        request_adapter: Any,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """As strawberry's, but HTTP runs queries and mutations only. Strawberry lets a
        subscription through for its multipart protocol, which we do not serve: the
        subscription then ran as a query and failed inside (a masked INTERNAL_SERVER_ERROR)."""
        try:
            return await self.schema.execute(
                request_data.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=HTTP_OPERATIONS,
                operation_extensions=request_data.extensions,
            )
        except InvalidOperationTypeError:
            raise HTTPException(400, SUBSCRIPTIONS_OVER_WEBSOCKET) from None
        except CannotGetOperationTypeError as error:
            raise HTTPException(400, error.as_http_error_reason()) from None
        except MissingQueryError:
            raise HTTPException(400, "No GraphQL query found in the request.") from None

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        """As strawberry's, with the document a persisted query names (api/persisted.py)."""
        data = await super().parse_http_body(request)
        if isinstance(data, list):  # a batch, which strawberry refuses
            return data
        return replace(data, query=await self.persisted.resolve(data.query, data.extensions))

    def parse_json(self, data: str | bytes) -> Any:
        """A body that is not UTF-8 JSON, nests deeper than the JSON parser recurses, or is a
        bare string, number or null is a 400 (they used to escape as exceptions: HTTP 500)."""
        try:
            parsed = self.decode_json(data)
        except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError: ValueErrors
            raise HTTPException(400, "The body is not JSON in UTF-8.") from None
        if not isinstance(parsed, dict | list):  # a list is a batch, which strawberry refuses
            raise HTTPException(400, "The body must be a JSON object with a `query`.")
        return parsed

    async def render_graphql_ide(self, request: Request) -> Response:
        """GraphiQL from the app's own files (api/ide.py), not strawberry's CDN page."""
        return graphiql_page()

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        """The response that resolvers may add headers to; it carries the negotiated media
        type to `create_response`."""
        sub_response = await super().get_sub_response(request)
        sub_response.media_type = request.state.media_type
        return sub_response

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        """In application/graphql-response+json a request error has no `data` entry."""
        body = await super().process_result(request, result)
        if request.state.media_type == GRAPHQL_RESPONSE and is_request_error(
            result.data, result.errors
        ):
            del body["data"]
        return body

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        """As strawberry's, in the negotiated media type with its status code, and with the
        body encoded by orjson (a page of products: 10 µs instead of 170). WebSocket messages
        keep strawberry's encoder, and text frames."""
        media_type = sub_response.media_type or JSON
        response = Response(
            _json_bytes(response_data),
            status_code=status_of(response_data, media_type),
            media_type=CONTENT_TYPES[media_type],
            headers={"vary": "Accept"},
        )
        response.headers.raw.extend(sub_response.headers.raw)
        if sub_response.background:
            response.background = sub_response.background
        if sub_response.status_code:
            response.status_code = sub_response.status_code
        return response

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
            context.principal, context.authorization = principal, str(value)
            note_principal(principal)
        if context.authorization is not None and isinstance(context.request, WebSocket):
            guard = asyncio.create_task(self._guard(context.request, context.authorization))
            self._guards.add(guard)
            guard.add_done_callback(self._guards.discard)
        return await super().on_ws_connect(context)

    async def _guard(self, ws: WebSocket, authorization: str) -> None:
        """Close the socket (4401) once its credential stops authenticating: a session logged
        out or revoked (merges and erasures revoke theirs), a device or API key revoked, an
        access token expired. Revocations reach every process's credentials cache within
        0.1 s through Redis; checked every WS_AUTH_CHECK_SECONDS (0.5)."""
        interval = self.runtime.settings.ws_auth_check_seconds
        while ws.application_state is WebSocketState.CONNECTED:
            await asyncio.sleep(interval)
            try:
                await bearer_principal(self.runtime, authorization)
            except DomainError:
                with contextlib.suppress(RuntimeError, OSError):  # closed meanwhile
                    await ws.close(code=4401, reason="credential revoked or expired")
                return


async def healthz(_: Request) -> Response:
    return JSONResponse({"status": "ok"})


def _readyz(runtime: Runtime) -> Callable[[Request], Awaitable[Response]]:
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


def settle_garbage_collector() -> None:
    """For a serving process, once started. A request allocates tens of thousands of
    short-lived objects (GraphQL results, domain objects): with the default thresholds the
    collector ran every 700 allocations and, every few dozen requests, walked the whole heap
    (the schema, the modules: 130,000 objects), a fifth of the CPU of a large query. What is
    alive after start-up lives for good: `freeze` takes it out of every collection; young
    collections then run every 20,000 allocations."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 50)


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
            settle_garbage_collector()
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
    export = request_response(member_export(runtime))
    numbers = request_response(metrics_csv(runtime))
    cohort_sheet = request_response(cohorts_csv(runtime))
    segment_members = request_response(segment_members_csv(runtime))
    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", _readyz(runtime)),
            Route("/metrics", metrics_endpoint(settings, runtime.clock)),
            Route("/webhooks/payments/{provider}", payment_webhook(runtime), methods=["POST"]),
            Route("/me/export", AuthMiddleware(export, runtime), methods=["GET"]),
            Route("/engagement/metrics.csv", AuthMiddleware(numbers, runtime), methods=["GET"]),
            Route(
                "/engagement/cohorts.csv", AuthMiddleware(cohort_sheet, runtime), methods=["GET"]
            ),
            Route(
                "/engagement/segments/{id}/members.csv",
                AuthMiddleware(segment_members, runtime),
                methods=["GET"],
            ),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route(ASSET_ROUTE, graphiql_asset, methods=["GET"]),
            WebSocketRoute("/graphql", graphql),
        ],
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    wrapped: Any = BodyLimitMiddleware(app, settings.max_body_bytes)
    wrapped = AccessLogMiddleware(wrapped, enabled=settings.access_log)
    return RequestIdMiddleware(wrapped)  # type: ignore[return-value]
