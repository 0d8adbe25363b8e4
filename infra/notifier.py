"""Member notifications as WeChat subscribe messages: the httpx adapter, and a fake.

Both render the same body from the message kind's template (infra.subscribe_templates). The
access token travels in the query string, so it is kept out of every error message and log
line (the httpx request log is redacted by infra.wechat's filter).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from domain.members.identifiers import mask
from domain.members.model import IdentityKind
from domain.outbox import NotifierError, OutboxMessage
from infra.subscribe_templates import (
    DEV_TEMPLATES,
    SubscribeTemplate,
    TemplateError,
    Templates,
    subscribe_message,
)
from infra.wechat import _redact_httpx_log

logger = logging.getLogger("omnishelf.notifier")

SEND_URL = "https://api.weixin.qq.com/cgi-bin/message/subscribe/send"

# The member refused, or used up the one-off subscription: nothing we can fix.
_REFUSED = frozenset({43101})
# Our configuration is wrong (an operator must fix it; retrying the message cannot help):
# invalid openid, invalid template id, template data rejected, invalid page.
_MISCONFIGURED = frozenset({40003, 40037, 47003, 41030})
# The access token is invalid, malformed or expired (another process may have fetched a newer
# one, which invalidates ours): refresh it and send once more.
_TOKEN_REJECTED = frozenset({40001, 40014, 42001})

# The app's access token; given one WeChat just rejected, a fresh one.
TokenProvider = Callable[[str | None], Awaitable[str]]


def _masked(openid: str | None) -> str:
    """Recipients in logs and recorded errors: the openid masked, as staff see it."""
    return mask(IdentityKind.WECHAT_OPENID, openid) if openid else ""


def _body(templates: Templates, message: OutboxMessage, openid: str | None) -> dict[str, Any]:
    """The subscribe message for `message`, or a permanent NotifierError saying why none."""
    template: SubscribeTemplate | None = templates.get(message.kind)
    if template is None:
        raise NotifierError(f"no WeChat template for {message.kind} messages", permanent=True)
    if not template.enabled:
        raise NotifierError(
            f"{message.kind} messages are turned off (enabled = false)", permanent=True
        )
    try:
        return subscribe_message(template, message, openid)
    except TemplateError as error:
        raise NotifierError(f"{message.kind}: {error}", permanent=True) from None


@dataclass(frozen=True)
class SentNotification:
    """What the fake would have sent: WeChat's request body, and the message's dedupe key."""

    kind: str
    dedupe_key: str
    body: dict[str, Any]


class FakeNotifier:
    """Development and tests: renders the message as the real notifier would, records and
    logs it. `fail_next(n)` makes the next n sends raise NotifierError. A member without an
    openid is sent to None."""

    def __init__(self, templates: Templates = DEV_TEMPLATES) -> None:
        self.templates = templates
        self.sent: list[SentNotification] = []
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
        body = _body(self.templates, message, recipient_openid)
        self.sent.append(SentNotification(message.kind, message.dedupe_key, body))
        logger.info(
            "notification (fake)",
            extra={
                "kind": message.kind,
                "dedupe_key": message.dedupe_key,
                "touser": _masked(recipient_openid),
            },
        )


class DisabledNotifier:
    """NOTIFIER=disabled: no channel to members; each message fails permanently (the outbox
    keeps it, FAILED with this reason), nothing piles up in memory."""

    async def send(self, message: OutboxMessage, recipient_openid: str | None) -> None:
        raise NotifierError("notifications are disabled (NOTIFIER=disabled)", permanent=True)


class WeChatSubscribeNotifier:
    """`subscribeMessage.send` over HTTPS. WeChat answers HTTP 200 with an `errcode` for
    most failures; every failure becomes a NotifierError, permanent when retrying is futile:

        43101 (refused, not subscribed)       permanent
        40003 40037 47003 41030 (our config)  permanent, logged as an error
        40001 40014 42001 (token)             a fresh token, one more send; then retry later
        45009 (quota), -1 (busy), HTTP, other retry later, with the outbox's backoff
    """

    def __init__(
        self,
        token_provider: TokenProvider,
        templates: Templates,
        client: httpx.AsyncClient | None = None,
        url: str = SEND_URL,
        timeout: float = 5.0,
    ):
        self._token_provider = token_provider
        self._templates = templates
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient()
        self._url = url
        self._timeout = timeout
        _redact_httpx_log()

    async def send(self, message: OutboxMessage, recipient_openid: str | None) -> None:
        if not recipient_openid:
            raise NotifierError("the member has no WeChat openid", permanent=True)
        body = _body(self._templates, message, recipient_openid)
        token = await self._token()
        errcode, errmsg = await self._post(token, body)
        if errcode in _TOKEN_REJECTED:
            token = await self._token(stale=token)
            errcode, errmsg = await self._post(token, body)
        if errcode == 0:
            return
        errmsg = errmsg.replace(token, "***").replace(recipient_openid, _masked(recipient_openid))
        if errcode in _MISCONFIGURED:
            logger.error(
                "WeChat refused the %s template: errcode %s %s", message.kind, errcode, errmsg
            )
        raise NotifierError(
            f"WeChat answered errcode {errcode}: {errmsg}",
            permanent=errcode in _REFUSED | _MISCONFIGURED,
        )

    async def _token(self, stale: str | None = None) -> str:
        try:
            return await self._token_provider(stale)
        except NotifierError:
            raise
        except Exception as exc:  # the gateway's own errors: WeChat unreachable, refused
            raise NotifierError(f"no WeChat access token ({type(exc).__name__})") from None

    async def _post(self, token: str, body: dict[str, Any]) -> tuple[int, str]:
        """WeChat's errcode and errmsg; transport failures raise a retryable NotifierError."""
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
        if not isinstance(errcode, int) or not isinstance(answer, dict):
            raise NotifierError("WeChat sent an unreadable answer")
        return errcode, str(answer.get("errmsg", ""))[:200]

    async def aclose(self) -> None:
        """Closes the HTTP client if this notifier created it; an injected one is the caller's."""
        if self._owns_client:
            await self._client.aclose()
