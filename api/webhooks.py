"""Payment provider notifications: POST /webhooks/payments/<provider>.

The signature is checked over the raw body before anything is parsed; a forged or unreadable
notification gets 401/400 and changes nothing; a repeat has no second effect. WeChat Pay is
answered in its own shape (204, or 4xx with {"code": "FAIL", "message": ...})."""

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


def wechatpay_answer(status: int, why: str) -> Response:
    """WeChat Pay's convention: 204 with no body when taken (it stops retrying); otherwise a
    4xx with {"code": "FAIL", "message": ...}, and WeChat retries on its schedule."""
    if status < 300:
        return Response(status_code=204)
    return JSONResponse({"code": "FAIL", "message": why}, status_code=status)


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
            result, status, why = "malformed", 400, "malformed notification"
        except WebhookRejected as error:
            log.warning("payment webhook rejected", extra={"provider": provider, "why": str(error)})
            result, status, why = "rejected", 401, "signature or content refused"
        else:
            status, why = STATUS.get(result, 200), result
        METRICS.webhook(provider, runtime.ordering.payments, result)
        if provider == "wechatpay":
            return wechatpay_answer(status, why)
        return JSONResponse({"result": result}, status_code=status)

    return endpoint
