"""Stock levels, reservations, the movement ledger, transfers and discrepancies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from domain.errors import DomainError, InventoryError, InventoryErrorCode

MAX_QUANTITY = 1_000_000  # per line or per level: anything larger is a typo
MAX_LINES = 100
MAX_TILL_QUANTITY = 9_999  # per till line: a till never scans ten thousand of one item
LOW_STOCK_AT = 5  # available at or below this is LOW_STOCK for shoppers


class MovementKind(StrEnum):
    RECEIPT = "RECEIPT"
    ADJUSTMENT = "ADJUSTMENT"
    COUNT = "COUNT"
    SALE_POS = "SALE_POS"
    RESERVE = "RESERVE"
    RELEASE = "RELEASE"
    COMMIT = "COMMIT"
    TRANSFER_OUT = "TRANSFER_OUT"
    TRANSFER_IN = "TRANSFER_IN"
    RETURN = "RETURN"


ADJUSTABLE = frozenset({MovementKind.RECEIPT, MovementKind.ADJUSTMENT, MovementKind.RETURN})


class ReservationState(StrEnum):
    ACTIVE = "ACTIVE"
    AT_RISK = "AT_RISK"  # a till sale took the shelf below what is reserved
    COMMITTED = "COMMITTED"
    RELEASED = "RELEASED"
    EXPIRED = "EXPIRED"


HOLDING = (ReservationState.ACTIVE, ReservationState.AT_RISK)  # counted in `reserved`


class TransferState(StrEnum):
    CREATED = "CREATED"
    SHIPPED = "SHIPPED"
    RECEIVED = "RECEIVED"


class StockStatus(StrEnum):
    IN_STOCK = "IN_STOCK"
    LOW_STOCK = "LOW_STOCK"
    OUT_OF_STOCK = "OUT_OF_STOCK"


class DiscrepancyKind(StrEnum):
    POS_OVERSOLD = "POS_OVERSOLD"  # the till sold more than the system count
    TRANSFER_SHORT = "TRANSFER_SHORT"  # received less than shipped
    TRANSFER_OVER = "TRANSFER_OVER"  # received more than shipped


@dataclass
class StockLevel:
    location_id: UUID
    variant_id: UUID
    on_hand: int
    reserved: int
    safety_stock: int

    @property
    def available(self) -> int:
        return max(0, self.on_hand - self.reserved - self.safety_stock)


def status_of(available: int, low_at: int = LOW_STOCK_AT) -> StockStatus:
    if available <= 0:
        return StockStatus.OUT_OF_STOCK
    return StockStatus.LOW_STOCK if available <= low_at else StockStatus.IN_STOCK


@dataclass
class Reservation:
    id: UUID
    owner: str
    location_id: UUID
    variant_id: UUID
    quantity: int
    state: ReservationState
    expires_at: datetime
    created_at: datetime


@dataclass(frozen=True)
class Movement:
    id: UUID
    location_id: UUID
    variant_id: UUID
    kind: MovementKind
    on_hand_delta: int
    reserved_delta: int
    reason: str
    reference: str
    actor: str
    created_at: datetime


@dataclass(frozen=True)
class StockLine:
    variant_id: UUID
    quantity: int


@dataclass(frozen=True)
class TillLine(StockLine):
    """A till line: what left the shelf and what the till charged for it, in fen, after the
    till's own discounts. Points and growth come from `line_total`, never from the catalog."""

    line_total: int


@dataclass(frozen=True)
class Shortage:
    variant_id: UUID
    requested: int
    available: int


@dataclass
class TransferLine:
    variant_id: UUID
    quantity: int
    received: int | None = None


@dataclass
class Transfer:
    id: UUID
    from_location_id: UUID
    to_location_id: UUID
    state: TransferState
    lines: list[TransferLine]
    created_at: datetime
    actor: str
    shipped_at: datetime | None = None
    received_at: datetime | None = None


@dataclass(frozen=True)
class Discrepancy:
    id: UUID
    location_id: UUID
    variant_id: UUID
    kind: DiscrepancyKind
    quantity: int
    reference: str
    created_at: datetime


@dataclass(frozen=True)
class MovementFilter:
    location_id: UUID | None = None
    variant_id: UUID | None = None
    kinds: Sequence[MovementKind] = field(default_factory=tuple)
    reference: str | None = None


class InsufficientStock(InventoryError):
    """Raised by reserve/commit/ship: every short line, with what is available."""

    def __init__(self, shortages: Sequence[Shortage], location_id: UUID):
        names = ", ".join(f"{s.requested} wanted, {s.available} available" for s in shortages)
        super().__init__(InventoryErrorCode.INSUFFICIENT_STOCK, f"Not enough stock: {names}.")
        self.shortages = list(shortages)
        self.location_id = location_id


class StaleQuantity(InventoryError):
    """A count based on a stale reading: says what on hand is now."""

    def __init__(self, current_on_hand: int, expected: int):
        super().__init__(
            InventoryErrorCode.STALE_QUANTITY,
            f"On hand is {current_on_hand}, not {expected}; count again or send "
            f"expectedOnHand: {current_on_hand}.",
            ["expectedOnHand"],
        )
        self.current_on_hand = current_on_hand


def quantity_error(message: str, path: Sequence[str]) -> DomainError:
    return InventoryError(InventoryErrorCode.INVALID_QUANTITY, message, path)


def clean_quantity(value: int, path: Sequence[str], *, allow_zero: bool = False) -> int:
    low = 0 if allow_zero else 1
    if not low <= value <= MAX_QUANTITY:
        raise quantity_error(f"Quantities are {low} to {MAX_QUANTITY}; got {value}.", path)
    return value


def check_line_count(count: int, path: str = "lines") -> None:
    """At most MAX_LINES lines in one request (the API asks before decoding any id)."""
    if count > MAX_LINES:
        raise InventoryError(
            InventoryErrorCode.TOO_MANY_ITEMS, f"At most {MAX_LINES} lines.", [path]
        )


def clean_lines(lines: Sequence[StockLine], path: str = "lines") -> list[StockLine]:
    """1-100 lines, positive sane quantities, each variant once; sorted by variant id so
    every transaction takes its row locks in the same order (no deadlocks)."""
    if not lines:
        raise InventoryError(InventoryErrorCode.INVALID_INPUT, "Give at least one line.", [path])
    check_line_count(len(lines), path)
    seen: set[UUID] = set()
    for index, line in enumerate(lines):
        clean_quantity(line.quantity, [path, str(index), "quantity"])
        if line.variant_id in seen:
            raise InventoryError(
                InventoryErrorCode.DUPLICATE_VARIANT,
                "Each variant at most once per request; add the quantities up.",
                [path, str(index), "variantId"],
            )
        seen.add(line.variant_id)
    return sorted(lines, key=lambda line: line.variant_id)


def clean_counts(lines: Sequence[StockLine], path: str = "lines") -> dict[UUID, int]:
    """What a receipt counted, by variant: at most MAX_LINES, each 0 (nothing arrived) to
    MAX_QUANTITY, each variant once; errors name the line by its index."""
    check_line_count(len(lines), path)
    counted: dict[UUID, int] = {}
    for index, line in enumerate(lines):
        clean_quantity(line.quantity, [path, str(index), "quantity"], allow_zero=True)
        if line.variant_id in counted:
            raise InventoryError(
                InventoryErrorCode.DUPLICATE_VARIANT,
                "Each variant at most once per request; add the quantities up.",
                [path, str(index), "variantId"],
            )
        counted[line.variant_id] = line.quantity
    return counted


def clean_till_lines(lines: Sequence[TillLine]) -> list[TillLine]:
    """`clean_lines` for a till: 1-9,999 units a line and an amount charged of 0 or more."""
    for index, line in enumerate(lines):
        path = ["lines", str(index)]
        if not 1 <= line.quantity <= MAX_TILL_QUANTITY:
            raise quantity_error(
                f"Till quantities are 1 to {MAX_TILL_QUANTITY}; got {line.quantity}.",
                [*path, "quantity"],
            )
        if line.line_total < 0:
            raise InventoryError(
                InventoryErrorCode.INVALID_INPUT,
                "`lineTotal` is what the till charged, in fen: 0 or more.",
                [*path, "lineTotal"],
            )
    cleaned = clean_lines(lines)
    return [line for line in cleaned if isinstance(line, TillLine)]


def check_till_charges(
    lines: Sequence[TillLine], prices: dict[UUID, int], ceiling_percent: int
) -> None:
    """Each line charged at most `ceiling_percent` of its catalog price (`prices`: fen per
    unit by variant): a mistyped amount would otherwise pay out points."""
    for index, line in enumerate(lines):
        ceiling = prices.get(line.variant_id, 0) * line.quantity * ceiling_percent // 100
        if line.line_total > ceiling:
            raise InventoryError(
                InventoryErrorCode.INVALID_INPUT,
                f"`lineTotal` is at most {ceiling} fen for this line ({ceiling_percent} % of "
                f"the catalog price); got {line.line_total}.",
                ["lines", str(index), "lineTotal"],
            )


def clean_text(value: str, name: str, limit: int = 200) -> str:
    text = value.strip()
    if len(text) > limit or "\x00" in text:
        raise InventoryError(
            InventoryErrorCode.INVALID_INPUT, f"`{name}` is at most {limit} characters.", [name]
        )
    return text
