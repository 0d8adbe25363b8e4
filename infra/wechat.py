"""WeChat mini-program server APIs: the httpx adapter, and a fake for development and tests.

WeChat answers HTTP 200 with an `errcode` for most failures; `_raise_for_errcode` turns those
into MemberError codes. The app secret and the access token travel in query strings, so they
are kept out of every error message and log line (httpx's own request log included).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from domain.clock import Clock
from domain.errors import MemberError, MemberErrorCode
from domain.members.ports import WeChatSession

logger = logging.getLogger("omnishelf.wechat")

JsonObject = dict[str, Any]

MAX_CODE_LENGTH = 256
# Refresh early so a token never expires between the cache check and WeChat's check.
TOKEN_EARLY_REFRESH = timedelta(seconds=300)

LOGIN_CODE_REJECTED = (
    "WeChat rejected the login code (invalid, expired, already used or refused); "
    "call wx.login() again and send the new code."
)
PHONE_CODE_REJECTED = (
    "WeChat rejected the phone-number code (invalid, expired or already used); "
    "ask the user to tap the phone-number button again."
)

_CODE_REJECTED = frozenset({40029, 40163, 40226})  # invalid, already used, high-risk user
_TOKEN_REJECTED = frozenset({40001, 40014, 42001})  # invalid, malformed, expired access token
_RATE_LIMITED = frozenset({45009, 45011})  # daily and per-minute API quotas
_SYSTEM_BUSY = -1
_INVALID_APPID = 40013

_SESSION_PATH = "/sns/jscode2session"
_PHONE_PATH = "/wxa/business/getuserphonenumber"
_TOKEN_PATH = "/cgi-bin/token"

_CREDENTIAL_PARAM = re.compile(r"\b(secret|access_token|js_code)=[^&\s\"']+")


def _unavailable(reason: str) -> MemberError:
    return MemberError(MemberErrorCode.WECHAT_UNAVAILABLE, f"{reason}; try again.")


def _unknown_app(app_id: str) -> MemberError:
    return MemberError(MemberErrorCode.UNKNOWN_APP, f"Unknown mini-program app id {app_id!r}.")


def _require_app(apps: Collection[str], app_id: str) -> None:
    if app_id not in apps:
        raise _unknown_app(app_id)


def _require_code(code: str, rejected_message: str) -> None:
    # Checked here so a junk code costs no WeChat quota.
    if not code or len(code) > MAX_CODE_LENGTH:
        raise MemberError(MemberErrorCode.INVALID_WECHAT_CODE, rejected_message)


class _RedactCredentials(logging.Filter):
    """httpx logs every request URL at INFO, and WeChat wants credentials in the query."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _CREDENTIAL_PARAM.sub(r"\1=***", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def _redact_httpx_log() -> None:
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactCredentials) for f in httpx_logger.filters):
        httpx_logger.addFilter(_RedactCredentials())


@dataclass(frozen=True)
class _AccessToken:
    value: str
    refresh_at: datetime


class HttpWeChatGateway:
    """WeChatGateway over HTTPS, with one cached access token per app."""

    def __init__(
        self,
        apps: dict[str, str],
        clock: Clock,
        client: httpx.AsyncClient | None = None,
        base_url: str = "https://api.weixin.qq.com",
        timeout: float = 5.0,
    ):
        self._secrets = dict(apps)
        self._clock = clock
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient()
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._tokens: dict[str, _AccessToken] = {}
        self._token_locks = {app_id: asyncio.Lock() for app_id in self._secrets}
        _redact_httpx_log()

    def knows_app(self, app_id: str) -> bool:
        return app_id in self._secrets

    async def code_to_session(self, app_id: str, code: str) -> WeChatSession:
        _require_app(self._secrets, app_id)
        _require_code(code, LOGIN_CODE_REJECTED)
        params = {
            "appid": app_id,
            "secret": self._secrets[app_id],
            "js_code": code,
            "grant_type": "authorization_code",
        }
        body = await self._request("GET", _SESSION_PATH, params)
        self._raise_for_errcode(app_id, _SESSION_PATH, body, LOGIN_CODE_REJECTED)
        return _session_from(body)

    async def phone_number(self, app_id: str, phone_code: str) -> str:
        _require_app(self._secrets, app_id)
        _require_code(phone_code, PHONE_CODE_REJECTED)
        token = await self._access_token(app_id)
        body = await self._request_phone(token, phone_code)
        if _errcode(body) in _TOKEN_REJECTED:
            # Another process may have fetched a newer token, which invalidates ours: refresh
            # once. A second rejection falls through to WECHAT_UNAVAILABLE below.
            token = await self._access_token(app_id, stale=token)
            body = await self._request_phone(token, phone_code)
        self._raise_for_errcode(app_id, _PHONE_PATH, body, PHONE_CODE_REJECTED)
        return _phone_from(body)

    async def access_token(self, app_id: str, stale: str | None = None) -> str:
        """The app's cached access token, for other WeChat APIs (subscribe messages). `stale`
        is a token WeChat just rejected there: a fresh one replaces it."""
        _require_app(self._secrets, app_id)
        return await self._access_token(app_id, stale=stale)

    async def aclose(self) -> None:
        """Closes the HTTP client if this gateway created it; an injected one is the caller's."""
        if self._owns_client:
            await self._client.aclose()

    async def _request_phone(self, token: str, phone_code: str) -> JsonObject:
        params = {"access_token": token}
        return await self._request("POST", _PHONE_PATH, params, json={"code": phone_code})

    async def _access_token(self, app_id: str, stale: str | None = None) -> str:
        """The cached token, fetched under a per-app lock so concurrent callers fetch once.
        `stale` is a token WeChat just rejected: replaced unless someone already did."""
        async with self._token_locks[app_id]:
            token = self._tokens.get(app_id)
            if token is None or token.value == stale or self._clock.now() >= token.refresh_at:
                token = await self._fetch_token(app_id)
                self._tokens[app_id] = token
            return token.value

    async def _fetch_token(self, app_id: str) -> _AccessToken:
        params = {
            "grant_type": "client_credential",
            "appid": app_id,
            "secret": self._secrets[app_id],
        }
        body = await self._request("GET", _TOKEN_PATH, params)
        self._raise_for_errcode(app_id, _TOKEN_PATH, body, PHONE_CODE_REJECTED)
        value, expires_in = body.get("access_token"), body.get("expires_in")
        if not isinstance(value, str) or not value or not isinstance(expires_in, int):
            raise _unavailable("WeChat sent a malformed access token")
        lifetime = max(timedelta(0), timedelta(seconds=expires_in) - TOKEN_EARLY_REFRESH)
        return _AccessToken(value, self._clock.now() + lifetime)

    async def _request(
        self, method: str, path: str, params: dict[str, str], json: JsonObject | None = None
    ) -> JsonObject:
        # Exceptions are re-raised `from None`: httpx's carry the URL, credentials included.
        try:
            response = await self._client.request(
                method, self._base_url + path, params=params, json=json, timeout=self._timeout
            )
        except httpx.TimeoutException:
            logger.warning("WeChat %s timed out", path)
            raise _unavailable("WeChat did not answer in time") from None
        except httpx.HTTPError as exc:
            logger.warning("WeChat %s failed: %s", path, type(exc).__name__)
            raise _unavailable("WeChat could not be reached") from None
        if response.status_code != 200:
            logger.warning("WeChat %s answered HTTP %s", path, response.status_code)
            raise _unavailable("WeChat is unavailable")
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            logger.warning("WeChat %s answered a body that is not a JSON object", path)
            raise _unavailable("WeChat sent an unreadable answer")
        return body

    def _raise_for_errcode(
        self, app_id: str, path: str, body: JsonObject, rejected_message: str
    ) -> None:
        errcode = _errcode(body)
        if errcode == 0:
            return
        errmsg = self._scrub(str(body.get("errmsg", "")))[:200]
        if errcode in _CODE_REJECTED:
            raise MemberError(MemberErrorCode.INVALID_WECHAT_CODE, rejected_message)
        if errcode in _RATE_LIMITED:
            logger.warning("WeChat %s quota reached for %s: %s", path, app_id, errcode)
            raise MemberError(
                MemberErrorCode.WECHAT_RATE_LIMITED,
                "WeChat is limiting requests for this mini program; try again in a minute.",
            )
        if errcode == _INVALID_APPID:
            # The app is in our settings but WeChat does not know it: a configuration error.
            logger.error("WeChat does not know app id %s (%s)", app_id, errmsg)
            raise _unknown_app(app_id)
        if errcode == _SYSTEM_BUSY:
            raise _unavailable("WeChat is busy")
        logger.warning("WeChat %s answered errcode %s for %s: %s", path, errcode, app_id, errmsg)
        raise _unavailable(f"WeChat answered errcode {errcode}")

    def _scrub(self, text: str) -> str:
        """WeChat's errmsg is logged; make sure no credential of ours rides along."""
        text = _CREDENTIAL_PARAM.sub(r"\1=***", text)
        credentials = [*self._secrets.values(), *(t.value for t in self._tokens.values())]
        for credential in filter(None, credentials):
            text = text.replace(credential, "***")
        return text


def _errcode(body: JsonObject) -> int:
    errcode = body.get("errcode", 0)
    if not isinstance(errcode, int):
        raise _unavailable("WeChat sent an unreadable answer")
    return errcode


def _session_from(body: JsonObject) -> WeChatSession:
    openid, session_key, unionid = body.get("openid"), body.get("session_key"), body.get("unionid")
    if not isinstance(openid, str) or not openid or not isinstance(session_key, str):
        raise _unavailable("WeChat sent a session without an openid")
    return WeChatSession(
        openid=openid,
        unionid=unionid if isinstance(unionid, str) and unionid else None,
        session_key=session_key,
    )


def _phone_from(body: JsonObject) -> str:
    info = body.get("phone_info")
    country = info.get("countryCode") if isinstance(info, dict) else None
    number = info.get("purePhoneNumber") if isinstance(info, dict) else None
    if not isinstance(country, str) or not isinstance(number, str):
        raise _unavailable("WeChat sent a phone answer without a number")
    country, number = country.strip().lstrip("+"), number.strip()
    if not country.isdigit() or not number.isdigit():
        raise MemberError(MemberErrorCode.INVALID_PHONE, "WeChat sent an unusable phone number.")
    return f"+{country}{number}"


_FAKE_LOGIN_CODE = re.compile(r"test:([A-Za-z0-9_-]{1,64})(?::([A-Za-z0-9_-]{1,64}))?")
_FAKE_PHONE_PREFIX = "test-phone:"


class FakeWeChatGateway:
    """Development and tests only: no network. Login codes are "test:<openid>" or
    "test:<openid>:<unionid>"; phone codes are "test-phone:<number>", number returned as given."""

    def __init__(self, apps: Iterable[str] = ("wx-demo",)):
        self.apps = frozenset(apps)

    def knows_app(self, app_id: str) -> bool:
        return app_id in self.apps

    async def code_to_session(self, app_id: str, code: str) -> WeChatSession:
        _require_app(self.apps, app_id)
        _require_code(code, LOGIN_CODE_REJECTED)
        match = _FAKE_LOGIN_CODE.fullmatch(code)
        if match is None:
            raise MemberError(MemberErrorCode.INVALID_WECHAT_CODE, LOGIN_CODE_REJECTED)
        openid, unionid = match.group(1), match.group(2)
        return WeChatSession(openid, unionid, session_key=f"fake-session-key:{app_id}:{openid}")

    async def phone_number(self, app_id: str, phone_code: str) -> str:
        _require_app(self.apps, app_id)
        _require_code(phone_code, PHONE_CODE_REJECTED)
        number = phone_code.removeprefix(_FAKE_PHONE_PREFIX)
        if not phone_code.startswith(_FAKE_PHONE_PREFIX) or not number:
            raise MemberError(MemberErrorCode.INVALID_WECHAT_CODE, PHONE_CODE_REJECTED)
        return number

    async def aclose(self) -> None:
        return None
