"""Tencent Cloud SMS (`SendSms`, API 3.0) against a stub that checks requests as Tencent does:
it recomputes the TC3-HMAC-SHA256 signature from the raw bytes it received, with a reference
implementation written here from Tencent's documentation (and checked against the worked
example in that documentation), then answers in Tencent's formats."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from domain.clock import FrozenClock
from domain.errors import MemberError, MemberErrorCode
from domain.members.login import login_code_sms
from domain.members.ports import SmsKind, SmsMessage
from infra.runtime import Runtime
from infra.settings import Settings
from infra.sms import (
    SmsFailure,
    TencentSmsConfig,
    TencentSmsSender,
    classify,
    tc3_authorization,
)

SECRET_ID = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"
SECRET_KEY = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"
PHONE = "+8613800138000"
# 23:30 UTC is already the next day in Shanghai: the credential's date is the UTC one.
NOW = datetime(2027, 1, 5, 23, 30, 7, tzinfo=UTC)
CONFIG = TencentSmsConfig(
    secret_id=SECRET_ID,
    secret_key=SECRET_KEY,
    sdk_app_id="1400006666",
    sign_name="全渠道商店",
    templates={"LOGIN_CODE": "1234567"},
    region="ap-guangzhou",
)
SENT_OK = {
    "Response": {
        "SendStatusSet": [
            {
                "SerialNo": "5000:1045710669157053657849499619",
                "PhoneNumber": PHONE,
                "Fee": 1,
                "SessionContext": "",
                "Code": "Ok",
                "Message": "send success",
                "IsoCode": "CN",
            }
        ],
        "RequestId": "a0aabda6-cf91-4f3e-a81f-9198114a2279",
    }
}


# ---------------------------------------------------------------- the reference


def reference_signature(
    secret_key: str, service: str, timestamp: int, headers: list[tuple[str, str]], payload: bytes
) -> tuple[str, str]:
    """(signed headers, signature) per Tencent's "Signature v3" page, step by step."""
    date = datetime.fromtimestamp(timestamp, UTC).date().isoformat()
    # 1. CanonicalRequest: method, URI "/", empty query, headers "name:value\n" (lower case,
    #    trimmed, sorted by name), the signed header names, the payload's SHA-256 in hex.
    ordered = sorted((k.lower(), v.strip().lower()) for k, v in headers)
    canonical_headers = "".join(f"{k}:{v}\n" for k, v in ordered)
    signed_headers = ";".join(k for k, _ in ordered)
    hashed_payload = hashlib.sha256(payload).hexdigest()
    canonical_request = f"POST\n/\n\n{canonical_headers}\n{signed_headers}\n{hashed_payload}"
    # 2. StringToSign.
    scope = f"{date}/{service}/tc3_request"
    hashed_request = hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
    string_to_sign = f"TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{hashed_request}"

    # 3. Derived keys and the signature.
    def sign(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()

    secret_date = sign(("TC3" + secret_key).encode("utf-8"), date)
    secret_service = sign(secret_date, service)
    secret_signing = sign(secret_service, "tc3_request")
    signature = hmac.new(secret_signing, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    return signed_headers, signature


# Tencent's worked example (CVM DescribeInstances, with the key as printed in the docs).
DOC_PAYLOAD = (
    b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
)
DOC_HEADERS = [
    ("Content-Type", "application/json; charset=utf-8"),
    ("Host", "cvm.tencentcloudapi.com"),
]
DOC_AUTHORIZATION = (
    "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******/2019-02-25/cvm/tc3_request, "
    "SignedHeaders=content-type;host, "
    "Signature=2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"
)


def test_the_reference_reproduces_tencents_worked_example() -> None:
    assert hashlib.sha256(DOC_PAYLOAD).hexdigest() == (
        "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
    )
    signed, signature = reference_signature(
        "Gu5t9xGARNpq86cd98joQYCN3*******", "cvm", 1551113065, DOC_HEADERS, DOC_PAYLOAD
    )
    assert (signed, signature) == (
        "content-type;host",
        "2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c",
    )


def test_the_signer_reproduces_tencents_worked_example() -> None:
    authorization = tc3_authorization(
        secret_id="AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******",
        secret_key="Gu5t9xGARNpq86cd98joQYCN3*******",
        service="cvm",
        timestamp=1551113065,
        headers=dict(DOC_HEADERS),
        payload=DOC_PAYLOAD,
    )
    assert authorization == DOC_AUTHORIZATION


# ---------------------------------------------------------------- the stub


class Tencent:
    """Plays sms.tencentcloudapi.com: verifies each request like the real service (signature
    over the raw body, headers, action, version), then answers from a script."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.answer: dict[str, Any] | httpx.Response | Exception = SENT_OK

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        assert request.method == "POST" and str(request.url) == "https://sms.tencentcloudapi.com/"
        h = request.headers
        assert h["X-TC-Action"] == "SendSms" and h["X-TC-Version"] == "2021-01-11"
        assert h["X-TC-Region"] == "ap-guangzhou"
        assert h["Content-Type"] == "application/json; charset=utf-8"
        timestamp = int(h["X-TC-Timestamp"])
        algorithm, _, fields = h["Authorization"].partition(" ")
        parts = dict(p.split("=", 1) for p in fields.split(", "))
        assert algorithm == "TC3-HMAC-SHA256"
        date = datetime.fromtimestamp(timestamp, UTC).date().isoformat()
        assert parts["Credential"] == f"{SECRET_ID}/{date}/sms/tc3_request"
        names = parts["SignedHeaders"].split(";")
        assert {"content-type", "host"} <= set(names)
        signed, signature = reference_signature(
            SECRET_KEY, "sms", timestamp, [(n, h[n]) for n in names], request.content
        )
        assert (parts["SignedHeaders"], parts["Signature"]) == (signed, signature)
        if isinstance(self.answer, Exception):
            raise self.answer
        if isinstance(self.answer, httpx.Response):
            return self.answer
        return httpx.Response(200, json=self.answer)

    def payloads(self) -> list[Any]:
        return [json.loads(r.content) for r in self.requests]


@pytest.fixture
def tencent() -> Tencent:
    return Tencent()


@pytest.fixture
async def sender(tencent: Tencent) -> AsyncIterator[TencentSmsSender]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(tencent)) as client:
        yield TencentSmsSender(CONFIG, FrozenClock(NOW), client=client)


def failed(code: str, message: str = "failed") -> dict[str, Any]:
    status = {**SENT_OK["Response"]["SendStatusSet"][0], "Code": code, "Message": message}
    return {"Response": {"SendStatusSet": [status], "RequestId": "r-1"}}


def error(code: str, message: str = "error") -> dict[str, Any]:
    return {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": "r-2"}}


async def _refusal(sender: TencentSmsSender, phone: str = PHONE) -> MemberError:
    with pytest.raises(MemberError) as refused:
        await sender.send(phone, login_code_sms("042917", timedelta(minutes=5)))
    return refused.value


# ---------------------------------------------------------------- sending


async def test_a_login_code_is_sent_signed_to_the_e164_number(
    sender: TencentSmsSender, tencent: Tencent
) -> None:
    await sender.send(PHONE, SmsMessage(SmsKind.LOGIN_CODE, ("042917", "5"), "ignored"))
    [request] = tencent.requests
    assert request.headers["X-TC-Timestamp"] == str(int(NOW.timestamp()))
    assert "/2027-01-05/sms/tc3_request" in request.headers["Authorization"]  # UTC date
    assert tencent.payloads() == [
        {
            "PhoneNumberSet": ["+8613800138000"],
            "SmsSdkAppId": "1400006666",
            "SignName": "全渠道商店",
            "TemplateId": "1234567",
            "TemplateParamSet": ["042917", "5"],
        }
    ]


async def test_the_signature_is_over_the_exact_bytes_sent(
    sender: TencentSmsSender, tencent: Tencent
) -> None:
    """A known answer: the header for this payload at this second, from the reference."""
    payload = b'{"PhoneNumberSet":["+8613800138000"]}'
    headers = sender.headers(payload, 1799364607)
    signed, signature = reference_signature(
        SECRET_KEY,
        "sms",
        1799364607,
        [
            ("content-type", "application/json; charset=utf-8"),
            ("host", "sms.tencentcloudapi.com"),
            ("x-tc-action", "SendSms"),
        ],
        payload,
    )
    assert headers["Authorization"] == (
        f"TC3-HMAC-SHA256 Credential={SECRET_ID}/2027-01-07/sms/tc3_request, "
        f"SignedHeaders={signed}, Signature={signature}"
    )
    assert signed == "content-type;host;x-tc-action"
    tampered = sender.headers(payload.replace(b"138", b"139"), 1799364607)
    assert tampered["Authorization"] != headers["Authorization"]


@pytest.mark.parametrize("phone", ["13800138000", "8613800138000", "+86 138 0013 8000", "+0123"])
async def test_a_number_not_in_e164_is_refused_unsent(
    sender: TencentSmsSender, tencent: Tencent, phone: str
) -> None:
    assert (await _refusal(sender, phone)).code is MemberErrorCode.INVALID_PHONE
    assert tencent.requests == []


async def test_a_kind_without_a_template_is_a_configuration_error(tencent: Tencent) -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(tencent)) as client:
        sender = TencentSmsSender(
            TencentSmsConfig(SECRET_ID, SECRET_KEY, "1400006666", "全渠道商店", templates={}),
            FrozenClock(NOW),
            client=client,
        )
        refused = await _refusal(sender)
    assert refused.code is MemberErrorCode.SMS_UNAVAILABLE and tencent.requests == []


# ---------------------------------------------------------------- Tencent's answers


@pytest.mark.parametrize(
    ("code", "failure"),
    [
        ("LimitExceeded.PhoneNumberDailyLimit", SmsFailure.THROTTLED),
        ("LimitExceeded.PhoneNumberThirtySecondLimit", SmsFailure.THROTTLED),
        ("LimitExceeded.PhoneNumberOneHourLimit", SmsFailure.THROTTLED),
        ("RequestLimitExceeded", SmsFailure.THROTTLED),
        ("InvalidParameterValue.IncorrectPhoneNumber", SmsFailure.INVALID_NUMBER),
        ("FailedOperation.PhoneNumberInBlacklist", SmsFailure.INVALID_NUMBER),
        ("FailedOperation.SignatureIncorrectOrUnapproved", SmsFailure.MISCONFIGURED),
        ("FailedOperation.TemplateIncorrectOrUnapproved", SmsFailure.MISCONFIGURED),
        ("FailedOperation.InsufficientBalanceInSmsPackage", SmsFailure.MISCONFIGURED),
        ("AuthFailure.SignatureFailure", SmsFailure.MISCONFIGURED),
        ("AuthFailure.SecretIdNotFound", SmsFailure.MISCONFIGURED),
        ("AuthFailure.SignatureExpire", SmsFailure.MISCONFIGURED),
        ("UnauthorizedOperation.SmsSdkAppIdVerifyFail", SmsFailure.MISCONFIGURED),
        ("InternalError.Timeout", SmsFailure.UNAVAILABLE),
        ("InternalError.SendAndRecvFail", SmsFailure.UNAVAILABLE),
    ],
)
def test_tencent_codes_are_classified(code: str, failure: SmsFailure) -> None:
    assert classify(code) is failure


OUTCOMES = {
    SmsFailure.THROTTLED: (MemberErrorCode.TOO_MANY_REQUESTS, "try again later"),
    SmsFailure.INVALID_NUMBER: (MemberErrorCode.INVALID_PHONE, "cannot receive texts"),
    SmsFailure.MISCONFIGURED: (MemberErrorCode.SMS_UNAVAILABLE, "log in with WeChat instead"),
    SmsFailure.UNAVAILABLE: (MemberErrorCode.SMS_UNAVAILABLE, "try again in a minute"),
}


@pytest.mark.parametrize(
    ("answer", "failure"),
    [
        (failed("LimitExceeded.PhoneNumberDailyLimit"), SmsFailure.THROTTLED),
        (failed("LimitExceeded.PhoneNumberThirtySecondLimit"), SmsFailure.THROTTLED),
        (failed("InvalidParameterValue.IncorrectPhoneNumber"), SmsFailure.INVALID_NUMBER),
        (error("FailedOperation.SignatureIncorrectOrUnapproved"), SmsFailure.MISCONFIGURED),
        (error("AuthFailure.SignatureFailure"), SmsFailure.MISCONFIGURED),
        (error("InternalError.Timeout"), SmsFailure.UNAVAILABLE),
        (httpx.Response(502, text="Bad Gateway"), SmsFailure.UNAVAILABLE),
        (httpx.Response(200, text="<html>"), SmsFailure.UNAVAILABLE),
        ({"Response": {"SendStatusSet": [], "RequestId": "r"}}, SmsFailure.UNAVAILABLE),
        (httpx.ConnectError("connection refused"), SmsFailure.UNAVAILABLE),
        (httpx.ReadTimeout("timed out"), SmsFailure.UNAVAILABLE),
    ],
)
async def test_each_answer_reaches_the_member_as_its_outcome(
    sender: TencentSmsSender, tencent: Tencent, answer: Any, failure: SmsFailure
) -> None:
    tencent.answer = answer
    refused = await _refusal(sender)
    code, advice = OUTCOMES[failure]
    assert (refused.code, refused.field) == (code, ["phone"])
    assert advice in refused.message
    assert len(tencent.requests) == 1  # no retry inside a member's request


async def test_nothing_secret_and_no_full_number_reaches_the_logs(
    sender: TencentSmsSender, tencent: Tencent, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await sender.send(PHONE, login_code_sms("042917", timedelta(minutes=5)))
    for answer in (
        failed("InvalidParameterValue.IncorrectPhoneNumber", f"phone {PHONE} is invalid"),
        error("AuthFailure.SignatureFailure", "13800138000 signature mismatch"),
        httpx.ConnectError(f"cannot reach for {PHONE}"),
    ):
        tencent.answer = answer
        await _refusal(sender)
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "138****8000" in logged and "SignatureFailure" in logged
    signature = tencent.requests[0].headers["Authorization"].rsplit("=", 1)[1]
    for secret in (SECRET_KEY, signature, "13800138000", "042917"):
        assert secret not in logged, secret


def test_runtime_wires_tencent_when_configured() -> None:
    settings = Settings(sms_provider="tencent", tencent_sms=CONFIG)
    assert isinstance(Runtime(settings).sms, TencentSmsSender)
