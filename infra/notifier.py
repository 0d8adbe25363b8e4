"""Member notifications as WeChat subscribe messages: the httpx adapter, and a fake.

Both build the same body. The access token travels in the query string, so it is kept out
of every error message and log line (the httpx request log is redacted by infra.wechat's
filter).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from domain.members.identifiers import mask
from domain.members.model import IdentityKind
from domain.outbox import NotifierError, OutboxMessage
from infra.wechat import _redact_httpx_log

logger = logging.getLogger("omnishelf.notifier")

SEND_URL = "https://api.weixin.qq.com/cgi-bin/message/subscribe/send"

# Retrying cannot help: invalid openid, invalid template, user refused (or used up the
# one-off subscription), template data rejected, invalid page.
_PERMANENT_ERRCODES = frozenset({40003, 40037, 43101, 47003, 41030})

TokenProvider = Callable[[], Awaitable[str]]


def _masked(openid: str | None) -> str:
    """Recipients in logs and recorded errors: the openid masked, as staff see it."""
    return mask(IdentityKind.WECHAT_OPENID, openid) if openid else ""


def subscribe_message(message: OutboxMessage, openid: str | None) -> dict[str, Any]:
    """The body of `subscribeMessage.send`, with our dedupe_key for receivers that dedupe."""
    body: dict[str, Any] = {
        "touser": openid,
        "template_id": f"tmpl-{message.kind.lower()}",
        "data": {field: {"value": value} for field, value in message.data.items()},
        "dedupe_key": message.dedupe_key,
    }
    if message.order_id is not None:
        body["page"] = f"pages/order/detail?id={message.order_id}"
    return body


class FakeNotifier:
    """Development and tests: records and logs what would be sent. `fail_next(n)` makes
    the next n sends raise NotifierError. A member without an openid is sent to None."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self._failures = 0

    def fail_next(self, n: int = 1) -> None:
        self._failures = n

    def clear(self) -> None:
        self.sent.clear()
        self._failures = 0

    async def send(self, message: OutboxMessage, recipient_openid: str | None) -> None:
        if self._failures > 0:
            self._failures -= 1
            raise NotifierError("fake notifier told to fail")
        body = subscribe_message(message, recipient_openid)
        self.sent.append(body)
        logger.info(
            "notification (fake)",
            extra={
                "kind": message.kind,
                "dedupe_key": message.dedupe_key,
                "touser": _masked(body["touser"]),
            },
        )


class DisabledNotifier:
    """NOTIFIER=disabled: no channel to members; each message fails permanently (the outbox
    keeps it, FAILED with this reason), nothing piles up in memory."""

    async def send(self, message: OutboxMessage, recipient_openid: str | None) -> None:
        raise NotifierError("notifications are disabled (NOTIFIER=disabled)", permanent=True)


class WeChatSubscribeNotifier:
    """`subscribeMessage.send` over HTTPS. WeChat answers HTTP 200 with an `errcode` for
    most failures; every failure becomes a NotifierError, permanent when retrying is futile."""

    def __init__(
        self,
        token_provider: TokenProvider,
        client: httpx.AsyncClient | None = None,
        url: str = SEND_URL,
        timeout: float = 5.0,
    ):
        self._token_provider = token_provider
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient()
        self._url = url
        self._timeout = timeout
        _redact_httpx_log()

    async def send(self, message: OutboxMessage, recipient_openid: str | None) -> None:
        if not recipient_openid:
            raise NotifierError("the member has no WeChat openid", permanent=True)
        try:
            token = await self._token_provider()
        except NotifierError:
            raise
        except Exception as exc:  # the gateway's own errors: WeChat unreachable, refused
            raise NotifierError(f"no WeChat access token ({type(exc).__name__})") from None
        body = subscribe_message(message, recipient_openid)
        # Exceptions are re-raised `from None`: httpx's carry the URL, access token included.
        try:
            response = await self._client.post(
                self._url, params={"access_token": token}, json=body, timeout=self._timeout
            )
        except httpx.HTTPError as exc:
            raise NotifierError(f"WeChat could not be reached ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise NotifierError(f"WeChat answered HTTP {response.status_code}")
        try:
            answer = response.json()
        except ValueError:
            answer = None
        errcode = answer.get("errcode", 0) if isinstance(answer, dict) else None
        if not isinstance(errcode, int):
            raise NotifierError("WeChat sent an unreadable answer")
        if errcode != 0:
            errmsg = str(answer.get("errmsg", ""))[:200]
            if token:
                errmsg = errmsg.replace(token, "***")
            errmsg = errmsg.replace(recipient_openid, _masked(recipient_openid))
            raise NotifierError(
                f"WeChat answered errcode {errcode}: {errmsg}",
                permanent=errcode in _PERMANENT_ERRCODES,
            )

    async def aclose(self) -> None:
        """Closes the HTTP client if this notifier created it; an injected one is the caller's."""
        if self._owns_client:
            await self._client.aclose()
