"""The checkout quote: what placeOrder would charge for the same input, without reserving
anything (domain/promotions/pricing.py prices both)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.context import Context
from api.errors import OrderUserError
from api.mutations import mutate
from api.mutations.orders import PlaceOrderInput, checkout_of
from api.relay import encode_id
from api.types.catalog import Money, money_of
from api.types.coupons import Coupon
from domain.ordering.checkout import quote_order
from domain.promotions.coupons_model import CouponOption
from domain.promotions.pricing import CartPrice, PricedLine

CURRENCY = "CNY"


def _money(amount: int) -> Money:
    return money_of(amount, CURRENCY)


@strawberry.type(description="One line of a quote: the list price, what the caller pays.")
class QuoteLine:
    variant_id: strawberry.ID
    sku: str
    name: str
    quantity: int
    list_price: Money = strawberry.field(description="Per unit, the catalog's.")
    unit_price: Money = strawberry.field(description="Per unit: the member price if lower.")
    saving: Money = strawberry.field(description="What the member price takes off the line.")
    total: Money = strawberry.field(description="At the unit price, before coupons.")
    coupon_discount: Money = strawberry.field(
        description="The line's part of the coupons applied (`couponIds`)."
    )

    @classmethod
    def from_domain(cls, line: PricedLine) -> QuoteLine:
        return cls(
            variant_id=encode_id("Variant", line.variant_id),
            sku=line.sku,
            name=line.name,
            quantity=line.quantity,
            list_price=_money(line.list_price),
            unit_price=_money(line.unit_price),
            saving=_money(line.saving),
            total=_money(line.total),
            coupon_discount=_money(line.coupon_discount),
        )


@strawberry.type(description="One of the member's coupons against this cart.")
class CouponOffer:
    coupon: Coupon
    discount: Money = strawberry.field(
        description="What it takes off this cart; 0 if it does not apply."
    )
    applies: bool
    reason: str | None = strawberry.field(
        description="Why it does not apply (add ¥x more of the items it covers, not at this "
        "store, ...); null when it does."
    )

    @classmethod
    def from_domain(cls, option: CouponOption) -> CouponOffer:
        return cls(
            coupon=Coupon.from_domain(option.coupon, option.template),
            discount=_money(option.discount),
            applies=option.reason is None and option.discount > 0,
            reason=option.reason,
        )


@strawberry.type(description="What an order of this cart would cost now (stock not judged).")
class CheckoutQuote:
    lines: list[QuoteLine]
    tier: str | None = strawberry.field(description="The tier whose prices applied; null: none.")
    subtotal: Money = strawberry.field(description="At list prices.")
    member_savings: Money
    coupons: list[CouponOffer] = strawberry.field(
        description="The coupons applied (`couponIds`), in that order, each with its discount."
    )
    coupon_discount: Money
    coupon_options: list[CouponOffer] = strawberry.field(
        description="Every coupon the member holds against this cart, each on its own: those "
        "that apply by discount (largest first, then the earliest to expire), then the others "
        "with the reason. Empty for a shopper who is not signed in."
    )
    total: Money = strawberry.field(description="After member prices and coupons, before points.")
    max_points_redeemable: int = strawberry.field(
        description="The most points this cart may take: loyalty's cap and the member's balance."
    )
    points_to_redeem: int
    points_discount: Money
    amount_due: Money

    @classmethod
    def from_domain(cls, price: CartPrice) -> CheckoutQuote:
        return cls(
            lines=[QuoteLine.from_domain(x) for x in price.lines],
            tier=price.tier,
            subtotal=_money(price.subtotal),
            member_savings=_money(price.member_savings),
            coupons=[CouponOffer.from_domain(x) for x in price.coupons],
            coupon_discount=_money(price.coupon_discount),
            coupon_options=[CouponOffer.from_domain(x) for x in price.offers],
            total=_money(price.total),
            max_points_redeemable=price.max_points,
            points_to_redeem=price.points,
            points_discount=_money(price.points_discount),
            amount_due=_money(price.amount_due),
        )


@strawberry.type
class CheckoutQuotePayload:
    quote: CheckoutQuote | None = None
    errors: list[OrderUserError] = strawberry.field(
        default_factory=list, description="What placeOrder would refuse, with the same codes."
    )


@strawberry.type
class CheckoutQuoteQueries:
    @strawberry.field(
        description="Price a cart as placeOrder would (same input, same rules), reserving "
        "nothing: list and member prices per line, the coupons asked for and every coupon the "
        "member holds (best first, with why the others do not apply), the most points "
        "redeemable, the total. "
        "Without a sign-in: list prices (a pickup cart, no points).",
    )
    async def checkout_quote(
        self, info: Info[Context, object], input: PlaceOrderInput
    ) -> CheckoutQuotePayload:
        deps, caller = info.context.runtime.ordering, info.context.principal
        return await mutate(
            CheckoutQuotePayload,
            OrderUserError,
            lambda: quote_order(deps, caller, checkout_of(caller, input)),
            lambda price: CheckoutQuotePayload(quote=CheckoutQuote.from_domain(price)),
        )
