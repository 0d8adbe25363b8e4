"""Member prices (会员价): ADMIN sets what members of a loyalty tier pay for a variant. The
price a cart is charged comes from `domain.promotions.pricing.price_cart`, nowhere else."""

from __future__ import annotations

from uuid import UUID

from domain.errors import PromotionError, PromotionErrorCode
from domain.identity.model import Principal
from domain.loyalty.model import MAX_POINTS
from domain.promotions.deps import MemberPriceDeps
from domain.promotions.member_prices_model import MemberPrice

MAX_PRICE = MAX_POINTS * 100  # fen: far above any shelf price, far below a BIGINT


def _check_tier(deps: MemberPriceDeps, tier: str) -> str:
    names = [t.name for t in deps.policy.tiers]
    if tier not in names:
        raise PromotionError(
            PromotionErrorCode.UNKNOWN_TIER, f"Tiers are {', '.join(names)}.", ["tier"]
        )
    return tier


async def set_member_price(
    deps: MemberPriceDeps, actor: Principal, variant_id: UUID, tier: str, price: int
) -> MemberPrice:
    """Set (or replace) the tier's price of the variant. A price at or above the list price
    is kept but never charged: a cart pays the lower of the two."""
    _check_tier(deps, tier)
    if not 0 <= price <= MAX_PRICE:
        raise PromotionError(
            PromotionErrorCode.INVALID_PRICE,
            f"A member price is 0 to {MAX_PRICE} fen.",
            ["price"],
        )
    async with deps.uow() as uow:
        if not await uow.catalog.get_variants([variant_id]):
            raise PromotionError(PromotionErrorCode.NOT_FOUND, "Unknown variant.", ["variantId"])
        member_price = MemberPrice(variant_id, tier, price, deps.clock.now(), actor.label)
        await uow.member_prices.put(member_price)
    return member_price


async def remove_member_price(deps: MemberPriceDeps, variant_id: UUID, tier: str) -> None:
    _check_tier(deps, tier)
    async with deps.uow() as uow:
        if not await uow.member_prices.remove(variant_id, tier):
            raise PromotionError(
                PromotionErrorCode.NOT_FOUND, "That variant has no price for that tier.", []
            )


async def member_prices_of(deps: MemberPriceDeps, variant_ids: list[UUID]) -> list[MemberPrice]:
    async with deps.uow() as uow:
        return await uow.member_prices.of_variants(variant_ids)
