"""SMS senders: Tencent Cloud SMS (API 3.0, `SendSms`), a development fake, and a refusal.

Texts in mainland China go out only from templates the provider approved, so a message is a
kind (the template, `TENCENT_SMS_TEMPLATES`) and its parameters, not free text. Neither the
secret key, the signature nor a full phone number reaches a log line or an error message.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import httpx

from domain.clock import Clock, SystemClock
from domain.errors import MemberError, MemberErrorCode
from domain.members.identifiers import mask
from domain.members.model import IdentityKind
from domain.members.ports import SmsMessage

logger = logging.getLogger("omnishelf.sms")

OUTBOX_LIMIT = 1000


@dataclass(frozen=True)
class SentSms:
    phone_e164: str
    text: str
    sent_at: datetime


def _masked(phone_e164: str) -> str:
    return mask(IdentityKind.PHONE, phone_e164)


class FakeSmsSender:
    """Sends nothing: keeps the last messages in `outbox` and logs them. The text is logged
    in full because reading the code from the log is how development logins work; the
    number is masked so the log is not a phone book."""

    def __init__(self, clock: Clock | None = None, limit: int = OUTBOX_LIMIT):
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self._clock = clock or SystemClock()
        self._limit = limit
        self.outbox: list[SentSms] = []

    async def send(self, phone_e164: str, message: SmsMessage) -> None:
        self.outbox.append(SentSms(phone_e164, message.text, self._clock.now()))
        del self.outbox[: -self._limit]  # a long-running dev server must not grow forever
        logger.info("SMS to %s: %s", _masked(phone_e164), message.text)

    def last_text_to(self, phone_e164: str) -> str | None:
        for sms in reversed(self.outbox):
            if sms.phone_e164 == phone_e164:
                return sms.text
        return None


class DisabledSms:
    """No SMS provider is configured: say so, rather than let a user wait for a code that
    never comes."""

    async def send(self, phone_e164: str, message: SmsMessage) -> None:
        logger.warning("SMS requested but no SMS provider is configured (SMS_PROVIDER=disabled)")
        raise MemberError(
            MemberErrorCode.SMS_UNAVAILABLE,
            "SMS codes are not available on this server; log in with WeChat instead.",
            ["phone"],
        )


# ---------------------------------------------------------------- TC3-HMAC-SHA256


TC3 = "TC3-HMAC-SHA256"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def tc3_authorization(
    *,
    secret_id: str,
    secret_key: str,
    service: str,
    timestamp: int,
    headers: Mapping[str, str],
    payload: bytes,
    method: str = "POST",
) -> str:
    """The `Authorization` header of a Tencent Cloud API 3.0 request, signed over `headers`
    (all of them; Tencent requires content-type and host) and the exact payload bytes."""
    day = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    names = sorted(name.lower() for name in headers)
    values = {name.lower(): value.strip().lower() for name, value in headers.items()}
    canonical_headers = "".join(f"{name}:{values[name]}\n" for name in names)
    signed_headers = ";".join(names)
    canonical_request = "\n".join(
        [method, "/", "", canonical_headers, signed_headers, _sha256(payload)]
    )
    scope = f"{day}/{service}/tc3_request"
    string_to_sign = f"{TC3}\n{timestamp}\n{scope}\n{_sha256(canonical_request.encode())}"
    secret_date = _hmac(f"TC3{secret_key}".encode(), day)
    secret_service = _hmac(secret_date, service)
    secret_signing = _hmac(secret_service, "tc3_request")
    signature = hmac.new(secret_signing, string_to_sign.encode(), hashlib.sha256).hexdigest()
    return (
        f"{TC3} Credential={secret_id}/{scope}, "
        f"SignedHeaders={signed_headers}, Signature={signature}"
    )


# ---------------------------------------------------------------- Tencent Cloud SMS


TENCENT_SMS_ENDPOINT = "https://sms.tencentcloudapi.com"
TENCENT_SMS_VERSION = "2021-01-11"
TENCENT_SMS_REGIONS = ("ap-guangzhou", "ap-beijing", "ap-nanjing")
_SERVICE = "sms"
_ACTION = "SendSms"
_CONTENT_TYPE = "application/json; charset=utf-8"
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


@dataclass(frozen=True)
class TencentSmsConfig:
    secret_id: str
    secret_key: str = field(repr=False)
    sdk_app_id: str
    sign_name: str
    templates: Mapping[str, str]  # SmsKind -> template id
    region: str = "ap-guangzhou"
    endpoint: str = TENCENT_SMS_ENDPOINT


class SmsFailure(StrEnum):
    """What a failed send means for whoever asked for the text."""

    THROTTLED = "THROTTLED"  # a sending limit of this number (or the account): wait
    INVALID_NUMBER = "INVALID_NUMBER"  # the number cannot receive texts: fix it
    MISCONFIGURED = "MISCONFIGURED"  # credentials, signature, template, balance: an operator
    UNAVAILABLE = "UNAVAILABLE"  # network, HTTP 5xx, the provider's own errors: try again


_INVALID_NUMBER = frozenset(
    {
        "InvalidParameterValue.IncorrectPhoneNumber",
        "FailedOperation.PhoneNumberInBlacklist",
        "FailedOperation.PhoneNumberParseFail",
        "UnsupportedOperation.UnsupportedRegion",
    }
)
_MISCONFIGURED_PREFIXES = (
    "AuthFailure",
    "UnauthorizedOperation",
    "FailedOperation",
    "InvalidParameter",
    "MissingParameter",
    "UnsupportedOperation",
    "UnknownParameter",
)


def classify(code: str) -> SmsFailure:
    """A Tencent error code (`Response.Error.Code` or `SendStatusSet[].Code`) as an outcome.
    Unknown codes of the request's own making (`FailedOperation.*`, `InvalidParameter*`...)
    need an operator; anything else (`InternalError.*`...) may pass on a later try."""
    if code.startswith(("LimitExceeded.", "RequestLimitExceeded")):
        return SmsFailure.THROTTLED
    if code in _INVALID_NUMBER:
        return SmsFailure.INVALID_NUMBER
    if code.split(".", 1)[0] in _MISCONFIGURED_PREFIXES:
        return SmsFailure.MISCONFIGURED
    return SmsFailure.UNAVAILABLE


def member_error(failure: SmsFailure) -> MemberError:
    """The failure as the member's client sees it (the port's errors)."""
    if failure is SmsFailure.THROTTLED:
        return MemberError(
            MemberErrorCode.TOO_MANY_REQUESTS,
            "Too many texts were sent to this number; try again later.",
            ["phone"],
        )
    if failure is SmsFailure.INVALID_NUMBER:
        return MemberError(
            MemberErrorCode.INVALID_PHONE, "This number cannot receive texts.", ["phone"]
        )
    if failure is SmsFailure.MISCONFIGURED:
        return MemberError(
            MemberErrorCode.SMS_UNAVAILABLE,
            "SMS codes are not available right now; log in with WeChat instead.",
            ["phone"],
        )
    return MemberError(
        MemberErrorCode.SMS_UNAVAILABLE,
        "The SMS service did not answer; try again in a minute.",
        ["phone"],
    )


class TencentSmsSender:
    """`SendSms` of Tencent Cloud SMS, one number per request, signed with TC3-HMAC-SHA256."""

    def __init__(
        self,
        config: TencentSmsConfig,
        clock: Clock | None = None,
        client: httpx.AsyncClient | None = None,
        timeout: float = 5.0,
    ):
        self._config = config
        self._clock = clock or SystemClock()
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient()
        self._timeout = timeout
        self._url = config.endpoint.rstrip("/") + "/"
        self._host = urlsplit(self._url).netloc

    async def send(self, phone_e164: str, message: SmsMessage) -> None:
        if not _E164.fullmatch(phone_e164):
            raise member_error(SmsFailure.INVALID_NUMBER)
        template_id = self._config.templates.get(message.kind)
        if template_id is None:
            logger.error("No Tencent SMS template for %s (TENCENT_SMS_TEMPLATES)", message.kind)
            raise member_error(SmsFailure.MISCONFIGURED)
        payload = self._payload(phone_e164, template_id, message)
        code, detail = await self._post(payload)
        if code == "Ok":
            return
        failure = classify(code)
        detail = detail.replace(phone_e164, _masked(phone_e164))
        detail = detail.replace(phone_e164.removeprefix("+86"), _masked(phone_e164))[:200]
        log = logger.error if failure is SmsFailure.MISCONFIGURED else logger.warning
        log("SMS %s to %s failed: %s %s", message.kind, _masked(phone_e164), code, detail)
        raise member_error(failure)

    def _payload(self, phone_e164: str, template_id: str, message: SmsMessage) -> bytes:
        body = {
            "PhoneNumberSet": [phone_e164],
            "SmsSdkAppId": self._config.sdk_app_id,
            "SignName": self._config.sign_name,
            "TemplateId": template_id,
            "TemplateParamSet": list(message.params),
        }
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()

    def headers(self, payload: bytes, timestamp: int) -> dict[str, str]:
        """The request's headers, `Authorization` signed over content-type, host and action."""
        signed = {"content-type": _CONTENT_TYPE, "host": self._host, "x-tc-action": _ACTION}
        authorization = tc3_authorization(
            secret_id=self._config.secret_id,
            secret_key=self._config.secret_key,
            service=_SERVICE,
            timestamp=timestamp,
            headers=signed,
            payload=payload,
        )
        return {
            "Authorization": authorization,
            "Content-Type": _CONTENT_TYPE,
            "Host": self._host,
            "X-TC-Action": _ACTION,
            "X-TC-Version": TENCENT_SMS_VERSION,
            "X-TC-Timestamp": str(timestamp),
            "X-TC-Region": self._config.region,
        }

    async def _post(self, payload: bytes) -> tuple[str, str]:
        """Tencent's code for our one number ("Ok" when sent) and its message; failures of
        the exchange itself are codes too (`HTTP.*`, classified UNAVAILABLE)."""
        timestamp = int(self._clock.now().timestamp())
        try:
            response = await self._client.post(
                self._url,
                content=payload,
                headers=self.headers(payload, timestamp),
                timeout=self._timeout,
            )
        except httpx.HTTPError as exc:
            return f"HTTP.{type(exc).__name__}", "the request did not complete"
        if response.status_code != 200:
            return f"HTTP.{response.status_code}", ""
        answer = _response_of(response)
        if answer is None:
            return "HTTP.UnreadableAnswer", ""
        request_id = str(answer.get("RequestId", ""))
        error = answer.get("Error")
        if isinstance(error, dict):
            return str(error.get("Code", "")), f"{error.get('Message', '')} ({request_id})"
        statuses = answer.get("SendStatusSet")
        if not isinstance(statuses, list) or len(statuses) != 1:
            return "HTTP.UnreadableAnswer", request_id
        status = statuses[0]
        if not isinstance(status, dict) or not isinstance(status.get("Code"), str):
            return "HTTP.UnreadableAnswer", request_id
        return status["Code"], f"{status.get('Message', '')} ({request_id})"

    async def aclose(self) -> None:
        """Closes the HTTP client if this sender created it; an injected one is the caller's."""
        if self._owns_client:
            await self._client.aclose()


def _response_of(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    answer = body.get("Response") if isinstance(body, dict) else None
    return answer if isinstance(answer, dict) else None
