"""What each line of an order was paid with: the order's points discount (and the points
behind it) allocated to its lines in proportion to what they cost after coupons, so a refund
of some lines knows what to give back in money and in points. One function answers it:
`line_shares`.

Coupon discounts were allocated to the lines at checkout (`OrderLine.coupon_discount`, kept
with the line); the points discount is split here, with `allocate` (largest remainder,
integers); a member price is the line's own unit price, so its saving needs no split and is
reported per line as it is."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from domain.ordering.model import Order, OrderStatus
from domain.uow import UnitOfWork

HANDED_OVER = frozenset({OrderStatus.PICKED_UP, OrderStatus.DELIVERED})


@dataclass(frozen=True)
class LineShare:
    line_id: UUID
    paid: int  # fen paid in money for the whole line
    points_discount: int  # fen of the line paid with points
    points: int  # the points redeemed for it
    member_saving: int = 0  # fen its member price took off its list price
    coupon_discount: int = 0  # fen coupons took off it


def allocate(amount: int, weights: Sequence[int]) -> list[int]:
    """`amount` split in proportion to `weights` in integers (largest remainder: the units
    left after the floors go to the largest fractional parts, the first line on a tie)."""
    whole = sum(weights)
    if whole <= 0:
        return [0] * len(weights)
    parts = [amount * w // whole for w in weights]
    order = sorted(range(len(weights)), key=lambda i: (-(amount * weights[i] % whole), i))
    for i in order[: amount - sum(parts)]:
        parts[i] += 1
    return parts


def line_shares(order: Order) -> dict[UUID, LineShare]:
    """Each line's part of what the order was paid with, deterministic for the order."""
    dues = [line.due for line in order.lines]
    discounts = allocate(order.points_discount, dues)
    points = allocate(order.points_redeemed, dues)
    return {
        line.id: LineShare(
            line.id,
            line.due - discount,
            discount,
            spent,
            line.member_saving,
            line.coupon_discount,
        )
        for line, discount, spent in zip(order.lines, discounts, points, strict=True)
    }


async def handed_over_at_in_uow(uow: UnitOfWork, order: Order) -> datetime | None:
    """When the goods reached the customer (picked up or delivered), from the timeline."""
    if order.status not in HANDED_OVER:
        return None
    events = await uow.orders.events_of([order.id])
    return max((e.at for e in events if e.to_status in HANDED_OVER), default=None)
