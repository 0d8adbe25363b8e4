"""SMS senders: a development fake and a refusal. A real provider adapter comes later."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from domain.clock import Clock, SystemClock
from domain.errors import MemberError, MemberErrorCode
from domain.members.identifiers import mask
from domain.members.model import IdentityKind

logger = logging.getLogger("omnishelf.sms")

OUTBOX_LIMIT = 1000


@dataclass(frozen=True)
class SentSms:
    phone_e164: str
    text: str
    sent_at: datetime


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

    async def send(self, phone_e164: str, text: str) -> None:
        self.outbox.append(SentSms(phone_e164, text, self._clock.now()))
        del self.outbox[: -self._limit]  # a long-running dev server must not grow forever
        logger.info("SMS to %s: %s", mask(IdentityKind.PHONE, phone_e164), text)

    def last_text_to(self, phone_e164: str) -> str | None:
        for sms in reversed(self.outbox):
            if sms.phone_e164 == phone_e164:
                return sms.text
        return None


class DisabledSms:
    """No SMS provider is configured: say so, rather than let a user wait for a code that
    never comes."""

    async def send(self, phone_e164: str, text: str) -> None:
        logger.warning("SMS requested but no SMS provider is configured (SMS_PROVIDER=disabled)")
        raise MemberError(
            MemberErrorCode.SMS_UNAVAILABLE,
            "SMS codes are not available on this server; log in with WeChat instead.",
            ["phone"],
        )
