"""The price of a cart (domain/promotions/pricing.py) and the member-price use cases, on fakes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from domain.catalog.model import CatalogStatus, Money, Product, Variant
from domain.errors import OrderError, PromotionError
from domain.identity.model import Principal, PrincipalKind, StaffRole
from domain.loyalty.model import PointsPolicy
from domain.ordering.model import Fulfilment, Order, OrderLine, OrderStatus, SalesChannel
from domain.ordering.shares import line_shares
from domain.promotions.coupons_model import (
    Coupon,
    CouponKind,
    CouponRules,
    CouponScope,
    CouponSource,
    CouponStatus,
    CouponTemplate,
    TemplateStatus,
    Validity,
)
from domain.promotions.deps import MemberPriceDeps
from domain.promotions.member_prices import (
    member_prices_of,
    remove_member_price,
    set_member_price,
)
from domain.promotions.pricing import CartItem, Where, max_redeemable, price_cart, unit_price
from tests.fakes.database import FakeDatabase
from tests.support.clock import MovableClock

NOW = datetime(2026, 12, 6, 4, 0, tzinfo=UTC)
POLICY = PointsPolicy()
EVERYTHING = CouponScope()
ADMIN = Principal(kind=PrincipalKind.STAFF, id=uuid4(), role=StaffRole.ADMIN)


def _item(price: int, quantity: int = 1, index: int = 0, **variant: object) -> CartItem:
    product = Product(uuid4(), "Mango", "mango", "", None, CatalogStatus.ACTIVE, NOW, NOW)
    found = Variant(
        uuid4(), product.id, f"M-{index}", "1kg", Money(price), CatalogStatus.ACTIVE, NOW, NOW
    )
    return CartItem(replace(found, **variant), product, quantity, index)  # type: ignore[arg-type]


def test_a_member_pays_the_lower_of_the_list_and_the_tier_price() -> None:
    assert unit_price(1990, None) == 1990
    assert unit_price(1990, 1590) == 1590
    assert unit_price(1990, 2500) == 1990  # a member price above the list is never charged
    cheap, dear, plain = _item(1990, 2), _item(1090, 3, 1), _item(500, 1, 2)
    prices = {cheap.variant.id: 1590, dear.variant.id: 1200}
    price = price_cart([cheap, dear, plain], POLICY, tier="GOLD", member_prices=prices)
    assert [(x.list_price, x.unit_price, x.saving) for x in price.lines] == [
        (1990, 1590, 800),
        (1090, 1090, 0),
        (500, 500, 0),
    ]
    assert (price.subtotal, price.member_savings, price.total, price.amount_due) == (
        7750,
        800,
        6950,
        6950,
    )


def test_a_walk_in_pays_list_prices_and_redeems_nothing() -> None:
    item = _item(1990)
    price = price_cart(
        [item], POLICY, tier=None, member_prices={item.variant.id: 990}, points_available=10_000
    )
    assert (price.total, price.member_savings, price.max_points) == (1990, 0, 0)
    with pytest.raises(OrderError) as refused:
        price_cart([item], POLICY, tier=None, member_prices={}, points=100)
    assert refused.value.code.value == "INVALID_INPUT"


def test_a_locked_subscription_price_is_both_list_and_paid() -> None:
    item = replace(_item(1990), locked_price=1500)
    price = price_cart([item], POLICY, tier="GOLD", member_prices={item.variant.id: 900})
    assert (price.lines[0].list_price, price.lines[0].unit_price) == (1500, 1500)


def test_points_follow_loyaltys_cap_and_the_balance() -> None:
    item = _item(1001)
    # Half of 10.01 yuan is 500 fen: 500 points at 100 a yuan.
    assert max_redeemable(POLICY, 1001, 10_000) == 500
    assert max_redeemable(POLICY, 1001, 120) == 120
    # At 300 points a yuan, 1 fen of cap takes 3 points, and 5 fen take 17 (17 // 3 = 5).
    dear = replace(POLICY, points_per_yuan_redeemed=300)
    assert max_redeemable(dear, 10, 10_000) == 17
    assert dear.value_of(17) == 5 and dear.value_of(18) == 6
    price = price_cart([item], POLICY, tier="MEMBER", member_prices={}, points_available=600)
    assert price.max_points == 500
    spent = price_cart(
        [item], POLICY, tier="MEMBER", member_prices={}, points_available=600, points=500
    )
    assert (spent.points_discount, spent.amount_due) == (500, 501)
    for points, available, code in (
        (501, 600, "POINTS_CAP_EXCEEDED"),
        (400, 300, "INSUFFICIENT_POINTS"),
    ):
        with pytest.raises(OrderError) as refused:
            price_cart(
                [item],
                POLICY,
                tier="MEMBER",
                member_prices={},
                points_available=available,
                points=points,
            )
        assert (refused.value.code.value, refused.value.field) == (code, ["pointsToRedeem"])


def _coupon(
    rules: CouponRules,
    *,
    points: bool = True,
    others: bool = False,
    scope: CouponScope = EVERYTHING,
) -> tuple[Coupon, CouponTemplate]:
    template = CouponTemplate(
        uuid4(),
        "Coupon",
        rules,
        scope,
        Validity(days=30),
        100,
        1,
        False,
        points,
        others,
        TemplateStatus.ACTIVE,
        1,
        NOW,
        NOW,
    )
    coupon = Coupon(
        uuid4(),
        template.id,
        uuid4(),
        CouponStatus.AVAILABLE,
        CouponSource.CLAIM,
        NOW - timedelta(days=1),
        NOW + timedelta(days=29),
        NOW - timedelta(days=1),
    )
    return coupon, template


HERE = Where("MINI_PROGRAM", None, NOW)


def test_coupons_come_off_after_member_prices_and_before_points_allocated_to_lines() -> None:
    mango, tea = _item(2000), _item(1000, 2, 1)
    twenty_off = _coupon(
        CouponRules(CouponKind.AMOUNT_OFF, amount_off=300, threshold=3000), others=True
    )
    tenth = _coupon(CouponRules(CouponKind.PERCENT_OFF, percent_off_bp=1000), others=True)
    price = price_cart(
        [mango, tea],
        POLICY,
        tier="GOLD",
        member_prices={mango.variant.id: 1800},
        points_available=10_000,
        coupons=[twenty_off, tenth],
        where=HERE,
    )
    # 3800 after member prices; 300 off (from 3000), then 10 % of the 3500 left: 350.
    assert [o.discount for o in price.coupons] == [300, 350]
    assert (price.coupon_discount, price.total) == (650, 3150)
    assert [x.coupon_discount for x in price.lines] == [308, 342]  # 1800 : 2000 of each
    assert sum(x.due for x in price.lines) == price.total
    assert price.max_points == max_redeemable(POLICY, 3150, 10_000)


def test_a_coupon_that_does_not_apply_refuses_the_cart_and_one_without_points_blocks_them() -> None:
    item = _item(2000)
    with pytest.raises(OrderError) as refused:
        price_cart(
            [item],
            POLICY,
            tier="GOLD",
            member_prices={},
            coupons=[_coupon(CouponRules(CouponKind.AMOUNT_OFF, amount_off=500, threshold=9900))],
            where=HERE,
        )
    assert (refused.value.code.value, refused.value.field) == (
        "COUPON_UNAVAILABLE",
        ["couponIds", "0"],
    )
    assert "Add ¥79.00 more" in refused.value.message
    alone = _coupon(CouponRules(CouponKind.NO_THRESHOLD, amount_off=500), points=False)
    price = price_cart(
        [item],
        POLICY,
        tier="GOLD",
        member_prices={},
        points_available=900,
        coupons=[alone],
        where=HERE,
    )
    assert (price.total, price.max_points) == (1500, 0)
    with pytest.raises(OrderError) as no_points:
        price_cart(
            [item],
            POLICY,
            tier="GOLD",
            member_prices={},
            points_available=900,
            points=100,
            coupons=[alone],
            where=HERE,
        )
    assert (no_points.value.code.value, no_points.value.field) == (
        "COUPON_UNAVAILABLE",
        ["pointsToRedeem"],
    )


def test_a_quote_lists_every_coupon_best_first_and_why_the_others_do_not_apply() -> None:
    item = _item(5000)
    small = _coupon(CouponRules(CouponKind.NO_THRESHOLD, amount_off=500))
    big = _coupon(CouponRules(CouponKind.AMOUNT_OFF, amount_off=2000, threshold=5000))
    far = _coupon(CouponRules(CouponKind.AMOUNT_OFF, amount_off=5000, threshold=20000))
    elsewhere = _coupon(
        CouponRules(CouponKind.NO_THRESHOLD, amount_off=900), scope=CouponScope(channels=("POS",))
    )
    price = price_cart(
        [item],
        POLICY,
        tier="GOLD",
        member_prices={},
        offers=[small, far, elsewhere, big],
        where=HERE,
    )
    assert [(o.coupon.id, o.discount) for o in price.offers[:2]] == [
        (big[0].id, 2000),
        (small[0].id, 500),
    ]
    assert {o.reason for o in price.offers[2:]} == {  # the rest by expiry, then id
        "Add ¥150.00 more of the items it covers.",
        "Only for orders through POS.",
    }
    assert (price.coupons, price.total) == ((), 5000)  # offers are only offered


def test_a_line_no_longer_sold_is_refused_where_it_was_asked_for() -> None:
    items = [_item(100), _item(200, index=1, status=CatalogStatus.ARCHIVED)]
    with pytest.raises(OrderError) as refused:
        price_cart(items, POLICY, tier=None, member_prices={})
    assert (refused.value.code.value, refused.value.field) == (
        "VARIANT_UNAVAILABLE",
        ["lines", "1", "variantId"],
    )


async def test_member_prices_are_set_replaced_removed_and_bad_ones_change_nothing() -> None:
    db = FakeDatabase()
    deps = MemberPriceDeps(uow=db, clock=MovableClock(), policy=POLICY)
    variant = _item(1990).variant
    db.tables.variants[variant.id] = variant
    await set_member_price(deps, ADMIN, variant.id, "GOLD", 1590)
    await set_member_price(deps, ADMIN, variant.id, "GOLD", 1490)  # replaces
    for tier, price, variant_id, code in (
        ("PLATINUM", 100, variant.id, "UNKNOWN_TIER"),
        ("GOLD", -1, variant.id, "INVALID_PRICE"),
        ("GOLD", 100, uuid4(), "NOT_FOUND"),
    ):
        with pytest.raises(PromotionError) as refused:
            await set_member_price(deps, ADMIN, variant_id, tier, price)
        assert refused.value.code.value == code
    assert [
        (p.tier, p.price, p.updated_by) for p in await member_prices_of(deps, [variant.id])
    ] == [("GOLD", 1490, ADMIN.label)]
    await remove_member_price(deps, variant.id, "GOLD")
    assert await member_prices_of(deps, [variant.id]) == []
    with pytest.raises(PromotionError):
        await remove_member_price(deps, variant.id, "GOLD")


def test_every_discount_of_an_order_is_on_its_lines() -> None:
    """Member savings are each line's own; the points discount is split by largest remainder
    over the lines' totals (ordering's `line_shares`), so the shares add up to the order's."""
    lines = [
        OrderLine(uuid4(), uuid4(), uuid4(), "A", "a", 1590, 2, list_price=1990),
        OrderLine(uuid4(), uuid4(), uuid4(), "B", "b", 990, 3, list_price=1090),
        OrderLine(uuid4(), uuid4(), uuid4(), "C", "c", 333, 1),  # written before list prices
    ]
    order = Order(
        uuid4(), "N", uuid4(), SalesChannel.MINI_PROGRAM, Fulfilment.PICKUP, uuid4(),
        OrderStatus.PAID, "CNY", sum(x.total for x in lines), "", NOW, NOW, None, lines,
        points_redeemed=1001, points_discount=1001,
    )  # fmt: skip
    shares = line_shares(order)
    assert [shares[x.id].member_saving for x in lines] == [800, 300, 0]
    assert (order.subtotal, order.member_savings) == (3980 + 3270 + 333, 1100)
    assert sum(s.points_discount for s in shares.values()) == 1001
    assert sum(s.paid for s in shares.values()) == order.amount_due
