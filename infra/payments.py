"""Payment providers. `DevPayProvider` is the development provider: the shape of a real one
(WeChat Pay: a prepay request, then a signed notification) without a network."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import timedelta
from uuid import UUID

from domain.ordering.model import Order, Payment
from domain.ordering.ports import (
    MalformedNotification,
    PayChannel,
    PaymentNotice,
    PaymentRequest,
    RefundFailed,
    RefundNotice,
    RefundState,
    RefundSubmitted,
    WebhookRejected,
)
from domain.subscriptions.ports import PaymentDeclined

SIGNATURE_HEADER = "x-devpay-signature"
MAX_NOTIFIED_AMOUNT = 10**12  # fen: more than any order, inside BIGINT


def sign_body(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class DevPayProvider:
    """Notifications are JSON {"paymentRef", "amount", "currency", "status"} POSTed to
    /webhooks/payments/devpay with X-Devpay-Signature: hex HMAC-SHA256 of the raw body.

    Refunds, as WeChat Pay's: a submission is accepted (idempotent by out_refund_no, at most
    what was paid less what was refunded), the money comes back asynchronously: the refund job's
    poll answers SUCCESS, or a signed refund notification {"refundRef", "status": SUCCESS |
    ABNORMAL | CLOSED, "reason"} arrives at the same webhook. `fail_refunds` and
    `refunds_end` make a development provider refuse or fail them, as a real one can."""

    name = "devpay"
    resume_within = timedelta(0)  # every payOrder is a new attempt

    def __init__(self, secret: str):
        self._secret = secret
        self._refunds: dict[str, tuple[str, int]] = {}  # out_refund_no -> (payment ref, fen)
        self._failing: tuple[int, str, bool] = (0, "", True)  # times left, reason, retry
        self._outcome: tuple[RefundState, str] = (RefundState.SUCCESS, "")
        self.refund_submissions: list[str] = []  # every out_refund_no submitted, repeats too

    def fail_refunds(self, reason: str, times: int = 1_000_000, *, retry: bool = True) -> None:
        """The next `times` submissions are refused with `reason` (`retry`: may succeed later)."""
        self._failing = (times, reason, retry)

    def refunds_end(self, state: RefundState, reason: str = "") -> None:
        """What a poll of a submitted refund answers from now on (SUCCESS by default)."""
        self._outcome = (state, reason)

    async def submit_refund(
        self, payment: Payment, out_refund_no: str, amount: int, reason: str
    ) -> RefundSubmitted | RefundFailed:
        self.refund_submissions.append(out_refund_no)
        if out_refund_no in self._refunds:
            return RefundSubmitted()  # a repeat: the same refund, never a second one
        times, why, retry = self._failing
        if times > 0:
            self._failing = (times - 1, why, retry)
            return RefundFailed(why, retry=retry)
        refunded = sum(fen for ref, fen in self._refunds.values() if ref == payment.provider_ref)
        if not 0 < amount <= payment.amount - refunded:
            return RefundFailed("INVALID_REQUEST: more than paid less refunded", retry=False)
        self._refunds[out_refund_no] = (payment.provider_ref, amount)
        return RefundSubmitted()

    async def refund_status(self, out_refund_no: str) -> tuple[RefundState, str]:
        return self._outcome

    async def start(self, order: Order, payment_id: UUID, channel: PayChannel) -> PaymentRequest:
        ref = f"dp_{payment_id.hex}"
        return PaymentRequest(
            provider_ref=ref,
            client_payload={
                "provider": self.name,
                "paymentRef": ref,
                "amount": str(order.amount_due),
                "currency": order.currency,
                "webhook": f"/webhooks/payments/{self.name}",
            },
        )

    async def query(self, provider_ref: str) -> PaymentNotice | None:
        return None  # nothing to ask: `omnishelf devpay pay` sends the notification

    async def close(self, provider_ref: str) -> PaymentNotice | None:
        return None  # nothing to close: a notification sent later is refunded

    def parse_notification(
        self, headers: Mapping[str, str], body: bytes
    ) -> PaymentNotice | RefundNotice:
        presented = headers.get(SIGNATURE_HEADER, "")
        if not hmac.compare_digest(presented, sign_body(self._secret, body)):
            raise WebhookRejected("bad signature")
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):  # not JSON, or nested past the parser's depth
            raise MalformedNotification("not JSON") from None
        if isinstance(data, dict) and "refundRef" in data:
            return _refund_notice(data)
        if not isinstance(data, dict) or not isinstance(data.get("paymentRef"), str):
            raise MalformedNotification("no paymentRef")
        amount = data.get("amount")
        # exact minor units: 990.9 is not 990, 1e400 is not a number of fen, true is not 1
        if type(amount) is not int or not 0 <= amount <= MAX_NOTIFIED_AMOUNT:
            raise MalformedNotification("amount is not a whole number of minor units")
        return PaymentNotice(
            provider_ref=data["paymentRef"],
            amount=amount,
            currency=str(data.get("currency", "CNY")),
            succeeded=data.get("status") == "SUCCEEDED",
        )


def _refund_notice(data: dict[str, object]) -> RefundNotice:
    ref, status, reason = data.get("refundRef"), data.get("status"), data.get("reason", "")
    if not isinstance(ref, str) or not isinstance(reason, str):
        raise MalformedNotification("refundRef and reason are strings")
    try:
        state = RefundState(str(status))
    except ValueError:
        raise MalformedNotification("status is not a refund state") from None
    return RefundNotice(out_refund_no=ref, state=state, reason=reason)


class DevPayAgreements:
    """Signed payment agreements ("withhold") of the development provider. Agreements are
    strings the mini-program gets when the member signs; `decline(agreement)` makes the
    next charges fail, as a card that bounces would."""

    name = "devpay"

    def __init__(self) -> None:
        self._declining: dict[str, int] = {}
        self._charged: dict[str, str] = {}

    def decline(self, agreement: str, times: int = 1_000_000) -> None:
        self._declining[agreement] = times

    def recover(self, agreement: str) -> None:
        self._declining.pop(agreement, None)

    async def withhold(
        self, agreement: str, amount: int, currency: str, idempotency_key: str
    ) -> str:
        if idempotency_key in self._charged:
            return self._charged[idempotency_key]  # the same cycle never charges twice
        left = self._declining.get(agreement, 0)
        if left > 0:
            self._declining[agreement] = left - 1
            raise PaymentDeclined("card declined")
        # From the key, as a provider answers a repeated request: the same in every process
        # (a counter here restarted with each worker, and two workers' refs collided).
        ref = "dpa_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
        self._charged[idempotency_key] = ref
        return ref
