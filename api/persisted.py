"""Persisted queries: Apollo's automatic persisted queries (APQ) and an allow-list.

A request names its document by hash in `extensions.persistedQuery = {"version": 1,
"sha256Hash": "<hex SHA-256 of the document>"}`, with or without the document itself, over
HTTP POST and in a WebSocket `subscribe` message's payload alike. PERSISTED_QUERIES says what
the server does with it:

    off        the extension is refused with PersistedQueryNotSupported (Apollo's client
               then stops sending it); documents run as sent.
    apq        (default) a hash alone runs the document registered (the allow-list table) or
               learnt for it, else PersistedQueryNotFound: the client sends the document with
               the hash, the server checks that the hash is the document's, learns it and
               runs it. A document without the extension runs as sent.
    allowlist  only registered operations run: a hash alone, a document with its hash, or a
               document alone whose hash is registered. Anything else is refused with
               PERSISTED_QUERY_NOT_ALLOWED (HTTP 403) before it is parsed, and nothing is
               learnt from clients.

Refusals, each before anything is parsed or run (HTTP status; `extensions.code`):

    200  PERSISTED_QUERY_NOT_FOUND       "PersistedQueryNotFound": Apollo's client resends
    200  PERSISTED_QUERY_NOT_SUPPORTED   "PersistedQueryNotSupported": Apollo's client stops
    400  PERSISTED_QUERY_HASH_MISMATCH   the document's SHA-256 is not the hash: nothing learnt
    400  BAD_REQUEST                     not version 1, or the hash is not 64 hex digits
    403  PERSISTED_QUERY_NOT_ALLOWED     allowlist mode: not a registered operation

The two 200s are Apollo Server's (`cache-control: private, no-cache, must-revalidate`, so
that no cache keeps the miss) and the messages are what Apollo's client matches.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, cast

from starlette.responses import Response
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage

from api.context import Context
from api.document_guards import LENGTH_PER_TOKEN
from api.media_types import CONTENT_TYPES, JSON
from api.metrics import METRICS
from infra.persisted_queries import sha256_hex
from infra.runtime import Runtime

_HASH = re.compile(r"^[0-9a-fA-F]{64}$")
_NO_STORE = {"cache-control": "private, no-cache, must-revalidate"}


class PersistedQueryRefused(Exception):
    """A request the persisted-query protocol refuses; nothing of it ran or was stored."""

    def __init__(self, code: str, message: str, status: int):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status

    @property
    def formatted(self) -> dict[str, Any]:
        return {"message": self.message, "extensions": {"code": self.code}}

    def response(self, media_type: str = JSON) -> Response:
        """A request error as Apollo Server sends it: `errors` and no `data`, in the
        negotiated media type."""
        headers = {"vary": "Accept", **(_NO_STORE if self.status == 200 else {})}
        body = json.dumps({"errors": [self.formatted]}).encode()
        return Response(body, self.status, headers, media_type=CONTENT_TYPES[media_type])


def _not_found() -> PersistedQueryRefused:
    return PersistedQueryRefused("PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound", 200)


def _not_supported() -> PersistedQueryRefused:
    return PersistedQueryRefused("PERSISTED_QUERY_NOT_SUPPORTED", "PersistedQueryNotSupported", 200)


def _not_allowed() -> PersistedQueryRefused:
    return PersistedQueryRefused(
        "PERSISTED_QUERY_NOT_ALLOWED",
        "Only registered operations run here (PERSISTED_QUERIES=allowlist); this one is not.",
        403,
    )


def _bad_request(message: str) -> PersistedQueryRefused:
    return PersistedQueryRefused("BAD_REQUEST", message, 400)


class RegisteredDocuments(Protocol):
    """The allow-list (infra.persisted_queries.RegisteredQueries)."""

    async def document(self, sha256: str) -> str | None: ...


class LearntDocuments(Protocol):
    """What APQ learnt from clients (infra.persisted_queries.ApqDocuments)."""

    async def get(self, sha256: str) -> str | None: ...

    async def put(self, sha256: str, document: str) -> None: ...


def requested_hash(extensions: object) -> str | None:
    """The SHA-256 a request names (lowercase), None without `extensions.persistedQuery`."""
    if not isinstance(extensions, Mapping) or extensions.get("persistedQuery") is None:
        return None
    persisted = extensions["persistedQuery"]
    if not isinstance(persisted, Mapping):
        raise _bad_request("`extensions.persistedQuery` must be an object.")
    version = persisted.get("version")
    if version != 1 or isinstance(version, bool):
        raise _bad_request(
            f"Unsupported persisted query version {version!r}: this server speaks version 1."
        )
    sha256 = persisted.get("sha256Hash")
    if not isinstance(sha256, str) or not _HASH.fullmatch(sha256):
        raise _bad_request("`persistedQuery.sha256Hash` must be 64 hexadecimal digits.")
    return sha256.lower()


@dataclass(frozen=True)
class PersistedQueries:
    mode: str  # off | apq | allowlist
    registered: RegisteredDocuments
    learnt: LearntDocuments
    max_length: int  # longer documents are refused anyway (DocumentLimiter): not learnt

    @classmethod
    def of(cls, runtime: Runtime) -> PersistedQueries:
        s = runtime.settings
        return cls(
            mode=s.persisted_queries,
            registered=runtime.persisted_queries,
            learnt=runtime.apq_documents,
            max_length=s.graphql_max_tokens * LENGTH_PER_TOKEN,
        )

    async def resolve(self, query: str | None, extensions: object) -> str | None:
        """The document to run (None: the request has none, strawberry says so), or
        PersistedQueryRefused."""
        try:
            return await self._resolve(query, extensions)
        except PersistedQueryRefused as refusal:
            METRICS.error(refusal.code)
            raise

    async def _resolve(self, query: str | None, extensions: object) -> str | None:
        if self.mode == "off":
            if isinstance(extensions, Mapping) and extensions.get("persistedQuery") is not None:
                raise _not_supported()
            return query
        sha256 = requested_hash(extensions)
        if sha256 is None:
            if (
                self.mode == "allowlist"
                and query is not None
                and await self.registered.document(sha256_hex(query)) is None
            ):
                raise _not_allowed()
            return query
        if query is None:
            document = await self.registered.document(sha256)
            if document is None and self.mode == "apq":
                document = await self.learnt.get(sha256)
            if document is None:
                raise _not_allowed() if self.mode == "allowlist" else _not_found()
            return document
        if sha256_hex(query) != sha256:
            raise PersistedQueryRefused(
                "PERSISTED_QUERY_HASH_MISMATCH",
                "provided sha does not match query",  # Apollo Server's words
                400,
            )
        if await self.registered.document(sha256) is None:
            if self.mode == "allowlist":
                raise _not_allowed()
            if len(query) <= self.max_length:
                await self.learnt.put(sha256, query)
        return query


class PersistedQueriesTransportWS(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws with persisted queries: a `subscribe` naming its document by hash
    runs that document; one the mode refuses gets the protocol's `error` message for its id
    (the socket stays open)."""

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        payload: Any = message.get("payload")
        if (
            self.connection_acknowledged
            and message["id"] not in self.operations
            and isinstance(payload, dict)
            and isinstance(payload.get("query"), str | None)
        ):
            persisted = cast(Any, self.view).persisted
            try:
                query = await persisted.resolve(payload.get("query"), payload.get("extensions"))
            except PersistedQueryRefused as refusal:
                error = {"id": message["id"], "type": "error", "payload": [refusal.formatted]}
                await self.send_message(cast(Any, error))
                return
            if query is not None:
                resolved = {**message, "payload": {**payload, "query": query}}
                message = cast(SubscribeMessage, resolved)
        await super().handle_subscribe(message)
