"""An async httpx client for WeChat Pay API v3: every request signed, every answer verified
before it is believed (signature with the key its serial names, timestamp within 5 minutes)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

from domain.clock import Clock
from infra.wechatpay._config import WeChatPayConfig
from infra.wechatpay._crypto import authorization, nonce_str, response_message, rsa_verify

MAX_CLOCK_SKEW = timedelta(minutes=5)
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
# Checks an answer's lower-case headers and raw body; raises SignatureRejected.
AnswerCheck = Callable[[Mapping[str, str], bytes], None]


class WeChatPayError(Exception):
    """WeChat Pay answered with an error (`code`, `message`), or could not be reached."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class SignatureRejected(Exception):
    """A response or notification whose Wechatpay-* signature headers do not hold."""


def verify_signed(
    config: WeChatPayConfig, clock: Clock, headers: Mapping[str, str], body: bytes
) -> None:
    """Raise SignatureRejected unless `body` is signed by the WeChat Pay key of its serial at a
    time within five minutes of ours. `headers` have lower-case names."""
    serial = headers.get("wechatpay-serial", "")
    key = config.verification_key(serial)
    if key is None:
        raise SignatureRejected(f"unknown Wechatpay-Serial {serial[:40]!r}")
    timestamp = headers.get("wechatpay-timestamp", "")
    if not timestamp.isdigit() or len(timestamp) > 12:
        raise SignatureRejected("no Wechatpay-Timestamp")
    skew = abs(clock.now().timestamp() - int(timestamp))
    if skew > MAX_CLOCK_SKEW.total_seconds():
        raise SignatureRejected("Wechatpay-Timestamp is more than 5 minutes off")
    try:
        text = body.decode()
    except UnicodeDecodeError:
        raise SignatureRejected("body is not UTF-8") from None
    message = response_message(timestamp, headers.get("wechatpay-nonce", ""), text)
    if not rsa_verify(key, message, headers.get("wechatpay-signature", "")):
        raise SignatureRejected("bad Wechatpay-Signature")


class WeChatPayClient:
    def __init__(
        self,
        config: WeChatPayConfig,
        clock: Clock,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        self.config, self._clock = config, clock
        self._http = httpx.AsyncClient(
            base_url=config.api_base, timeout=TIMEOUT, transport=transport
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        verify: AnswerCheck | None = None,
    ) -> dict[str, Any]:
        """The verified JSON answer ({} for 204). Raises WeChatPayError for an error answer or
        an unreachable server, SignatureRejected for an answer that is not WeChat's. `verify`
        replaces the check with the configured keys (the certificate download brings its own)."""
        target = path + (f"?{urlencode(query)}" if query else "")
        text = "" if body is None else json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        content = text.encode() if body is not None else None
        response = await self._send(method, target, text, content)
        answer = {k.lower(): v for k, v in response.headers.items()}
        if verify is None:
            verify_signed(self.config, self._clock, answer, response.content)
        else:
            verify(answer, response.content)
        data: Any = {}
        if response.content:
            try:
                data = json.loads(response.content)
            except ValueError:
                raise WeChatPayError(
                    response.status_code, "NOT_JSON", "answer is not JSON"
                ) from None
        if not isinstance(data, dict):
            raise WeChatPayError(response.status_code, "NOT_JSON", "answer is not an object")
        if response.status_code >= 300:
            raise WeChatPayError(
                response.status_code, str(data.get("code", "")), str(data.get("message", ""))
            )
        return data

    async def download(self, url: str) -> bytes:
        """A signed GET of a file WeChat Pay named (a bill's download_url): the answer is the
        file, which WeChat does not sign (the caller checks its hash). Only on our API host:
        the merchant's signature is not sent anywhere else."""
        wanted, base = httpx.URL(url), httpx.URL(self.config.api_base)
        if (wanted.scheme, wanted.host, wanted.port) != (base.scheme, base.host, base.port):
            raise WeChatPayError(0, "FOREIGN_URL", "download_url is not on the API host")
        target = wanted.raw_path.decode("ascii")
        response = await self._send("GET", target, "", None)
        if response.status_code >= 300:
            raise WeChatPayError(response.status_code, "DOWNLOAD_FAILED", response.reason_phrase)
        return response.content

    async def _send(
        self, method: str, target: str, text: str, content: bytes | None
    ) -> httpx.Response:
        """`target` (path and query) with the WECHATPAY2-SHA256-RSA2048 Authorization over
        `text` (the body)."""
        headers = {
            "Authorization": authorization(
                self.config.private_key,
                mchid=self.config.mchid,
                serial_no=self.config.merchant_serial,
                method=method,
                path_and_query=target,
                body=text,
                timestamp=str(int(self._clock.now().timestamp())),
                nonce=nonce_str(),
            ),
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": "omnishelf-wechatpay",
        }
        try:
            return await self._http.request(method, target, content=content, headers=headers)
        except httpx.HTTPError as error:
            raise WeChatPayError(0, "UNREACHABLE", type(error).__name__) from None
