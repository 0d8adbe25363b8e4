"""WeChat Pay refunds (`/v3/refund/domestic/refunds`), read into the RefundGateway port's terms.

A refund's `status` is SUCCESS (the money is back), PROCESSING (on its way), ABNORMAL (the
payer's account cannot take it: settled by hand in the merchant platform) or CLOSED. An error
answer is final unless trying again with the same out_refund_no may work: the server or the
network failed, WeChat asked us to slow down, or the merchant's balance was short (WeChat's
advice for NOT_ENOUGH: top up, then retry the same refund)."""

from __future__ import annotations

from typing import Any

from domain.ordering.model import Payment
from domain.ordering.ports import (
    MalformedNotification,
    RefundFailed,
    RefundNotice,
    RefundState,
    RefundSubmitted,
    WebhookRejected,
)
from infra.wechatpay._client import WeChatPayError

REFUNDS = "/v3/refund/domestic/refunds"
RETRYABLE_CODES = frozenset({"SYSTEM_ERROR", "FREQUENCY_LIMITED", "NOT_ENOUGH", "UNREACHABLE"})
MAX_REASON = 80  # characters WeChat takes in `reason`


def refund_body(
    payment: Payment, out_refund_no: str, amount: int, reason: str, notify_url: str
) -> dict[str, Any]:
    """The request of a refund of `amount` of `payment` (its provider_ref is the out_trade_no)."""
    return {
        "out_trade_no": payment.provider_ref,
        "out_refund_no": out_refund_no,
        "reason": reason[:MAX_REASON],
        "notify_url": notify_url,
        "amount": {"refund": amount, "total": payment.amount, "currency": payment.currency},
    }


def refund_state(refund: dict[str, Any], out_refund_no: str) -> RefundState:
    """The `status` of a refund answer about `out_refund_no`, or WeChatPayError when the answer
    is about another refund or has no status we know."""
    if refund.get("out_refund_no") != out_refund_no:
        raise WeChatPayError(200, "MISMATCH", "the answer is about another out_refund_no")
    try:
        return RefundState(str(refund.get("status")))
    except ValueError:
        status = refund.get("status")
        raise WeChatPayError(200, "BAD_STATUS", f"unknown refund status {status!r}") from None


def submitted(state: RefundState) -> RefundSubmitted | RefundFailed:
    if state is RefundState.SUCCESS:
        return RefundSubmitted(done=True)
    if state is RefundState.PROCESSING:
        return RefundSubmitted()
    return RefundFailed(state.value, retry=False)  # ABNORMAL, CLOSED: settled by hand


def refused(error: WeChatPayError) -> RefundFailed:
    """An error answer (or no answer) as the port's failure, WeChat's code first in the reason."""
    retry = error.status == 0 or error.status >= 500 or error.code in RETRYABLE_CODES
    reason = f"{error.code}: {error.message}" if error.message else error.code
    return RefundFailed(reason, retry=retry)


def refund_notice(resource: dict[str, Any], mchid: str) -> RefundNotice:
    """A decrypted REFUND.* notification resource of our merchant."""
    if resource.get("mchid") != mchid:
        raise WebhookRejected("mchid is not ours")
    out_refund_no, status = resource.get("out_refund_no"), resource.get("refund_status")
    if not isinstance(out_refund_no, str) or not out_refund_no:
        raise MalformedNotification("no out_refund_no")
    if status not in (RefundState.SUCCESS, RefundState.ABNORMAL, RefundState.CLOSED):
        raise MalformedNotification("refund_status is not SUCCESS, ABNORMAL or CLOSED")
    amount = resource.get("amount")
    if not isinstance(amount, dict) or type(amount.get("refund")) is not int:
        raise MalformedNotification("amount.refund is not a whole number of fen")
    state = RefundState(status)
    return RefundNotice(out_refund_no, state, "" if state is RefundState.SUCCESS else status)
