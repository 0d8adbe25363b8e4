"""Refunds over the in-memory fakes: a cancelled paid order's refund goes pending ->
submitted -> refunded through the job and devpay; a partial refund beyond what is left is
refused and records nothing; a claimed refund is not claimed again."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from domain.errors import OrderError, OrderErrorCode
from domain.identity.model import Principal
from domain.inventory.model import StockLine
from domain.ordering.checkout import Checkout, place_order
from domain.ordering.deps import OrderingDeps
from domain.ordering.lifecycle import cancel_order
from domain.ordering.model import Order, Payment, PaymentKind, PaymentStatus, SalesChannel
from domain.ordering.payments import handle_notification, pay_order
from domain.ordering.refunds import LEASE, POLL_AFTER, process_refunds, refund_payment
from infra.payments import SIGNATURE_HEADER, sign_body
from tests.fakes.deps import ordering_deps
from tests.fakes.shop import FakeShop

PRICE = 1990


@pytest.fixture
def shop() -> FakeShop:
    return FakeShop()


@pytest.fixture
def deps(shop: FakeShop) -> OrderingDeps:
    return ordering_deps(shop.db, shop.clock)


async def paid(shop: FakeShop, deps: OrderingDeps) -> tuple[Principal, Order]:
    store = shop.store("SH-A", 31.2304, 121.4737)
    mango = shop.variant("M-1", PRICE)
    shop.stock(store, mango, 5)
    member = shop.member()
    checkout = Checkout(
        channel=SalesChannel.MINI_PROGRAM,
        lines=[StockLine(mango.id, 2)],
        member_id=member.id,
        pickup_location_id=store.id,
    )
    order = await place_order(deps, member, checkout, None)
    _, request = await pay_order(deps, member, order.id, "devpay")
    body = json.dumps(
        {"paymentRef": request.provider_ref, "amount": 2 * PRICE, "status": "SUCCEEDED"}
    ).encode()
    headers = {SIGNATURE_HEADER: sign_body("unit-test-secret", body)}
    assert await handle_notification(deps, "devpay", headers, body) == "paid"
    return member, order


def money(shop: FakeShop, kind: PaymentKind) -> list[Payment]:
    return sorted(
        (p for p in shop.db.tables.payments.values() if p.kind is kind),
        key=lambda p: (p.created_at, p.id),
    )


async def test_a_cancelled_paid_order_is_refunded_through_the_job(
    shop: FakeShop, deps: OrderingDeps
) -> None:
    member, order = await paid(shop, deps)
    await cancel_order(deps, member, order.id, "changed my mind")
    (refund,) = money(shop, PaymentKind.REFUND)
    assert (refund.amount, refund.status) == (2 * PRICE, PaymentStatus.REFUND_PENDING)

    assert await process_refunds(deps) == 1
    assert money(shop, PaymentKind.REFUND)[0].status is PaymentStatus.REFUND_SUBMITTED
    shop.clock.advance(POLL_AFTER + timedelta(seconds=1))
    assert await process_refunds(deps) == 1
    (done,) = money(shop, PaymentKind.REFUND)
    assert (done.status, done.attempts, done.completed_at) == (
        PaymentStatus.REFUNDED,
        2,
        shop.clock.now(),
    )


async def test_a_partial_refund_beyond_what_is_left_records_nothing(
    shop: FakeShop, deps: OrderingDeps
) -> None:
    _, order = await paid(shop, deps)
    (payment,) = money(shop, PaymentKind.PAYMENT)
    await refund_payment(deps, order.id, payment.id, 2 * PRICE - 1, "most of it")
    with pytest.raises(OrderError) as refused:
        await refund_payment(deps, order.id, payment.id, 2, "a little more")
    assert refused.value.code is OrderErrorCode.AMOUNT_MISMATCH
    assert [p.amount for p in money(shop, PaymentKind.REFUND)] == [2 * PRICE - 1]


async def test_a_claimed_refund_is_not_claimed_again_until_its_lease_ends(
    shop: FakeShop, deps: OrderingDeps
) -> None:
    member, order = await paid(shop, deps)
    await cancel_order(deps, member, order.id, "changed my mind")
    async with deps.uow() as uow:
        (due,) = await uow.orders.refunds_due(shop.clock.now() + timedelta(seconds=1), 10)
        assert await uow.orders.claim_refund(due, shop.clock.now() + LEASE)
        assert not await uow.orders.claim_refund(due, shop.clock.now() + LEASE)  # read before
        assert await uow.orders.refunds_due(shop.clock.now() + timedelta(seconds=1), 10) == []
