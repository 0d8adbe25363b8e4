"""The hot rows of a pickup checkout, taken last and together (docs/performance.md, "Flash
sales and the hot SKU"): every order of one SKU at one store updates the same flash-sale
counter, the same stock level and the store's pickup counter, and holds each row from its
update to COMMIT. The checkout writes everything nobody else locks first (its order, lines,
events, reservations, the member's flash counter) and takes these rows at the very end, so
each is held for one round trip and the commit. The pickup number is written to the order's
row in the same step (the order row was inserted first, without it). The order's coupons are
held in that step too (their conditional updates decide the order as the stock's do; one
round trip fewer: docs/performance.md, "placeOrder with one coupon, profiled").

Lock order, as everywhere else (docs/architecture.md, "Lock order"): the sales' counters in
sale-id order, then the coupons in id order, then the stock levels in variant-id order, then
the pickup counter. A sale sold out or a coupon taken takes nothing after it; every stock
line is tried (the error names all short lines).
The database decides every take (conditional updates); on PostgreSQL the repository takes
them in one statement, elsewhere `take_hot_rows_in_uow` takes them one by one."""

from __future__ import annotations

from domain.inventory.reservations import take_stock_in_uow
from domain.ordering.model import pickup_number
from domain.ordering.ports import HotTake, HotTaken
from domain.promotions.coupons_checkout import hold_coupon_in_uow
from domain.promotions.flash_sales import take_sale_units_in_uow
from domain.uow import UnitOfWork


async def take_hot_rows_in_uow(uow: UnitOfWork, take: HotTake) -> HotTaken:
    """Take the rows in the lock order. On a refusal the caller raises, which rolls back
    whatever part was taken."""
    together = await uow.hot_rows.take_together(take)
    if together is not None:
        return together
    for sale_id, units in take.sales:
        if not await take_sale_units_in_uow(uow, sale_id, units):
            return HotTaken(sold_out=sale_id)
    for hold in take.coupons:
        if not await hold_coupon_in_uow(uow, hold):
            return HotTaken(unheld=hold.coupon_id)
    short = tuple(
        [
            variant_id
            for variant_id, units in take.stock
            if not await take_stock_in_uow(uow, take.location_id, variant_id, units)
        ]
    )
    if short or take.pickup is None:
        return HotTaken(short=short)
    order_id, day = take.pickup
    sequence = await uow.orders.next_pickup_sequence(take.location_id, day)
    await uow.orders.set_flags(order_id, pickup_number=pickup_number(sequence))
    return HotTaken(pickup_sequence=sequence)
