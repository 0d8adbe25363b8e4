"""GET /engagement/segments/{id}/members.csv: a segment's members for CS, as CSV (the member's
global id and masked name), streamed a keyset page at a time. Authenticated like /graphql and
decided by the same rule as `segment(id) { members }` (a store manager gets their stores'
members); every page is in the PII access log. A refusal is the JSON error body the other
plain routes send."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING
from uuid import UUID

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from api.metrics_export import STATUS, _refusal
from api.relay import decode_id, encode_id
from domain.engagement.segments import export_page
from domain.errors import DomainError
from domain.identity.model import Principal
from domain.pagination import PageRequest

if TYPE_CHECKING:
    from infra.runtime import Runtime


def _lines(rows: Sequence[tuple[UUID, str]], header: bool) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    if header:
        writer.writerow(["member_id", "name"])
    writer.writerows([encode_id("Member", m), name] for m, name in rows)
    return out.getvalue()


def segment_members_csv(runtime: Runtime) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        principal: Principal | None = request.scope.get("state", {}).get("principal")
        if principal is None:
            return _refusal("UNAUTHENTICATED", "Send a staff access token.", 401)
        deps = runtime.segments
        page = PageRequest(first=deps.export_batch)
        try:
            key = decode_id(request.path_params["id"], "Segment", "id")
            segment, first = await export_page(deps, principal, key, page)
        except DomainError as error:
            return _refusal(error.code.value, error.message, STATUS.get(error.code.value, 400))

        async def rows() -> AsyncIterator[str]:
            found = first
            yield _lines(found.items, header=True)
            while found.has_next:
                after = PageRequest(first=deps.export_batch, after=found.keys[-1])
                _, found = await export_page(deps, principal, key, after)
                yield _lines(found.items, header=False)

        return StreamingResponse(
            rows(),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="segment-{segment.id}.csv"',
                "Cache-Control": "no-store",
            },
        )

    return endpoint
