"""The development SMS sender: an outbox, and a log that shows the code but not the number."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from domain.clock import FrozenClock
from domain.errors import MemberError, MemberErrorCode
from domain.members.login import login_code_sms
from domain.members.ports import SmsKind, SmsMessage
from infra.sms import DisabledSms, FakeSmsSender, SentSms

PHONE = "+8613800138000"


def sms(text: str) -> SmsMessage:
    return SmsMessage(SmsKind.LOGIN_CODE, ("123456", "5"), text)


def test_the_login_code_text_and_its_template_parameters() -> None:
    message = login_code_sms("042917", timedelta(minutes=5))
    assert message.kind is SmsKind.LOGIN_CODE
    assert message.params == ("042917", "5")  # the order of the provider template's {1} {2}
    assert message.text == "Your omnishelf code is 042917. It expires in 5 minutes."


async def test_messages_land_in_the_outbox_with_the_clock_time() -> None:
    clock = FrozenClock()
    sender = FakeSmsSender(clock=clock)
    await sender.send(PHONE, sms("Your code is 123456"))
    clock.advance(timedelta(minutes=1))
    await sender.send("+8613900139000", sms("Your code is 654321"))
    assert sender.outbox == [
        SentSms(PHONE, "Your code is 123456", datetime(2026, 1, 1, tzinfo=UTC)),
        SentSms("+8613900139000", "Your code is 654321", datetime(2026, 1, 1, 0, 1, tzinfo=UTC)),
    ]


async def test_without_a_clock_messages_carry_the_current_utc_time() -> None:
    sender = FakeSmsSender()
    before = datetime.now(UTC)
    await sender.send(PHONE, sms("hello"))
    assert before <= sender.outbox[0].sent_at <= datetime.now(UTC)


async def test_log_masks_the_number_but_keeps_the_text(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="omnishelf.sms")
    await FakeSmsSender().send(PHONE, sms("Your code is 123456"))
    [record] = [r for r in caplog.records if r.name == "omnishelf.sms"]
    assert record.levelno == logging.INFO
    message = record.getMessage()
    assert "Your code is 123456" in message
    assert "****8000" in message
    assert "13800138000" not in message and "0013" not in message


async def test_last_text_to_finds_the_latest_message_for_that_number() -> None:
    sender = FakeSmsSender()
    assert sender.last_text_to(PHONE) is None
    await sender.send(PHONE, sms("first"))
    await sender.send("+8613900139000", sms("other"))
    await sender.send(PHONE, sms("second"))
    assert sender.last_text_to(PHONE) == "second"
    assert sender.last_text_to("+8613900139000") == "other"
    assert sender.last_text_to("+8613700137000") is None


async def test_outbox_keeps_only_the_last_messages() -> None:
    sender = FakeSmsSender()
    for i in range(1005):
        await sender.send(PHONE, sms(f"message {i}"))
    assert len(sender.outbox) == 1000
    assert sender.outbox[0].text == "message 5"
    assert sender.last_text_to(PHONE) == "message 1004"


async def test_outbox_bound_is_configurable() -> None:
    sender = FakeSmsSender(limit=2)
    for text in ("a", "b", "c"):
        await sender.send(PHONE, sms(text))
    assert [sms.text for sms in sender.outbox] == ["b", "c"]
    with pytest.raises(ValueError):
        FakeSmsSender(limit=0)


async def test_disabled_sender_refuses_without_logging_the_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="omnishelf.sms")
    with pytest.raises(MemberError) as caught:
        await DisabledSms().send(PHONE, sms("Your code is 123456"))
    assert caught.value.code is MemberErrorCode.SMS_UNAVAILABLE
    assert "123456" not in caplog.text and "8000" not in caplog.text
