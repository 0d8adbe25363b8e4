"""Every kind of message the system sends members, and the fields each one carries.

This is the contract between the contexts that write notifications (ordering, subscriptions)
and the channels that render them (a WeChat subscribe-message template maps these fields onto
its own keys). A test reads the notifying code and checks it against this table, so a new
kind, or a new field, cannot ship without a template to render it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class FieldShape(StrEnum):
    """How a field's value is written, so a channel can show it the way people read it."""

    TEXT = "TEXT"  # as is: "SH-A-0001", "Store SH-A", a reason
    MONEY = "MONEY"  # minor units (fen) of CNY as a decimal integer: "12900"
    LOCAL_TIME = "LOCAL_TIME"  # the store's wall clock, "2027-01-05 04:00" (local_time_text)
    DATE = "DATE"  # an ISO date: "2027-01-05"


@dataclass(frozen=True)
class MessageKind:
    name: str
    fields: Mapping[str, FieldShape]
    about_order: bool  # its messages carry the order's id (a page can open the order)


_T, _MONEY, _TIME, _DATE = (
    FieldShape.TEXT,
    FieldShape.MONEY,
    FieldShape.LOCAL_TIME,
    FieldShape.DATE,
)


def _order(name: str, **fields: FieldShape) -> MessageKind:
    return MessageKind(name, {"order_number": _T, **fields}, about_order=True)


def _subscription(name: str, **fields: FieldShape) -> MessageKind:
    return MessageKind(name, {"subscription": _T, **fields}, about_order=False)


MESSAGE_KINDS: Mapping[str, MessageKind] = {
    kind.name: kind
    for kind in (
        _order("ORDER_PAID", total=_MONEY),
        _order("ORDER_READY_FOR_PICKUP", code=_T, store=_T, deadline=_TIME),
        _order("PICKUP_REMINDER", deadline=_TIME),
        _order("ORDER_CANCELLED", reason=_T),
        _order("ORDER_UNCLAIMED", reason=_T),
        _order("ORDER_REFUNDED", amount=_MONEY, reason=_T),
        _order("REVIEW_INVITATION"),
        _order("AFTER_SALE_APPROVED"),
        _order("AFTER_SALE_REJECTED", reason=_T),
        _order("AFTER_SALE_REFUNDED", amount=_MONEY),
        _order("INVOICE_ISSUED", invoice_number=_T),
        _subscription("SUBSCRIPTION_REMINDER", date=_DATE, total=_MONEY),
        _subscription("SUBSCRIPTION_SHORT", date=_DATE, reason=_T),
        _subscription("SUBSCRIPTION_PAUSED", reason=_T),
        # marketing: only with consent; `coupon` is the template's name
        MessageKind("COUPON_EXPIRING", {"coupon": _T, "expires": _DATE}, about_order=False),
        # marketing: engagement's automations (their text; the channel is WECHAT or SMS)
        MessageKind("AUTOMATION_MESSAGE", {"text": _T, "channel": _T}, about_order=False),
    )
}
