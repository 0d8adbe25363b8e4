"""Schema extensions: the cost ceiling, error shaping and masking, and metrics."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from graphql import (
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSyntaxError,
    OperationDefinitionNode,
)
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionResult, StreamExecutionResult

from api.cost import estimate
from api.metrics import METRICS
from api.middleware import note_operation
from domain.errors import DomainError
from infra.logging import request_id_var

log = logging.getLogger("omnishelf.api")


class CostLimiter(SchemaExtension):
    """Estimate each operation's cost before it runs; refuse it above the ceiling."""

    def __init__(self, *, max_cost: int):
        self.max_cost = max_cost
        self.cost: int | None = None

    async def on_execute(self) -> AsyncIterator[None]:
        ctx = self.execution_context
        document = ctx.graphql_document
        if document is not None:
            fragments = {
                d.name.value: d
                for d in document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }
            operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
            chosen = [
                o
                for o in operations
                if ctx.operation_name is None or (o.name and o.name.value == ctx.operation_name)
            ]
            if chosen:
                self.cost = estimate(ctx.schema._schema, chosen[0], fragments, ctx.variables)
                if self.cost > self.max_cost:
                    raise GraphQLError(
                        f"This query would cost {self.cost}, above the limit of "
                        f"{self.max_cost}. Ask for smaller pages (`first`) or fewer fields.",
                        extensions={"code": "QUERY_TOO_COSTLY", "cost": self.cost},
                    )
        yield

    def get_results(self) -> dict[str, Any]:
        if self.cost is None:
            return {}
        return {"cost": {"requested": self.cost, "maximum": self.max_cost}}


def _code_of(error: GraphQLError) -> str | None:
    code = (error.extensions or {}).get("code")
    return str(code) if code else None


def document_error_code(error: GraphQLError) -> str:
    """The code of a refused document that came without one: GRAPHQL_PARSE_FAILED for a
    syntax error; GRAPHQL_VALIDATION_FAILED for a validation error and for the parser's own
    limits (tokens, nesting: "... Parsing aborted."), which refuse a document's size as
    `DocumentLimiter` does, not its syntax."""
    cause = error.original_error if isinstance(error.original_error, GraphQLError) else error
    if isinstance(cause, GraphQLSyntaxError) and not cause.message.endswith("Parsing aborted."):
        return "GRAPHQL_PARSE_FAILED"
    return "GRAPHQL_VALIDATION_FAILED"


def client_error_code(error: GraphQLError) -> str | None:
    """The code of an error the client caused (a domain rule, a permission, a document that
    does not parse or validate); None for an unexpected one."""
    original = error.original_error
    if isinstance(original, DomainError):
        return original.code.value
    if code := _code_of(error):
        return code
    if isinstance(original, GraphQLError):
        return _code_of(original) or document_error_code(error)
    return document_error_code(error) if original is None else None


def document_id(query: str | None) -> str | None:
    """How logs name a document: a hash of its text, never the text (its literal arguments
    may be personal data)."""
    return hashlib.sha256(query.encode()).hexdigest()[:16] if query else None


def operation_of(context: Any) -> dict[str, Any]:
    """The operation's name and document hash, for a log line."""
    if context is None:
        return {}
    try:
        name = context.operation_name
    except Exception:  # an unparsable document has no operation to name
        name = None
    return {"operation": name, "document": document_id(context.query)}


def log_client_errors(errors: list[GraphQLError], context: Any) -> None:
    """Expected errors at INFO, by code and path only: no traceback, and no message, which may
    quote the input (a phone number in a variable). Unexpected ones are ErrorShaping's: at
    ERROR with the traceback."""
    for error in errors:
        code = client_error_code(error)
        if code is not None:
            log.info(
                "client error",
                extra={"code": code, "path": error.path, **operation_of(context)},
            )


class ErrorShaping(SchemaExtension):
    """Give every top-level error a code; mask unexpected ones and log them with the request id."""

    def __init__(self) -> None:
        self.streamed = False

    def on_operation(self) -> Iterator[None]:
        try:
            yield
        except GraphQLError as error:
            # ParserCache parses in `on_parse`, outside strawberry's handling of syntax errors:
            # those (and the token limit's) come through here instead of in the result.
            raise self._shape(error) from None
        result = self.execution_context.result
        if self.streamed or result is None or not result.errors:
            return
        result.errors = [self._shape(e) for e in result.errors]

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        """WebSocket operations: shape each result before it is sent (on_operation ends after)."""
        self.streamed = True
        if isinstance(result, ExecutionResult) and result.errors:
            result.errors = [self._shape(e) for e in result.errors]
        yield

    def _shape(self, error: GraphQLError) -> GraphQLError:
        original = error.original_error
        if isinstance(original, DomainError):
            METRICS.error(original.code.value)
            return GraphQLError(
                original.message,
                nodes=error.nodes,
                path=error.path,
                extensions={"code": original.code.value, "field": original.field},
            )
        if _code_of(error):
            METRICS.error(_code_of(error) or "")
            return error
        if original is None or isinstance(original, GraphQLError):
            code = document_error_code(error)
            METRICS.error(code)
            error.extensions = {**(error.extensions or {}), "code": code}
            return error
        request_id = request_id_var.get()
        log.error(
            "unexpected error in resolver",
            exc_info=(type(original), original, original.__traceback__),
            extra={"path": error.path, **operation_of(self.execution_context)},
        )
        METRICS.error("INTERNAL_SERVER_ERROR")
        return GraphQLError(
            f"Internal error. Quote request id {request_id} when reporting it.",
            nodes=error.nodes,
            path=error.path,
            extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
        )


class Metrics(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        # A subscription's on_operation ends only with its stream: name it for the access
        # line of its WebSocket once the document is parsed.
        note_operation(operation_of(self.execution_context).get("operation"))
        yield

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        ctx = self.execution_context
        result = ctx.result
        status = "error" if result is not None and result.errors else "ok"
        name = operation_of(ctx).get("operation")
        METRICS.operation(name, time.perf_counter() - started, status)
        note_operation(name)
