"""The outbox's notifier: each message goes by its channel. An automation's text
(`AUTOMATION_MESSAGE` whose `channel` is SMS: engagement's SEND_SMS, or a grant's notice by
SMS) goes to the SMS port, to the member's phone read and decrypted here, at delivery: the
outbox row holds the member's id and the text, never the number. Every other message is a
WeChat subscribe message (the notifier given)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from uuid import UUID

from domain.engagement.automations_model import MessageChannel
from domain.errors import MemberError, MemberErrorCode
from domain.members.ports import SmsKind, SmsMessage, SmsSender
from domain.outbox import Notifier, NotifierError, OutboxMessage

# member id -> the member's phone (E.164), decrypted, or None without one
PhoneLookup = Callable[[UUID | None], Awaitable[str | None]]


def sms_of(message: OutboxMessage) -> SmsMessage | None:
    """The text a message is sent as, or None: it goes by WeChat."""
    if message.data.get("channel") != MessageChannel.SMS.value:
        return None
    text = message.data.get("text", "")
    return SmsMessage(SmsKind.MARKETING, (text,), text)


class ChannelNotifier:
    def __init__(self, wechat: Notifier, sms: SmsSender, phone: PhoneLookup) -> None:
        self._wechat = wechat
        self._sms = sms
        self._phone = phone

    async def send(self, message: OutboxMessage, recipient_openid: str | None) -> None:
        text = sms_of(message)
        if text is None:
            await self._wechat.send(message, recipient_openid)
            return
        phone = await self._phone(message.member_id)
        if phone is None:
            raise NotifierError("the member has no phone number", permanent=True)
        try:
            await self._sms.send(phone, text)
        except MemberError as refused:  # the port's errors; the number stays out of them
            raise NotifierError(
                f"SMS not sent ({refused.code})",  # the port's messages speak of logins
                permanent=refused.code == MemberErrorCode.INVALID_PHONE,
            ) from None
