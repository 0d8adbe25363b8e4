"""The media type of a GraphQL response and the HTTP status that goes with it (the
GraphQL-over-HTTP draft, https://graphql.github.io/graphql-over-http/draft/).

- `application/graphql-response+json` when the client's `Accept` prefers it (it wins a tie it
  names; q-values decide otherwise). A request error (the document does not parse or validate,
  the variables do not coerce, a limit refuses it before execution) has no `data` entry and is
  HTTP 400 (500 when unexpected); a request that executed is 200, field errors or not.
- `application/json`, the legacy type, otherwise: also for `*/*` and for no `Accept`, which is
  what existing clients send. Every GraphQL response is 200, with `data: null` on a request
  error, as before this type was offered.
- An `Accept` that allows neither: 406, and nothing runs.

A request that is not a GraphQL request at all (not a JSON object, no string `query`, another
content type, a batch) is 400 in either type; an operation over GET is 405.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from graphql import GraphQLError
from starlette.responses import Response

JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"
CONTENT_TYPES = {JSON: JSON, GRAPHQL_RESPONSE: f"{GRAPHQL_RESPONSE}; charset=utf-8"}

MediaRange = tuple[str, str, float]  # type, subtype, q


def _ranges(accept: str) -> list[MediaRange]:
    """The media ranges of an Accept header; a range in another charset than UTF-8 (the only
    one we write) or with a malformed q-value is left out."""
    ranges = []
    for item in accept.split(","):
        kind, *params = (part.strip() for part in item.split(";"))
        main, slash, sub = kind.lower().partition("/")
        if not slash or not main or not sub:
            continue
        q = 1.0
        usable = True
        for param in params:
            name, _, value = (p.strip().strip('"') for p in param.partition("="))
            if name.lower() == "q":
                try:
                    q = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    usable = False
            elif name.lower() == "charset" and value.lower() not in ("utf-8", "utf8"):
                usable = False
        if usable:
            ranges.append((main, sub, q))
    return ranges


def _quality(ranges: list[MediaRange], media_type: str) -> tuple[float, bool]:
    """The q-value the most specific matching range gives `media_type` (RFC 9110, 12.5.1),
    and whether that range names the type itself."""
    main, _, sub = media_type.partition("/")
    best: tuple[int, float] = (-1, 0.0)  # (specificity, q)
    for r_main, r_sub, q in ranges:
        if (r_main, r_sub) == (main, sub):
            specificity = 2
        elif (r_main, r_sub) == (main, "*"):
            specificity = 1
        elif (r_main, r_sub) == ("*", "*"):
            specificity = 0
        else:
            continue
        if (specificity, q) > best:
            best = (specificity, q)
    return best[1], best[0] == 2


def negotiate(accept: str | None) -> str | None:
    """The media type to answer in, or None when `Accept` allows neither (406)."""
    if accept is None or not accept.strip():
        return JSON
    ranges = _ranges(accept)
    json_q, _ = _quality(ranges, JSON)
    graphql_q, named = _quality(ranges, GRAPHQL_RESPONSE)
    if max(json_q, graphql_q) <= 0:
        return None
    if graphql_q > json_q or (graphql_q == json_q and named):
        return GRAPHQL_RESPONSE
    return JSON


def error_response(
    status: int, code: str, message: str, media_type: str, headers: Mapping[str, str] | None = None
) -> Response:
    """A refusal of the whole request (400, 401, 405, 406, 413), in our error shape."""
    body = json.dumps(error_body(code, message, media_type)).encode()
    headers = {"vary": "Accept", **(headers or {})}
    return Response(body, status, headers, media_type=CONTENT_TYPES[media_type])


def error_body(code: str, message: str, media_type: str = JSON) -> dict[str, Any]:
    """A request error in our shape: in application/json with `data: null` (as clients have
    always had it), in application/graphql-response+json without `data` (as it requires)."""
    errors = [{"message": message, "extensions": {"code": code}}]
    if media_type == GRAPHQL_RESPONSE:
        return {"errors": errors}
    return {"data": None, "errors": errors}


def status_of(body: Mapping[str, Any] | list[Any], media_type: str) -> int:
    """The HTTP status of a GraphQL response: 200, but in application/graphql-response+json a
    response without `data` (a request error) is 400, or 500 when the error was unexpected."""
    if media_type != GRAPHQL_RESPONSE or isinstance(body, list) or "data" in body:
        return 200
    codes = {(e.get("extensions") or {}).get("code") for e in body.get("errors") or []}
    return 500 if "INTERNAL_SERVER_ERROR" in codes else 400


def is_request_error(data: object, errors: Sequence[GraphQLError] | None) -> bool:
    """Nothing executed: no data and no error at a field (a parse, validation or variable
    error, or a limit's refusal). The GraphQL spec then leaves `data` out of the response."""
    return data is None and bool(errors) and all(e.path is None for e in errors or ())


def accepted(headers: Mapping[str, str]) -> str:
    """The media type to answer a request with these headers in (application/json when its
    Accept allows neither: the 406 is the GraphQL view's to give)."""
    return negotiate(headers.get("accept")) or JSON
