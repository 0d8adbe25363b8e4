"""Till sales kept line by line, and in-store returns of them (`recordPosReturn`).

A till sale keeps, per variant, what the till charged and the part of it the member's points
paid (the sale's redemption allocated to its lines by largest remainder): a return of some
units gives back their share of each, and `returned` never passes `quantity`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from domain.aftersales.model import Condition


class RefundMethod(StrEnum):
    """How the till pays a return back: the money goes back at the till, no provider."""

    CASH = "CASH"
    CARD = "CARD"
    WECHAT_PAY_QR = "WECHAT_PAY_QR"
    ALIPAY_QR = "ALIPAY_QR"


@dataclass(frozen=True)
class TillSaleLine:
    variant_id: UUID
    quantity: int
    charged: int  # fen the till charged for the whole line
    points_value: int  # fen of it paid with points
    points: int  # the points redeemed for it
    returned: int = 0

    @property
    def paid(self) -> int:
        """Fen paid in money for the whole line."""
        return self.charged - self.points_value


@dataclass(frozen=True)
class TillSale:
    id: UUID
    location_id: UUID
    transaction_id: str
    member_id: UUID | None
    lines: list[TillSaleLine]

    @property
    def reference(self) -> str:
        """The sale's reference in the points ledger (loyalty earns and redeems under it)."""
        return f"pos:{self.location_id}:{self.transaction_id}"

    @property
    def paid(self) -> int:
        return sum(line.paid for line in self.lines)


@dataclass(frozen=True)
class ReturnedLine:
    """One line of a return request: units of a variant of the sale, and their state."""

    variant_id: UUID
    quantity: int
    condition: Condition


@dataclass(frozen=True)
class PosReturnLine:
    variant_id: UUID
    condition: Condition
    quantity: int
    refund_amount: int  # fen paid back for these units
    points_returned: int  # redeemed points that come back to the member


@dataclass(frozen=True)
class PosReturn:
    id: UUID
    location_id: UUID
    sale_id: UUID
    transaction_id: str
    member_id: UUID | None
    refund_method: RefundMethod
    refund_amount: int
    points_returned: int
    points_reversed: int  # earned points taken back
    reason: str
    actor: str
    created_at: datetime
    lines: list[PosReturnLine] = field(default_factory=list)

    @property
    def reference(self) -> str:
        """Its stock movements' and points entries' reference."""
        return f"pos-return:{self.id}"
