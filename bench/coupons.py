"""place_order_coupon's coupons: every order uses a fresh coupon of its member (bench.seed
grants each coupon member `Size.coupons_each` of one NO_THRESHOLD template).

The clients of one load generator share one event loop, so one `CouponSupply` hands each
coupon out once. Between runs the runner gives back what the previous run held
(`give_back`): the orders it placed stay, pending, but their coupons are the next run's
again, so one run's worth of coupons per member suffices for every run."""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from typing import Generic, TypeVar

import asyncpg

from bench.database import dsn

COUPON_OFF = 300  # fen: ¥3 off any cart, no threshold
SCENARIO = "place_order_coupon"
QUOTE_SCENARIO = "checkout_quote_coupons"  # its members hold three coupons each (bench.seed)
GIVE_BACK = (
    "UPDATE coupon SET status = 'AVAILABLE', order_id = NULL, discount = 0 "
    "WHERE template_id = $1 AND status <> 'AVAILABLE'"
)

M = TypeVar("M")


class CouponSupply(Generic[M]):
    """Members with their coupons; `take` draws a member at random among those with a
    coupon left and hands out their next one."""

    def __init__(self, members: Sequence[tuple[M, Sequence[str]]]):
        self.members = [(m, list(reversed(coupons))) for m, coupons in members if coupons]

    def take(self, rnd: random.Random) -> tuple[M, str]:
        if not self.members:
            raise RuntimeError("no coupon left: seed more (bench.seed.Size.coupons_each)")
        n = rnd.randrange(len(self.members))
        member, coupons = self.members[n]
        coupon = coupons.pop()
        if not coupons:  # swap-remove: the member has used every coupon
            self.members[n] = self.members[-1]
            self.members.pop()
        return member, coupon


async def give_back(database_url: str, template_id: str) -> int:
    """Every coupon of the bench template AVAILABLE again, naming no order (between runs)."""
    conn = await asyncpg.connect(dsn(database_url))
    try:
        done = await conn.execute(GIVE_BACK, uuid.UUID(template_id))
    finally:
        await conn.close()
    return int(done.split()[-1])
