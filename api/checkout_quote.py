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
from domain.ordering.checkout import quote_order
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
    total: Money

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
        )


@strawberry.type(description="What an order of this cart would cost now (stock not judged).")
class CheckoutQuote:
    lines: list[QuoteLine]
    tier: str | None = strawberry.field(description="The tier whose prices applied; null: none.")
    subtotal: Money = strawberry.field(description="At list prices.")
    member_savings: Money
    total: Money = strawberry.field(description="After member prices, before points.")
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
        "nothing: list and member prices per line, the most points redeemable, the total. "
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
