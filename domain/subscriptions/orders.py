"""The order a subscription's cycle places: its lines at the locked prices, to its store or
address. One function for the renewal engine and a prepaid plan's first order."""

from __future__ import annotations

from datetime import timedelta

from domain.inventory.model import StockLine
from domain.ordering.checkout import Checkout, DeliveryTo
from domain.ordering.model import SalesChannel
from domain.subscriptions.deps import SubscriptionDeps
from domain.subscriptions.model import Subscription
from domain.uow import UnitOfWork


async def checkout_of(
    deps: SubscriptionDeps, uow: UnitOfWork, s: Subscription, deliveries: int = 1
) -> Checkout:
    """The next delivery's checkout; `deliveries` > 1 prices it for that many (the prepayment
    of a prepaid plan: the goods of one delivery, the money of all)."""
    delivery = None
    if s.delivery_address is not None:
        member = await uow.members.get(s.member_id)
        assert member is not None and member.data_key is not None
        delivery = DeliveryTo(
            deps.vault.decrypt(member.data_key, s.delivery_address),
            s.delivery_latitude or 0.0,
            s.delivery_longitude or 0.0,
        )
    prepaid = f" (prepaid: {deliveries} deliveries)" if deliveries > 1 else ""
    return Checkout(
        channel=SalesChannel.MINI_PROGRAM,
        lines=[StockLine(x.variant_id, x.quantity) for x in s.lines],
        member_id=s.member_id,
        pickup_location_id=s.pickup_location_id,
        delivery=delivery,
        note=f"subscription {s.id} delivery {s.next_date}{prepaid}",
        unit_prices={x.variant_id: x.unit_price * deliveries for x in s.lines},
        # Unpaid, a renewal order must outlive every retry of the charge (1 h + 1 d + 3 d);
        # the member pays a prepayment in the app, within the usual time.
        pay_within=None if deliveries > 1 else sum(deps.policy.retry_delays, timedelta(days=1)),
    )
