"""Coupons at checkout: what each of the member's coupons takes off a cart, and the coupons
an order holds (in the order's transaction), spends when it is paid and gives back when it is
cancelled, times out or is fully refunded.

A hold is one conditional update per coupon (AVAILABLE and valid now → HELD by the order), in
coupon id order like every row lock, so of two orders holding one coupon one wins and the
other gets COUPON_UNAVAILABLE; the coupon names its order (`order_id`) until it is given back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from domain.errors import PromotionError, PromotionErrorCode
from domain.promotions.coupons_model import (
    Coupon,
    CouponCart,
    CouponHold,
    CouponOption,
    CouponStatus,
    CouponTemplate,
    apply_in_order,
    best_first,
    evaluate,
)
from domain.promotions.deps import CouponDeps
from domain.uow import UnitOfWork

MAX_COUPONS_PER_ORDER = 5


async def usable_coupons_in_uow(
    deps: CouponDeps, uow: UnitOfWork, member_id: UUID, cart: CouponCart
) -> list[CouponOption]:
    """Every coupon the member holds, each with what it takes off this cart, best first;
    those that do not apply come last, with the reason."""
    now = deps.clock.now()
    held = await uow.coupons.available_of(member_id, now)
    return best_first([evaluate(c, t, cart, now) for c, t in held])


async def usable_coupons(deps: CouponDeps, member_id: UUID, cart: CouponCart) -> list[CouponOption]:
    async with deps.uow() as uow:
        return await usable_coupons_in_uow(deps, uow, member_id, cart)


def _unavailable(index: int, message: str) -> PromotionError:
    return PromotionError(PromotionErrorCode.COUPON_UNAVAILABLE, message, ["couponIds", str(index)])


async def coupons_for_order_in_uow(
    uow: UnitOfWork, member_id: UUID | None, coupon_ids: Sequence[UUID]
) -> list[tuple[Coupon, CouponTemplate]]:
    """The coupons an order asks for, each with its template, in the order given: each must
    be the member's, none twice, and more than one must all stack with other coupons. (One
    read; whether each applies to the cart is `apply_coupons`.)"""
    if not coupon_ids:
        return []
    if member_id is None:
        raise PromotionError(
            PromotionErrorCode.COUPON_UNAVAILABLE,
            "Coupons are for members: sign in, or show the member code at the till.",
            ["couponIds"],
        )
    if len(coupon_ids) > MAX_COUPONS_PER_ORDER:
        raise PromotionError(
            PromotionErrorCode.TOO_MANY_ITEMS,
            f"At most {MAX_COUPONS_PER_ORDER} coupons per order.",
            ["couponIds"],
        )
    if len(set(coupon_ids)) != len(coupon_ids):
        raise PromotionError(
            PromotionErrorCode.INVALID_INPUT, "A coupon is used once.", ["couponIds"]
        )
    found = {c.id: (c, t) for c, t in await uow.coupons.with_templates(coupon_ids)}
    pairs: list[tuple[Coupon, CouponTemplate]] = []
    for index, coupon_id in enumerate(coupon_ids):
        pair = found.get(coupon_id)
        if pair is None or pair[0].member_id != member_id:
            raise _unavailable(index, "No such coupon of yours.")
        pairs.append(pair)
    if len(pairs) > 1 and not all(t.stackable_with_coupons for _, t in pairs):
        raise PromotionError(
            PromotionErrorCode.COUPON_UNAVAILABLE,
            "These coupons do not combine: use one.",
            ["couponIds"],
        )
    return pairs


def apply_coupons(
    pairs: Sequence[tuple[Coupon, CouponTemplate]], cart: CouponCart, now: datetime
) -> list[CouponOption]:
    """The coupons on the cart one after another (`apply_in_order`); every one must take
    something off, or the order is refused naming the coupon and why."""
    options = apply_in_order(pairs, cart, now)
    for index, option in enumerate(options):
        if option.reason is not None:
            raise _unavailable(index, option.reason)
        if option.discount <= 0:
            raise _unavailable(index, "This coupon takes nothing off this cart.")
    return options


def holds_of(
    options: Sequence[CouponOption], member_id: UUID, order_id: UUID, now: datetime
) -> list[CouponHold]:
    """The holds of the applied coupons, in coupon id order like every row lock."""
    return sorted(
        (CouponHold(o.coupon.id, member_id, order_id, o.discount, now) for o in options),
        key=lambda hold: str(hold.coupon_id),
    )


async def hold_coupon_in_uow(uow: UnitOfWork, hold: CouponHold) -> bool:
    """One hold, inside the order's transaction; False when the coupon is no longer
    AVAILABLE (another order holds it now) or no longer valid."""
    return await uow.coupons.hold(
        hold.coupon_id, hold.member_id, hold.order_id, hold.discount, hold.at
    )


def coupon_taken(options: Sequence[CouponOption], coupon_id: UUID) -> PromotionError:
    """The error of an order whose coupon another order took first, naming its position."""
    index = next(n for n, option in enumerate(options) if option.coupon.id == coupon_id)
    return _unavailable(index, "This coupon was just used by another order.")


def mark_held(options: Sequence[CouponOption], order_id: UUID) -> None:
    """The coupons as their rows now are, once every hold was made."""
    for option in options:
        coupon = option.coupon
        coupon.status, coupon.order_id, coupon.discount = (
            CouponStatus.HELD,
            order_id,
            option.discount,
        )


async def hold_options_in_uow(
    uow: UnitOfWork,
    options: Sequence[CouponOption],
    member_id: UUID,
    order_id: UUID,
    now: datetime,
) -> None:
    """Hold the applied coupons for the order, inside its transaction: each AVAILABLE → HELD
    in one conditional update, in coupon id order like every row lock, so of two orders with
    one coupon one wins and the other gets COUPON_UNAVAILABLE. (A pickup checkout holds them
    in its last statement instead: domain/ordering/hot_take.py.)"""
    for hold in holds_of(options, member_id, order_id, now):
        if not await hold_coupon_in_uow(uow, hold):
            raise coupon_taken(options, hold.coupon_id)
    mark_held(options, order_id)


async def hold_in_uow(
    deps: CouponDeps,
    uow: UnitOfWork,
    member_id: UUID,
    coupon_ids: Sequence[UUID],
    order_id: UUID,
    cart: CouponCart,
) -> list[CouponOption]:
    """Hold the member's coupons for an order, in the order given (each applies to what the
    ones before it left), inside the order's transaction. Every coupon must apply; more than
    one must all stack."""
    now = deps.clock.now()
    options = apply_coupons(await coupons_for_order_in_uow(uow, member_id, coupon_ids), cart, now)
    await hold_options_in_uow(uow, options, member_id, order_id, now)
    return options


async def spend_in_uow(uow: UnitOfWork, order_id: UUID, now: datetime) -> int:
    """The order was paid: its held coupons are used."""
    return await uow.coupons.spend(order_id, now)


async def give_back_in_uow(uow: UnitOfWork, order_id: UUID, now: datetime) -> int:
    """The order was cancelled, timed out, or fully refunded: its coupons return to the
    member while still valid (an expired one stays EXPIRED)."""
    return await uow.coupons.give_back(order_id, now)
