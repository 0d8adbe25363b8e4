"""The price of a cart: the one function that both the checkout quote and `placeOrder` call,
so the quote and the order never disagree.

Per line: the list price (the catalog's), the price the caller pays (the lower of the list
price and the member price of the caller's tier; anonymous shoppers pay list prices), and the
saving. A live flash sale's price (`flash_prices`) replaces the line's price when lower. Then
the cart: the coupons asked for, one after another on what the ones before them left, each
allocated to the lines it covers in proportion to their totals (`coupons_model.apply_in_order`);
the most points the member may redeem (loyalty's rule: points pay at most `max_redeem_bps` of
the total after coupons, and no more than the account has; none with a coupon that does not
stack with points), the points discount asked for, and the amount due. A quote also lists
every coupon the member holds against the cart (`offers`), best first, with why the others do
not apply."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from uuid import UUID

from domain.catalog.model import CatalogStatus, Product, Variant
from domain.errors import OrderError, OrderErrorCode, PromotionError
from domain.inventory.model import StockLine
from domain.loyalty.model import BPS, MAX_POINTS, PointsPolicy
from domain.ordering.model import line_name
from domain.promotions.coupons_checkout import apply_coupons, coupons_for_order_in_uow
from domain.promotions.coupons_model import (
    CartLine,
    Coupon,
    CouponCart,
    CouponOption,
    CouponTemplate,
    best_first,
    evaluate,
)
from domain.uow import UnitOfWork


@dataclass(frozen=True)
class CartItem:
    """One line to price: the variant, its product, how many, and where it was asked for."""

    variant: Variant
    product: Product
    quantity: int
    index: int  # the line's position in the request, for error paths
    locked_price: int | None = None  # a subscription's price locked at sign-up
    flash_price: int | None = None  # a live flash sale's price (秒杀)


@dataclass(frozen=True)
class PricedLine:
    variant_id: UUID
    product_id: UUID
    sku: str
    name: str
    list_price: int  # fen per unit, the catalog's
    unit_price: int  # fen per unit, what the caller pays
    quantity: int
    category_id: UUID | None = None
    coupon_discount: int = 0  # fen: the line's part of the coupon discounts

    @property
    def list_total(self) -> int:
        return self.list_price * self.quantity

    @property
    def total(self) -> int:
        """At the unit price, before coupons."""
        return self.unit_price * self.quantity

    @property
    def saving(self) -> int:
        return self.list_total - self.total

    @property
    def due(self) -> int:
        """After the line's coupon discount, before points."""
        return self.total - self.coupon_discount


@dataclass(frozen=True)
class Where:
    """Where and when a cart is bought: what a coupon's scope and validity are judged by."""

    channel: str
    location_id: UUID | None  # the pickup store; None for a delivery
    now: datetime


@dataclass(frozen=True)
class CartPrice:
    lines: list[PricedLine]
    tier: str | None  # the tier whose member prices applied; None for a walk-in
    max_points: int  # the most points redeemable on this cart
    points: int  # points asked for (0 or at most `max_points`)
    points_discount: int  # fen those points pay
    coupons: tuple[CouponOption, ...] = ()  # applied, in the order asked
    offers: tuple[CouponOption, ...] = field(default=())  # a quote's: every coupon, best first

    @property
    def coupon_discount(self) -> int:
        return sum(line.coupon_discount for line in self.lines)

    @property
    def subtotal(self) -> int:
        """At list prices."""
        return sum(line.list_total for line in self.lines)

    @property
    def member_savings(self) -> int:
        return sum(line.saving for line in self.lines)

    @property
    def total(self) -> int:
        """What the goods cost after member prices and coupons, before points."""
        return self.subtotal - self.member_savings - self.coupon_discount

    @property
    def amount_due(self) -> int:
        return self.total - self.points_discount


def unit_price(list_price: int, member_price: int | None) -> int:
    """What one unit costs a caller: the member price of their tier when it is lower."""
    return list_price if member_price is None else min(list_price, member_price)


def max_redeemable(policy: PointsPolicy, total: int, available: int) -> int:
    """The most points that may pay for a `total` (fen): loyalty's cap on the share points
    pay, and the member's available points."""
    cap = total * policy.max_redeem_bps // BPS
    # The largest p with value_of(p) <= cap: p * 100 // per_yuan <= cap.
    by_cap = ((cap + 1) * policy.points_per_yuan_redeemed - 1) // 100
    return max(0, min(by_cap, available))


def price_cart(
    items: Sequence[CartItem],
    policy: PointsPolicy,
    *,
    tier: str | None,
    member_prices: Mapping[UUID, int],
    points_available: int = 0,
    points: int = 0,
    coupons: Sequence[tuple[Coupon, CouponTemplate]] = (),
    offers: Sequence[tuple[Coupon, CouponTemplate]] = (),
    where: Where | None = None,
) -> CartPrice:
    """Price `items` for a caller of `tier` (None: not a member, list prices). `member_prices`
    are the tier's prices by variant; `coupons` come off after member prices and before points
    (`where` judges them), `offers` are evaluated one by one for a quote. Raises OrderError for
    lines that cannot be sold and for points the member may not spend, PromotionError
    (COUPON_UNAVAILABLE) for a coupon that does not apply."""
    lines = [_line(item, member_prices if tier is not None else {}) for item in items]
    applied: list[CouponOption] = []
    quoted: list[CouponOption] = []
    if coupons or offers:
        assert where is not None, "coupons are judged by where and when the cart is bought"
        cart = _coupon_cart(lines, where)
        quoted = best_first([evaluate(c, t, cart, where.now) for c, t in offers])
        with _in_order_terms():
            applied = apply_coupons(coupons, cart, where.now)
        lines = _with_discounts(lines, applied)
    total = sum(line.due for line in lines)
    with_points = all(option.template.stackable_with_points for option in applied)
    if points:
        if not with_points:
            raise OrderError(
                OrderErrorCode.COUPON_UNAVAILABLE,
                "A coupon of this order does not combine with points: redeem no points, or "
                "leave that coupon out.",
                ["pointsToRedeem"],
            )
        _check_points(policy, tier, points, total, points_available)
    redeemable = tier is not None and with_points
    return CartPrice(
        lines=lines,
        tier=tier,
        max_points=max_redeemable(policy, total, points_available) if redeemable else 0,
        points=points,
        points_discount=policy.value_of(points),
        coupons=tuple(applied),
        offers=tuple(quoted),
    )


@contextmanager
def _in_order_terms() -> Iterator[None]:
    """A coupon refused while pricing an order is the order's error (placeOrder's payload
    and the quote's carry OrderErrorCode): the same code, message and field."""
    try:
        yield
    except PromotionError as error:
        raise OrderError(OrderErrorCode(error.code.value), error.message, error.field) from None


def _coupon_cart(lines: Sequence[PricedLine], where: Where) -> CouponCart:
    return CouponCart(
        [CartLine(x.variant_id, x.product_id, x.category_id, x.quantity, x.total) for x in lines],
        where.channel,
        where.location_id,
    )


def _with_discounts(lines: list[PricedLine], applied: Sequence[CouponOption]) -> list[PricedLine]:
    """Each line with its part of every applied coupon's discount (the coupons' own
    allocations, which add up to their discounts exactly)."""
    return [
        replace(line, coupon_discount=sum(option.allocation[n] for option in applied))
        for n, line in enumerate(lines)
    ]


def _line(item: CartItem, member_prices: Mapping[UUID, int]) -> PricedLine:
    variant, product = item.variant, item.product
    if variant.status is not CatalogStatus.ACTIVE or product.status is not CatalogStatus.ACTIVE:
        raise OrderError(
            OrderErrorCode.VARIANT_UNAVAILABLE,
            f"{variant.name} is no longer sold.",
            ["lines", str(item.index), "variantId"],
        )
    if item.locked_price is not None:
        listed = paid = item.locked_price
    else:
        listed = variant.price.amount
        paid = unit_price(listed, member_prices.get(variant.id))
        if item.flash_price is not None:  # the sale's price, or a lower member price
            paid = min(paid, item.flash_price)
    return PricedLine(
        variant.id,
        product.id,
        variant.code,
        line_name(product.name, variant.name),
        listed,
        paid,
        item.quantity,
        product.category_id,
    )


def _check_points(
    policy: PointsPolicy, tier: str | None, points: int, total: int, available: int
) -> None:
    field = ["pointsToRedeem"]
    if tier is None:
        raise OrderError(OrderErrorCode.INVALID_INPUT, "Only members redeem points.", field)
    if points < 0 or points > MAX_POINTS:
        raise OrderError(OrderErrorCode.INVALID_INPUT, "`pointsToRedeem` is 0 or more.", field)
    cap = total * policy.max_redeem_bps // BPS
    if policy.value_of(points) > cap:
        raise OrderError(
            OrderErrorCode.POINTS_CAP_EXCEEDED,
            f"Points may pay at most {cap} fen of this order "
            f"({max_redeemable(policy, total, MAX_POINTS)} points).",
            field,
        )
    if points > available:
        raise OrderError(
            OrderErrorCode.INSUFFICIENT_POINTS,
            f"Only {available} points are available.",
            field,
        )


async def price_cart_in_uow(
    uow: UnitOfWork,
    policy: PointsPolicy,
    lines: Sequence[StockLine],
    requested: Sequence[StockLine],
    member_id: UUID | None,
    *,
    points: int = 0,
    locked: Mapping[UUID, int] | None = None,
    flash_prices: Mapping[UUID, int] | None = None,
    coupon_ids: Sequence[UUID] = (),
    where: Where | None = None,
    with_offers: bool = False,
) -> CartPrice:
    """`price_cart` over the stored catalog, member prices, the member's points account and
    coupons, with no writes: three reads, one more for the coupons asked for, one more for a
    quote's offers (`with_offers`: every coupon the member holds). `lines` are the cleaned
    lines (sorted by variant); `requested` the lines as asked, whose positions error paths
    name."""
    position = {x.variant_id: n for n, x in enumerate(requested)}
    pairs = await uow.catalog.variants_with_products([x.variant_id for x in lines])
    variants = {v.id: v for v, _ in pairs}
    products = {p.id: p for _, p in pairs}
    items = []
    for line in lines:
        variant = variants.get(line.variant_id)
        product = products.get(variant.product_id) if variant else None
        index = position[line.variant_id]
        if variant is None or product is None:
            raise OrderError(
                OrderErrorCode.NOT_FOUND, "Unknown variant.", ["lines", str(index), "variantId"]
            )
        price = (locked or {}).get(variant.id)
        flash = (flash_prices or {}).get(variant.id)
        items.append(CartItem(variant, product, line.quantity, index, price, flash))
    tier, available, member_prices = None, 0, {}
    if member_id is not None:
        account = await uow.loyalty.get_account(member_id)
        tier = policy.tier_of(account)
        available = account.available if account is not None else 0
        member_prices = await uow.member_prices.of_tier(list(variants), tier)
    with _in_order_terms():
        coupons = await coupons_for_order_in_uow(uow, member_id, coupon_ids)
    offers: list[tuple[Coupon, CouponTemplate]] = []
    if with_offers and member_id is not None and where is not None:
        offers = await uow.coupons.available_of(member_id, where.now)
    return price_cart(
        items,
        policy,
        tier=tier,
        member_prices=member_prices,
        points_available=available,
        points=points,
        coupons=coupons,
        offers=offers,
        where=where,
    )
