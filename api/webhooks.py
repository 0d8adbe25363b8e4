"""Payment provider notifications: POST /webhooks/payments/<provider>.

The signature is checked over the raw body before anything is parsed; a forged or unreadable
notification gets 401/400 and changes nothing; a repeat has no second effect."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.metrics import METRICS
from domain.ordering.payments import handle_notification
from domain.ordering.ports import MalformedNotification, WebhookRejected
from infra.db.retry import retrying

if TYPE_CHECKING:
    from infra.runtime import Runtime

log = logging.getLogger("omnishelf.webhooks")
STATUS = {
    "paid": 200,
    "duplicate": 200,
    "refunded": 200,
    "ignored": 200,
    "unknown": 404,
    "mismatch": 422,
}


def payment_webhook(runtime: Runtime) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        provider = request.path_params["provider"]
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            result = await retrying(
                lambda: handle_notification(runtime.ordering, provider, headers, body),
                f"webhook {provider}",
            )
        except MalformedNotification as error:
            log.warning(
                "payment webhook malformed", extra={"provider": provider, "why": str(error)}
            )
            result, status = "malformed", 400
        except WebhookRejected as error:
            log.warning("payment webhook rejected", extra={"provider": provider, "why": str(error)})
            result, status = "rejected", 401
        else:
            status = STATUS.get(result, 200)
        METRICS.webhook(provider, runtime.ordering.payments, result)
        return JSONResponse({"result": result}, status_code=status)

    return endpoint
