"""After-sales rules without a database: the return window, each line's share of what was
paid (largest remainder) and the parts of a line refunded in several after-sales."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from domain.aftersales.model import (
    DEFAULT_RETURN_DAYS,
    TRANSITIONS,
    AfterSaleKind,
    AfterSaleStatus,
    ReturnPolicy,
    cumulative_share,
)
from domain.catalog.model import CatalogStatus, Category, Product
from domain.ids import new_id
from domain.ordering.model import Fulfilment, Order, OrderLine, OrderStatus, SalesChannel
from domain.ordering.shares import allocate, line_shares

HANDED = datetime(2027, 1, 5, 4, 0, tzinfo=UTC)


def _policy(
    days: int | None = None,
    hours: int | None = None,
    category: tuple[int | None, int | None] | None = None,
) -> ReturnPolicy:
    product = Product(new_id(), "Mango", "mango", "", None, CatalogStatus.ACTIVE, HANDED, HANDED)
    product.return_window_days, product.refund_only_within_hours = days, hours
    group = None
    if category is not None:
        group = Category(new_id(), "Fresh", "fresh", None, *category)
    return ReturnPolicy.of(product, group)


def test_the_window_is_seven_days_by_default_none_for_zero_and_the_products_own() -> None:
    assert DEFAULT_RETURN_DAYS == 7
    assert _policy().closes(HANDED) == HANDED + timedelta(days=7)
    assert _policy(0).closes(HANDED) is None
    assert _policy(30).closes(HANDED) == HANDED + timedelta(days=30)


def test_the_products_setting_wins_then_the_categorys_then_the_default() -> None:
    assert _policy(category=(30, None)).closes(HANDED) == HANDED + timedelta(days=30)
    assert _policy(3, category=(30, None)).closes(HANDED) == HANDED + timedelta(days=3)
    assert _policy(category=(0, None)).closes(HANDED) is None
    assert _policy(category=(None, None)) == ReturnPolicy()
    fresh = _policy(category=(None, 24))
    assert fresh.closes(HANDED) == HANDED + timedelta(hours=24)
    assert fresh.allows(AfterSaleKind.REFUND_ONLY)
    assert not fresh.allows(AfterSaleKind.RETURN_AND_REFUND)
    assert _policy(hours=2, category=(None, 24)).closes(HANDED) == HANDED + timedelta(hours=2)
    assert _policy(0, category=(None, 24)).closes(HANDED) is None  # no returns at all wins


def test_allocate_gives_the_units_left_to_the_largest_remainders() -> None:
    assert allocate(1000, [3980, 1000]) == [799, 201]  # 799.19 and 200.80
    assert allocate(10, [1, 1, 1]) == [4, 3, 3]  # a tie: the first line
    assert allocate(0, [5, 7]) == [0, 0]
    assert allocate(5, []) == []


@given(
    st.integers(min_value=0, max_value=10**7),
    st.lists(st.integers(min_value=1, max_value=10**6), min_size=1, max_size=50),
)
def test_allocate_adds_up_and_stays_within_one_of_the_exact_share(
    amount: int, weights: list[int]
) -> None:
    parts = allocate(amount, weights)
    assert sum(parts) == amount
    whole = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        assert amount * weight // whole <= part <= amount * weight // whole + 1


def _order(lines: list[tuple[int, int]], discount: int, points: int) -> Order:
    now = HANDED
    return Order(
        id=new_id(),
        number="SH-A-1",
        member_id=new_id(),
        channel=SalesChannel.MINI_PROGRAM,
        fulfilment=Fulfilment.PICKUP,
        location_id=new_id(),
        status=OrderStatus.PICKED_UP,
        currency="CNY",
        total=sum(p * q for p, q in lines),
        note="",
        created_at=now,
        updated_at=now,
        payment_deadline=None,
        lines=[OrderLine(new_id(), new_id(), new_id(), "S", "x", p, q) for p, q in lines],
        points_redeemed=points,
        points_discount=discount,
    )


def test_line_shares_split_the_points_discount_and_the_money_paid() -> None:
    order = _order([(1990, 2), (1000, 1)], discount=1000, points=1000)
    mango, kiwi = (line_shares(order)[line.id] for line in order.lines)
    assert (mango.paid, mango.points_discount, mango.points) == (3181, 799, 799)
    assert (kiwi.paid, kiwi.points_discount, kiwi.points) == (799, 201, 201)
    assert mango.paid + kiwi.paid == order.amount_due


@given(
    st.integers(min_value=0, max_value=10**6),
    st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=10),
)
def test_parts_refunded_one_after_another_add_up_to_the_line(total: int, parts: list[int]) -> None:
    quantity = sum(parts)
    before, refunded = 0, []
    for part in parts:
        refunded.append(cumulative_share(total, quantity, before, part))
        before += part
    assert sum(refunded) == total
    assert all(r >= 0 for r in refunded)


def test_decided_requests_stay_decided() -> None:
    for decided in (AfterSaleStatus.REJECTED, AfterSaleStatus.REFUNDED, AfterSaleStatus.CLOSED):
        assert decided not in TRANSITIONS  # final
    assert AfterSaleStatus.REJECTED not in TRANSITIONS[AfterSaleStatus.APPROVED]
