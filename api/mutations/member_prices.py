"""Member prices (会员价): ADMIN sets and removes what a loyalty tier pays for a variant."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.context import Context
from api.errors import PromotionUserError
from api.mutations import actor, mutate
from api.permissions import IsAdmin
from api.relay import decode_id, encode_id
from api.types.catalog import TierPrice, money_of
from domain.promotions.member_prices import remove_member_price, set_member_price
from domain.promotions.member_prices_model import MemberPrice


@strawberry.input
class SetMemberPriceInput:
    variant_id: strawberry.ID
    tier: str = strawberry.field(description="A loyalty tier: MEMBER, SILVER, GOLD, DIAMOND.")
    price: int = strawberry.field(
        description="Fen per unit; charged only when below the list price."
    )


@strawberry.input
class RemoveMemberPriceInput:
    variant_id: strawberry.ID
    tier: str


@strawberry.type
class MemberPricePayload:
    variant_id: strawberry.ID | None = None
    member_price: TierPrice | None = None
    errors: list[PromotionUserError] = strawberry.field(default_factory=list)


def _present(price: MemberPrice) -> MemberPricePayload:
    return MemberPricePayload(
        variant_id=encode_id("Variant", price.variant_id),
        member_price=TierPrice(tier=price.tier, price=money_of(price.price, "CNY")),
    )


@strawberry.type
class RemoveMemberPricePayload:
    ok: bool = False
    errors: list[PromotionUserError] = strawberry.field(default_factory=list)


@strawberry.type
class MemberPriceMutations:
    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Set (or replace) the member price of a variant for a loyalty tier.",
    )
    async def set_member_price(
        self, info: Info[Context, object], input: SetMemberPriceInput
    ) -> MemberPricePayload:
        deps, caller = info.context.runtime.member_prices, actor(info)
        return await mutate(
            MemberPricePayload,
            PromotionUserError,
            lambda: set_member_price(
                deps,
                caller,
                decode_id(input.variant_id, "Variant", "variantId"),
                input.tier,
                input.price,
            ),
            _present,
        )

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Remove a tier's member price: that tier pays the list price again.",
    )
    async def remove_member_price(
        self, info: Info[Context, object], input: RemoveMemberPriceInput
    ) -> RemoveMemberPricePayload:
        deps = info.context.runtime.member_prices
        return await mutate(
            RemoveMemberPricePayload,
            PromotionUserError,
            lambda: remove_member_price(
                deps, decode_id(input.variant_id, "Variant", "variantId"), input.tier
            ),
            lambda _: RemoveMemberPricePayload(ok=True),
        )
