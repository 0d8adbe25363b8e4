"""Orders, their lines, the lifecycle state machine, payments and the timeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

from domain.errors import OrderError, OrderErrorCode

MAX_LINES = 50
MAX_LINE_QUANTITY = 99
MAX_LINE_NAME = 300  # product and variant name, as stored with the line


class OrderStatus(StrEnum):
    PENDING_PAYMENT = "PENDING_PAYMENT"
    PAID = "PAID"
    PREPARING = "PREPARING"
    READY_FOR_PICKUP = "READY_FOR_PICKUP"
    PICKED_UP = "PICKED_UP"
    SHIPPED = "SHIPPED"
    DELIVERED = "DELIVERED"
    CANCELLED = "CANCELLED"
    UNCLAIMED = "UNCLAIMED"


class Fulfilment(StrEnum):
    PICKUP = "PICKUP"
    DELIVERY = "DELIVERY"


class SalesChannel(StrEnum):
    MINI_PROGRAM = "MINI_PROGRAM"
    H5 = "H5"
    KIOSK = "KIOSK"
    POS = "POS"
    CS = "CS"


class PaymentKind(StrEnum):
    PAYMENT = "PAYMENT"
    REFUND = "REFUND"


class PaymentStatus(StrEnum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    # A payment attempt of an order that was cancelled unpaid: closed at the provider (or
    # past hope of closing); money that still arrives for it is refunded.
    CLOSED = "CLOSED"
    # A refund: recorded (PENDING), accepted by the provider (SUBMITTED), then the money is
    # back (REFUNDED) or the provider gave up, or retries ran out (FAILED: CS sees the reason).
    # Money taken at the till goes back at the till: REFUND_AT_TILL is a task for the store.
    REFUND_PENDING = "REFUND_PENDING"
    REFUND_SUBMITTED = "REFUND_SUBMITTED"
    REFUNDED = "REFUNDED"
    REFUND_FAILED = "REFUND_FAILED"
    REFUND_AT_TILL = "REFUND_AT_TILL"


# Refunds that give money back or will: all but a failed one.
REFUND_OWED = frozenset(
    {
        PaymentStatus.REFUND_PENDING,
        PaymentStatus.REFUND_SUBMITTED,
        PaymentStatus.REFUNDED,
        PaymentStatus.REFUND_AT_TILL,
    }
)


S = OrderStatus
TRANSITIONS: dict[Fulfilment, dict[OrderStatus, frozenset[OrderStatus]]] = {
    Fulfilment.PICKUP: {
        S.PENDING_PAYMENT: frozenset({S.PAID, S.CANCELLED}),
        S.PAID: frozenset({S.PREPARING, S.CANCELLED}),
        S.PREPARING: frozenset({S.READY_FOR_PICKUP, S.CANCELLED}),
        S.READY_FOR_PICKUP: frozenset({S.PICKED_UP, S.UNCLAIMED, S.CANCELLED}),
    },
    Fulfilment.DELIVERY: {
        S.PENDING_PAYMENT: frozenset({S.PAID, S.CANCELLED}),
        S.PAID: frozenset({S.PREPARING, S.SHIPPED, S.CANCELLED}),
        S.PREPARING: frozenset({S.SHIPPED, S.CANCELLED}),
        S.SHIPPED: frozenset({S.DELIVERED}),
    },
}
OPEN = frozenset({S.PENDING_PAYMENT, S.PAID, S.PREPARING, S.READY_FOR_PICKUP, S.SHIPPED})
HOLDS_STOCK = frozenset({S.PENDING_PAYMENT, S.PAID, S.PREPARING, S.READY_FOR_PICKUP})
PAID_STATES = frozenset({S.PAID, S.PREPARING, S.READY_FOR_PICKUP, S.SHIPPED})
MEMBER_MAY_CANCEL = frozenset({S.PENDING_PAYMENT, S.PAID, S.PREPARING})
# What a store's pickup board shows: 准备中 (PREPARING) and 请取餐 (READY_FOR_PICKUP). A pickup
# order is on the board while in one of these; it leaves when picked up, unclaimed or cancelled.
ON_BOARD = frozenset({S.PREPARING, S.READY_FOR_PICKUP})


def check_transition(fulfilment: Fulfilment, current: OrderStatus, target: OrderStatus) -> None:
    if target not in TRANSITIONS[fulfilment].get(current, frozenset()):
        raise OrderError(
            OrderErrorCode.ILLEGAL_TRANSITION,
            f"A {fulfilment.value.lower()} order cannot go from {current.value} to {target.value}.",
            ["orderId"],
        )


def line_name(product_name: str, variant_name: str) -> str:
    """An order line's name: the product's and the variant's, unless the variant's already
    names the product ("Mango Juice 500ml" of "Mango Juice" stays "Mango Juice 500ml")."""
    product, variant = product_name.strip(), variant_name.strip()
    if not variant or variant.casefold() == product.casefold():
        name = product
    elif not product or product.casefold() in variant.casefold():
        name = variant
    else:
        name = f"{product} {variant}"
    return name[:MAX_LINE_NAME]


PICKUP_SERIES = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I or O: read aloud and on a screen as 1 and 0
PICKUP_SERIES_SIZE = 999


def pickup_number(sequence: int) -> str:
    """The short number a customer listens for (A001 ... A999, B001 ...): the store's
    `sequence`-th pickup order of its local day. Past Z999, the plain sequence (#23977)."""
    if sequence < 1:
        raise ValueError(f"pickup sequences start at 1, got {sequence}")
    series, within = divmod(sequence - 1, PICKUP_SERIES_SIZE)
    if series >= len(PICKUP_SERIES):
        return f"#{sequence}"
    return f"{PICKUP_SERIES[series]}{within + 1:03d}"


@dataclass(frozen=True)
class OrderLine:
    id: UUID
    variant_id: UUID
    product_id: UUID
    sku: str
    name: str
    unit_price: int  # fen per unit paid: the member price when one applied
    quantity: int
    list_price: int | None = None  # fen per unit on the shelf; None: the unit price
    coupon_discount: int = 0  # fen: this line's part of the order's coupon discounts

    @property
    def total(self) -> int:
        """At the unit price, before coupons."""
        return self.unit_price * self.quantity

    @property
    def due(self) -> int:
        """What the line costs after its coupon discount (before points)."""
        return self.total - self.coupon_discount

    @property
    def list_unit_price(self) -> int:
        return self.unit_price if self.list_price is None else self.list_price

    @property
    def list_total(self) -> int:
        return self.list_unit_price * self.quantity

    @property
    def member_saving(self) -> int:
        """What the member price took off this line (the line's own: nothing to allocate)."""
        return self.list_total - self.total


@dataclass
class Order:
    id: UUID
    number: str
    member_id: UUID | None
    channel: SalesChannel
    fulfilment: Fulfilment
    location_id: UUID  # the store or warehouse that fulfils it
    status: OrderStatus
    currency: str
    total: int
    note: str
    created_at: datetime
    updated_at: datetime
    payment_deadline: datetime | None
    lines: list[OrderLine] = field(default_factory=list)
    delivery_address: str | None = None  # encrypted at rest under the member's key
    delivery_latitude: float | None = None
    delivery_longitude: float | None = None
    paid_at: datetime | None = None
    pickup_deadline: datetime | None = None
    cancel_reason: str | None = None
    at_risk: bool = False
    reminder_sent: bool = False
    points_redeemed: int = 0
    points_discount: int = 0  # fen paid with points
    pickup_number: str | None = None  # A023: unique per store and store-local day (pickup only)
    pickup_day: date | None = None  # the store-local day the number belongs to

    @property
    def subtotal(self) -> int:
        """The lines at list prices."""
        return sum(line.list_total for line in self.lines)

    @property
    def member_savings(self) -> int:
        """What member prices (and flash-sale prices) took off the subtotal."""
        return sum(line.member_saving for line in self.lines)

    @property
    def coupon_discount(self) -> int:
        """What coupons took off: `subtotal - member_savings - coupon_discount == total`."""
        return sum(line.coupon_discount for line in self.lines)

    @property
    def amount_due(self) -> int:
        """What the customer pays in money: the total less what points paid."""
        return self.total - self.points_discount

    @property
    def reservation_owner(self) -> str:
        return reservation_owner(self.id)


def reservation_owner(order_id: UUID) -> str:
    return f"order:{order_id}"


def order_id_of(owner: str) -> UUID | None:
    prefix, _, value = owner.partition(":")
    if prefix != "order":
        return None
    try:
        return UUID(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class OrderEvent:
    id: UUID
    order_id: UUID
    from_status: OrderStatus | None
    to_status: OrderStatus
    actor: str
    reason: str
    at: datetime


@dataclass
class Payment:
    id: UUID
    order_id: UUID
    kind: PaymentKind
    provider: str
    provider_ref: str
    method: str
    amount: int
    currency: str
    status: PaymentStatus
    created_at: datetime
    completed_at: datetime | None = None
    # A refund only: the payment it gives back (its `provider_ref` is the out_refund_no),
    # the provider's reason when it failed, submissions tried, when the job looks again, and
    # (a failed one CS recorded again) the refund that took its place.
    refund_of: UUID | None = None
    reason: str = ""
    attempts: int = 0
    next_attempt_at: datetime | None = None
    retried_by: UUID | None = None


@dataclass(frozen=True)
class PickupCode:
    order_id: UUID
    location_id: UUID
    code: str
    deadline: datetime


@dataclass(frozen=True)
class PickupAlternative:
    location_id: UUID
    distance_m: float
