"""The price of a cart: the one function that both the checkout quote and `placeOrder` call,
so the quote and the order never disagree.

Per line: the list price (the catalog's), the price the caller pays (the lower of the list
price and the member price of the caller's tier; anonymous shoppers pay list prices), and the
saving. Then the cart: coupon discounts (a parameter, empty until coupons exist), the most
points the member may redeem (loyalty's rule: points pay at most `max_redeem_bps` of the
total, and no more than the account has), the points discount asked for, and the amount due.
A live flash sale's price (`flash_prices`) replaces the line's price when lower; a coupon
slots in here too, not beside it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from uuid import UUID

from domain.catalog.model import CatalogStatus, Product, Variant
from domain.errors import OrderError, OrderErrorCode
from domain.inventory.model import StockLine
from domain.loyalty.model import BPS, MAX_POINTS, PointsPolicy
from domain.ordering.model import line_name
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

    @property
    def list_total(self) -> int:
        return self.list_price * self.quantity

    @property
    def total(self) -> int:
        return self.unit_price * self.quantity

    @property
    def saving(self) -> int:
        return self.list_total - self.total


@dataclass(frozen=True)
class CartPrice:
    lines: list[PricedLine]
    tier: str | None  # the tier whose member prices applied; None for a walk-in
    coupon_discount: int  # fen, the sum of the coupon discounts given (none yet)
    max_points: int  # the most points redeemable on this cart
    points: int  # points asked for (0 or at most `max_points`)
    points_discount: int  # fen those points pay

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
    coupon_discounts: Sequence[int] = (),
) -> CartPrice:
    """Price `items` for a caller of `tier` (None: not a member, list prices). `member_prices`
    are the tier's prices by variant; `coupon_discounts` are fen off the cart (after member
    prices, before points). Raises OrderError for lines that cannot be sold and for points the
    member may not spend."""
    lines = [_line(item, member_prices if tier is not None else {}) for item in items]
    goods = sum(line.total for line in lines)
    coupon_discount = min(goods, sum(coupon_discounts))
    total = goods - coupon_discount
    if points:
        _check_points(policy, tier, points, total, points_available)
    return CartPrice(
        lines=lines,
        tier=tier,
        coupon_discount=coupon_discount,
        max_points=max_redeemable(policy, total, points_available) if tier is not None else 0,
        points=points,
        points_discount=policy.value_of(points),
    )


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
    coupon_discounts: Sequence[int] = (),
) -> CartPrice:
    """`price_cart` over the stored catalog, member prices and the member's points account,
    in three reads and no writes. `lines` are the cleaned lines (sorted by variant);
    `requested` the lines as asked, whose positions error paths name."""
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
    return price_cart(
        items,
        policy,
        tier=tier,
        member_prices=member_prices,
        points_available=available,
        points=points,
        coupon_discounts=coupon_discounts,
    )
