"""The outbox's channel notifier at the protocol level: an automation text goes to Tencent
Cloud SMS (`SendSms` on an httpx MockTransport) with the MARKETING template and the text as its
parameter, to the number the lookup decrypts; a WeChat message goes to the WeChat notifier;
the SMS port's refusals become outbox failures, permanent only when retrying cannot help."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
import pytest

from domain.clock import FrozenClock
from domain.ids import new_id
from domain.outbox import Notification, NotifierError, OutboxMessage
from infra.notifier import FakeNotifier
from infra.outbox_channels import ChannelNotifier
from infra.sms import TencentSmsConfig, TencentSmsSender

NOW = datetime(2027, 1, 5, 2, 0, tzinfo=UTC)
PHONE = "+8613800138000"
MEMBER = new_id()
CONFIG = TencentSmsConfig(
    secret_id="AKIDexample",
    secret_key="secret-example",
    sdk_app_id="1400006666",
    sign_name="全渠道商店",
    templates={"LOGIN_CODE": "1234567", "MARKETING": "7654321"},
)


def _answer(code: str) -> dict[str, Any]:
    status = {"SerialNo": "5000:1", "PhoneNumber": PHONE, "Code": code, "Message": code}
    return {"Response": {"SendStatusSet": [status], "RequestId": "r-1"}}


class Tencent:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.code = "Ok"

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.headers["X-TC-Action"] == "SendSms"
        self.bodies.append(json.loads(request.content))
        return httpx.Response(200, json=_answer(self.code))


@pytest.fixture
def tencent() -> Tencent:
    return Tencent()


@pytest.fixture
async def channels(tencent: Tencent) -> AsyncIterator[tuple[ChannelNotifier, FakeNotifier]]:
    async def phone(member_id: UUID | None) -> str | None:
        return PHONE if member_id == MEMBER else None

    wechat = FakeNotifier()
    async with httpx.AsyncClient(transport=httpx.MockTransport(tencent)) as client:
        sms = TencentSmsSender(CONFIG, FrozenClock(NOW), client=client)
        yield ChannelNotifier(wechat, sms, phone), wechat


def _message(channel: str, member_id: UUID = MEMBER) -> OutboxMessage:
    notice = Notification(
        "AUTOMATION_MESSAGE", member_id, None, {"text": "会员日九折", "channel": channel}, "k"
    )
    return OutboxMessage.pending(notice, NOW)


async def test_a_text_goes_by_the_marketing_template_with_the_text_as_its_parameter(
    channels: tuple[ChannelNotifier, FakeNotifier], tencent: Tencent
) -> None:
    notifier, wechat = channels
    await notifier.send(_message("SMS"), "openid-ignored")
    [body] = tencent.bodies
    assert body["TemplateId"] == "7654321" and body["TemplateParamSet"] == ["会员日九折"]
    assert body["PhoneNumberSet"] == [PHONE] and wechat.sent == []


async def test_a_wechat_message_goes_to_the_wechat_notifier(
    channels: tuple[ChannelNotifier, FakeNotifier], tencent: Tencent
) -> None:
    notifier, wechat = channels
    await notifier.send(_message("WECHAT"), "openid-1")
    assert [s.kind for s in wechat.sent] == ["AUTOMATION_MESSAGE"] and tencent.bodies == []


@pytest.mark.parametrize(
    ("code", "permanent"),
    [
        ("InvalidParameterValue.IncorrectPhoneNumber", True),  # the number cannot get texts
        ("LimitExceeded.PhoneNumberDailyLimit", False),  # later
        ("InternalError.Timeout", False),  # later
    ],
)
async def test_a_refused_text_fails_permanently_only_when_retrying_cannot_help(
    channels: tuple[ChannelNotifier, FakeNotifier], tencent: Tencent, code: str, permanent: bool
) -> None:
    notifier, _ = channels
    tencent.code = code
    with pytest.raises(NotifierError) as failed:
        await notifier.send(_message("SMS"), None)
    assert failed.value.permanent is permanent and PHONE not in str(failed.value)


async def test_a_member_without_a_phone_fails_for_good_without_a_request(
    channels: tuple[ChannelNotifier, FakeNotifier], tencent: Tencent
) -> None:
    notifier, _ = channels
    with pytest.raises(NotifierError) as failed:
        await notifier.send(_message("SMS", new_id()), None)
    assert failed.value.permanent and tencent.bodies == []
