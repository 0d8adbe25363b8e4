"""Per-request context: the caller, the runtime's services and fresh dataloaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.dataloader import DataLoader

from api.loaders import Loaders
from domain.identity.model import Principal

if TYPE_CHECKING:
    from infra.runtime import Runtime


@dataclass
class Context:
    request: Request | WebSocket
    response: Response | None
    runtime: Runtime
    principal: Principal | None
    loaders: Loaders
    cost: dict[str, int] = field(default_factory=dict)
    # graphql-transport-ws: the `connection_init` payload, set by strawberry before on_ws_connect.
    connection_params: dict[str, object] | None = None
    # The credential the caller authenticated with (`Bearer ...`): a WebSocket checks it again
    # at every subscribe and while it stays open (api/app.py, api/subscriptions.py).
    authorization: str | None = None
    # Segment sizes asked for in this request, counted together (api/types/segments.py).
    segment_sizes: DataLoader[str, int] | None = None

    @property
    def client_address(self) -> str:
        client = self.request.client
        return client.host if client else "unknown"


def build_context(
    request: Request | WebSocket, response: Response | None, runtime: Runtime
) -> Context:
    principal = request.scope.get("state", {}).get("principal")
    assert principal is None or isinstance(principal, Principal)  # set by the auth middleware
    return Context(
        request=request,
        response=response,
        runtime=runtime,
        principal=principal,
        loaders=Loaders(runtime.repos, runtime.clock),
        authorization=request.headers.get("authorization") if principal is not None else None,
    )
