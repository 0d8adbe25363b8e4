"""What ordering needs: order storage and payment providers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol
from uuid import UUID

from domain.ordering.model import (
    Order,
    OrderEvent,
    OrderStatus,
    Payment,
    PaymentStatus,
    PickupCode,
)
from domain.pagination import Page, PageRequest
from domain.promotions.coupons_model import CouponHold


class OrderRepository(Protocol):
    async def add(self, order: Order, events: Sequence[OrderEvent] = ()) -> None:
        """The order with its lines and, in the same round trip, its first `events`."""
        ...

    async def get(self, order_id: UUID, *, lock: bool = False) -> Order | None: ...
    async def by_number(self, number: str) -> Order | None:
        """The order with this order number (unique), as printed on receipts."""
        ...

    async def lock_if_free(self, ids: Sequence[UUID]) -> set[UUID]: ...
    async def get_many(self, ids: Sequence[UUID]) -> list[Order]: ...
    async def order_of_line(self, line_id: UUID) -> Order | None:
        """The order one of whose lines this is (with all its lines)."""
        ...

    async def transition(
        self, order_id: UUID, frm: OrderStatus, to: OrderStatus, changes: Mapping[str, Any]
    ) -> bool:
        """Move the order only if it is still in `frm` (no lost updates); False otherwise."""
        ...

    async def set_flags(self, order_id: UUID, **flags: Any) -> None: ...
    async def add_events(self, events: Sequence[OrderEvent]) -> None: ...
    async def events_of(self, order_ids: Sequence[UUID]) -> list[OrderEvent]: ...
    async def search(
        self,
        page: PageRequest,
        *,
        member_id: UUID | None = None,
        location_id: UUID | None = None,
        statuses: Sequence[OrderStatus] = (),
        updated_since: datetime | None = None,
        pickup_number: str | None = None,
        exclude_ids: Sequence[UUID] = (),
    ) -> Page[Order]:
        """Newest first; with `updated_since`, the orders changed since then, oldest change
        first, keyed by `change_key` (a changed order comes again after the ones it passed).
        `exclude_ids`: orders left out (a queue holding renewal orders back until their date)."""
        ...

    async def on_board(
        self, location_id: UUID, statuses: Sequence[OrderStatus], limit: int
    ) -> list[Order]:
        """The store's pickup orders in `statuses`, oldest first (at most `limit`)."""
        ...

    async def next_pickup_sequence(self, location_id: UUID, day: date) -> int:
        """The store's next pickup sequence of its local `day` (1, 2, ...), counted in the
        caller's transaction: a concurrent checkout at the same store waits for this one to
        commit or roll back, so the numbers are consecutive and never given twice."""
        ...

    async def due(
        self,
        status: OrderStatus,
        field: str,
        before: datetime,
        limit: int,
        *,
        unreminded: bool = False,
        lock: bool = True,
    ) -> list[Order]:
        """Orders in `status` whose `field` (a deadline) is before `before`, SKIP LOCKED
        (only read with `lock=False`); with `unreminded`, only those not yet reminded (so
        reminded ones never fill a batch)."""
        ...

    async def move_member(self, source: UUID, target: UUID) -> int: ...
    async def stores_of_members(self, member_ids: Sequence[UUID]) -> dict[UUID, set[UUID]]:
        """The locations each member has orders at, in any status (absent: no orders)."""
        ...

    async def add_payment(self, payment: Payment) -> None: ...
    async def payment_by_ref(self, provider: str, provider_ref: str) -> Payment | None: ...
    async def complete_payment(self, payment_id: UUID, at: datetime) -> bool:
        """PENDING (or CLOSED: paid after all) -> SUCCEEDED only once; False if it already
        was."""
        ...

    async def close_payments(self, order_id: UUID) -> int:
        """The order's PENDING payment attempts -> CLOSED; returns how many."""
        ...

    async def payments_of(self, order_ids: Sequence[UUID]) -> list[Payment]: ...
    async def get_payment(self, payment_id: UUID) -> Payment | None: ...
    async def mark_retried(self, refund_id: UUID, by: UUID) -> bool:
        """Record that refund `by` takes the place of the failed refund `refund_id`: only if it
        is still REFUND_FAILED and not retried yet (a conditional update), else False."""
        ...

    async def refunds_due(self, before: datetime, limit: int) -> list[Payment]:
        """Refunds to submit (REFUND_PENDING) or to ask about (REFUND_SUBMITTED) whose
        `next_attempt_at` has come by `before`, oldest first; only read."""
        ...

    async def claim_refund(self, refund: Payment, until: datetime) -> bool:
        """Take the refund for one attempt: only if it is still in the status and attempt
        count read (a conditional update), count the attempt and push `next_attempt_at` to
        `until` (a lease). False when another worker took it first."""
        ...

    async def settle_refund(
        self,
        refund_id: UUID,
        frm: PaymentStatus,
        to: PaymentStatus,
        *,
        reason: str = "",
        next_attempt_at: datetime | None = None,
        completed_at: datetime | None = None,
    ) -> bool:
        """`frm` -> `to` only if the refund is still in `frm`; False otherwise."""
        ...

    async def add_pickup_code(self, code: PickupCode) -> bool:
        """False if the store already has an open pickup with that code."""
        ...

    async def pickup_by_code(self, location_id: UUID, code: str) -> PickupCode | None: ...
    async def pickups_of(self, order_ids: Sequence[UUID]) -> list[PickupCode]: ...
    async def delete_pickup(self, order_id: UUID) -> None: ...


class PayChannel(StrEnum):
    """Where the payer pays; the value is the payment's `method`."""

    MINI_PROGRAM = "ONLINE"  # the member, in the mini-program (WeChat Pay JSAPI)
    KIOSK_QR = "KIOSK_QR"  # anyone, scanning the QR code a store's kiosk shows (Native)


@dataclass(frozen=True)
class PaymentRequest:
    """What the client needs to pay (for WeChat Pay: the wx.requestPayment parameters)."""

    provider_ref: str
    client_payload: dict[str, str]
    provider: str = ""  # set by pay_order: the provider that was asked


@dataclass(frozen=True)
class PaymentNotice:
    provider_ref: str
    amount: int
    currency: str
    succeeded: bool
    state: str = ""  # the provider's own word for it (WeChat: SUCCESS, NOTPAY, CLOSED, ...)


class WebhookRejected(Exception):
    """The notification is not authentic (bad signature): HTTP 401."""


class MalformedNotification(WebhookRejected):
    """Authentic but not readable as a notification (not JSON, a field missing, an amount
    that is not an exact integer of minor units): HTTP 400."""


class PaymentQueryFailed(Exception):
    """The provider could not say how a payment stands (unreachable, refused, unsigned)."""


class PaymentProvider(Protocol):
    name: str
    # A repeated payOrder within this long of a pending attempt resumes it (the same
    # provider_ref, e.g. WeChat's prepay_id) instead of starting another; zero: never.
    resume_within: timedelta

    async def start(
        self, order: Order, payment_id: UUID, channel: PayChannel
    ) -> PaymentRequest: ...

    def parse_notification(
        self, headers: Mapping[str, str], body: bytes
    ) -> PaymentNotice | RefundNotice:
        """Verify the signature over the raw body and read the notice (of a payment, or of
        a refund when the provider also implements RefundGateway), or raise
        WebhookRejected."""
        ...

    async def query(self, provider_ref: str) -> PaymentNotice | None:
        """Ask the provider how the payment stands, for a notification that never came: the
        notice it would have sent, or None when it has nothing to say (unknown, or no
        provider to ask). Raises PaymentQueryFailed."""
        ...

    async def close(self, provider_ref: str) -> PaymentNotice | None:
        """Close the attempt so that it can no longer be paid (an order that timed out or was
        cancelled): None once nobody can pay it, or the succeeded notice when it was paid
        first (apply it as its notification). Raises PaymentQueryFailed when the provider
        could not close it: ask again later."""
        ...


@dataclass(frozen=True)
class RefundSubmitted:
    """The provider accepted the refund; the money is on its way (or already back)."""

    done: bool = False  # True when the provider answered that the money is back


@dataclass(frozen=True)
class RefundFailed:
    """The provider refused or could not be reached: `retry` says whether trying again with
    the same out_refund_no may succeed (network, busy) or not (refused for good)."""

    reason: str
    retry: bool = True


class RefundState(StrEnum):
    """A submitted refund as the provider reports it (WeChat: SUCCESS, PROCESSING, ABNORMAL,
    CLOSED)."""

    PROCESSING = "PROCESSING"
    SUCCESS = "SUCCESS"
    ABNORMAL = "ABNORMAL"
    CLOSED = "CLOSED"


@dataclass(frozen=True)
class RefundNotice:
    """A refund notification (WeChat: REFUND.SUCCESS, REFUND.ABNORMAL, REFUND.CLOSED)."""

    out_refund_no: str
    state: RefundState
    reason: str = ""


class RefundGateway(Protocol):
    """The refund side of a provider. Submitting is idempotent by `out_refund_no`: asking
    twice refunds once. Several partial refunds of one payment each have their own number;
    together they never exceed what was paid."""

    name: str

    async def submit_refund(
        self, payment: Payment, out_refund_no: str, amount: int, reason: str
    ) -> RefundSubmitted | RefundFailed: ...

    async def refund_status(self, out_refund_no: str) -> tuple[RefundState, str]:
        """The refund's state and, when it failed, the provider's reason."""
        ...


class CodeSigner(Protocol):
    def sign(self, message: str) -> str: ...
    def verify(self, message: str, signature: str) -> bool: ...


@dataclass(frozen=True)
class HotTake:
    location_id: UUID
    sales: Sequence[tuple[UUID, int]] = ()  # (flash sale, units), in sale-id order
    coupons: Sequence[CouponHold] = ()  # the order's coupons, in coupon id order
    stock: Sequence[tuple[UUID, int]] = ()  # (variant, units) at `location_id`, in variant order
    # (order, the store's local day): the order's row gets the store's next pickup number
    pickup: tuple[UUID, date] | None = None


@dataclass(frozen=True)
class HotTaken:
    sold_out: UUID | None = None  # the first sale that could not give its units
    unheld: UUID | None = None  # the first coupon another order holds now (or no longer valid)
    short: tuple[UUID, ...] = ()  # the variants the shelf could not cover
    pickup_sequence: int | None = None  # given (and the number written) only when all was taken


class HotRowRepository(Protocol):
    """The contended rows of a pickup checkout (domain/ordering/hot_take.py)."""

    async def take_together(self, take: HotTake) -> HotTaken | None:
        """All of `take` in one round trip, or None when this database takes them one by
        one (through the contexts' own ports: `take_hot_rows_in_uow`)."""
        ...
