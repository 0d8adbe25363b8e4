"""After-sales: a member's request to return goods (or only get money back) after hand-over,
its decision, the goods received back, and the refund.

    REQUESTED -> APPROVED -> RETURN_RECEIVED -> REFUNDING -> REFUNDED
        |           (REFUND_ONLY: APPROVED -> REFUNDING at once)
        \\-> REJECTED
    CLOSED: withdrawn (by the member, or CS for them) while REQUESTED, or while an approved
    return waits for its goods; its units may be asked for again

Each change is an event of the after-sale's timeline, with its actor."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from domain.catalog.model import Category, Product
from domain.errors import AfterSaleError, AfterSaleErrorCode

DEFAULT_RETURN_DAYS = 7
MAX_PHOTOS = 9
MAX_REASON = 500


class AfterSaleKind(StrEnum):
    RETURN_AND_REFUND = "RETURN_AND_REFUND"
    REFUND_ONLY = "REFUND_ONLY"


class AfterSaleStatus(StrEnum):
    REQUESTED = "REQUESTED"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    RETURN_RECEIVED = "RETURN_RECEIVED"
    REFUNDING = "REFUNDING"
    REFUNDED = "REFUNDED"
    CLOSED = "CLOSED"


class Condition(StrEnum):
    RESALEABLE = "RESALEABLE"
    DAMAGED = "DAMAGED"


# Requests that hold their quantities: all but a rejected (or closed) one.
HOLDS_QUANTITY = frozenset(
    {
        AfterSaleStatus.REQUESTED,
        AfterSaleStatus.APPROVED,
        AfterSaleStatus.RETURN_RECEIVED,
        AfterSaleStatus.REFUNDING,
        AfterSaleStatus.REFUNDED,
    }
)
REFUND_STARTED = frozenset({AfterSaleStatus.REFUNDING, AfterSaleStatus.REFUNDED})
DECISIONS = frozenset({AfterSaleStatus.APPROVED, AfterSaleStatus.REJECTED})
_S = AfterSaleStatus
TRANSITIONS: dict[AfterSaleStatus, frozenset[AfterSaleStatus]] = {
    _S.REQUESTED: frozenset({_S.APPROVED, _S.REJECTED, _S.CLOSED}),
    _S.APPROVED: frozenset({_S.RETURN_RECEIVED, _S.REFUNDING, _S.REFUNDED, _S.CLOSED}),
    _S.RETURN_RECEIVED: frozenset({_S.REFUNDING, _S.REFUNDED}),
    _S.REFUNDING: frozenset({_S.REFUNDED}),
}


def withdrawable(kind: AfterSaleKind, status: AfterSaleStatus) -> bool:
    """Whether a request may still be withdrawn: before any goods or money moved (a refund-only
    request is refunded when approved, so only while REQUESTED)."""
    return status is AfterSaleStatus.REQUESTED or (
        status is AfterSaleStatus.APPROVED and kind is AfterSaleKind.RETURN_AND_REFUND
    )


@dataclass
class AfterSaleLine:
    id: UUID
    after_sale_id: UUID
    order_line_id: UUID
    variant_id: UUID
    quantity: int
    received: int = 0  # back on the shelf (RESALEABLE)
    damaged: int = 0  # received and written off
    refunded: int = 0  # units refunded (received ones, or all for a refund only)
    refund_amount: int = 0  # fen given back for this line
    points_returned: int = 0  # redeemed points given back for this line


@dataclass
class AfterSale:
    id: UUID
    order_id: UUID
    member_id: UUID | None
    location_id: UUID  # the order's store: whose staff decide
    kind: AfterSaleKind
    status: AfterSaleStatus
    reason: str
    photo_urls: list[str]
    requested_by: str
    created_at: datetime
    updated_at: datetime
    lines: list[AfterSaleLine] = field(default_factory=list)
    decision_reason: str = ""
    received_at_location_id: UUID | None = None
    refund_amount: int = 0
    refund_payment_id: UUID | None = None


@dataclass(frozen=True)
class AfterSaleEvent:
    id: UUID
    after_sale_id: UUID
    from_status: AfterSaleStatus | None
    to_status: AfterSaleStatus
    actor: str
    note: str
    at: datetime


@dataclass(frozen=True)
class RequestedLine:
    order_line_id: UUID
    quantity: int


@dataclass(frozen=True)
class ReceivedLine:
    order_line_id: UUID
    quantity: int
    condition: Condition


@dataclass(frozen=True)
class AfterSaleFilter:
    status: AfterSaleStatus | None = None
    location_ids: Sequence[UUID] | None = None  # None: every store (CS)


@dataclass(frozen=True)
class ReturnPolicy:
    """What may be asked for a line: within `window_days` of hand-over (0: nothing), or, for
    fresh produce (`refund_only_hours`), only a refund without the goods, within that many
    hours. Each setting is the product's own, else its category's, else the default."""

    window_days: int = DEFAULT_RETURN_DAYS
    refund_only_hours: int | None = None

    @classmethod
    def of(cls, product: Product, category: Category | None) -> ReturnPolicy:
        days, hours = product.return_window_days, product.refund_only_within_hours
        if category is not None:
            days = category.return_window_days if days is None else days
            hours = category.refund_only_within_hours if hours is None else hours
        return cls(DEFAULT_RETURN_DAYS if days is None else days, hours)

    def closes(self, handed_over_at: datetime) -> datetime | None:
        """When the window closes; None when nothing may be asked for."""
        if self.window_days == 0:
            return None
        if self.refund_only_hours is not None:
            return handed_over_at + timedelta(hours=self.refund_only_hours)
        return handed_over_at + timedelta(days=self.window_days)

    def allows(self, kind: AfterSaleKind) -> bool:
        return self.refund_only_hours is None or kind is AfterSaleKind.REFUND_ONLY


def cumulative_share(total: int, quantity: int, before: int, now: int) -> int:
    """What `now` more units of a line of `quantity` units get of its `total`, after `before`
    units were already counted: the floor of the share of all of them less that of those
    before, so every part adds up to `total` exactly once the whole line is counted."""
    return total * (before + now) // quantity - total * before // quantity


def invalid(message: str, *path: str) -> AfterSaleError:
    return AfterSaleError(AfterSaleErrorCode.INVALID_INPUT, message, list(path))


def clean_reason(reason: str, path: str = "reason") -> str:
    why = reason.strip()
    if not 2 <= len(why) <= MAX_REASON:
        raise invalid(f"Give a reason (2-{MAX_REASON} characters).", path)
    return why


def clean_photos(urls: Sequence[str]) -> list[str]:
    if len(urls) > MAX_PHOTOS:
        raise AfterSaleError(
            AfterSaleErrorCode.TOO_MANY_ITEMS, f"At most {MAX_PHOTOS} photos.", ["photoUrls"]
        )
    clean = []
    for index, url in enumerate(urls):
        value = url.strip()
        if not value.startswith("https://") or len(value) > 500:
            raise invalid("Photos are https:// addresses.", "photoUrls", str(index))
        clean.append(value)
    return clean
