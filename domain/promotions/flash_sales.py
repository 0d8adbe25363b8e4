"""Flash sales (秒杀): ADMIN creates, changes and cancels them; the checkout finds the live
sales (`live_flash_sales_in_uow`), prices a covered line at the sale's price in
`pricing.price_cart`, and takes units (`take_flash_units_in_uow`) from the sale's counter and the
member's (conditional updates: never past `units_offered`, never past `per_member_limit`,
however many buy at once); a cancelled or timed-out order gives them back through
`give_back_flash_sales_in_uow`. See `flash_sales_model` for what `units_sold` counts."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.catalog.model import CatalogStatus
from domain.errors import PromotionError, PromotionErrorCode
from domain.events import EventHandlers, MembersMerged
from domain.idempotency import once
from domain.identity.model import Principal
from domain.ids import new_id
from domain.inventory.model import StockLine
from domain.locations.model import LocationStatus
from domain.promotions.deps import FlashSaleDeps
from domain.promotions.flash_sales_model import (
    MAX_LOCATIONS,
    MAX_UNITS,
    FlashSale,
    FlashSalePhase,
    FlashTake,
)
from domain.uow import UnitOfWork


@dataclass(frozen=True)
class FlashSaleTerms:
    """What ADMIN sets: on creation all of it, on a change the whole set again."""

    price: int
    starts_at: datetime
    ends_at: datetime
    units_offered: int
    per_member_limit: int
    location_ids: tuple[UUID, ...] = ()
    online: bool = False


def _invalid(code: PromotionErrorCode, message: str, field: str) -> PromotionError:
    return PromotionError(code, message, [field])


async def _check_terms(
    uow: UnitOfWork, sale: FlashSale, list_price: int, now: datetime, units_sold: int = 0
) -> None:
    if not 0 <= sale.price < list_price:
        raise _invalid(
            PromotionErrorCode.INVALID_PRICE,
            f"The sale price is 0 or more and below the list price ({list_price} fen).",
            "price",
        )
    if sale.ends_at <= sale.starts_at or sale.ends_at <= now:
        raise _invalid(
            PromotionErrorCode.INVALID_WINDOW,
            "The sale ends after it starts and after now.",
            "endsAt",
        )
    if not max(units_sold, 1) <= sale.units_offered <= MAX_UNITS:
        raise _invalid(
            PromotionErrorCode.INVALID_INPUT,
            f"Offer {max(units_sold, 1)} to {MAX_UNITS} units (not fewer than already sold).",
            "unitsOffered",
        )
    if not 1 <= sale.per_member_limit <= sale.units_offered:
        raise _invalid(
            PromotionErrorCode.INVALID_INPUT,
            "The per-member limit is 1 to the units offered.",
            "perMemberLimit",
        )
    if not sale.online and not sale.location_ids:
        raise _invalid(
            PromotionErrorCode.INVALID_INPUT, "Sell online, at stores, or both.", "locationIds"
        )
    if len(sale.location_ids) > MAX_LOCATIONS:
        raise _invalid(
            PromotionErrorCode.TOO_MANY_ITEMS, f"At most {MAX_LOCATIONS} stores.", "locationIds"
        )
    found = await uow.locations.get_many(list(sale.location_ids))
    active = {loc.id for loc in found if loc.status is LocationStatus.ACTIVE}
    if set(sale.location_ids) - active:
        raise _invalid(PromotionErrorCode.NOT_FOUND, "Unknown or closed store.", "locationIds")
    others = await uow.flash_sales.flash_sales_of_variants([sale.variant_id], now)
    if any(other.id != sale.id and sale.overlaps(other) for other in others):
        raise _invalid(
            PromotionErrorCode.FLASH_SALE_OVERLAP,
            "Another flash sale of this variant runs at the same time and place.",
            "startsAt",
        )


async def _list_price(uow: UnitOfWork, variant_id: UUID) -> int:
    variants = await uow.catalog.get_variants([variant_id])
    if not variants or variants[0].status is not CatalogStatus.ACTIVE:
        raise _invalid(PromotionErrorCode.NOT_FOUND, "Unknown or archived variant.", "variantId")
    return variants[0].price.amount


def _clean(terms: FlashSaleTerms) -> FlashSaleTerms:
    return replace(terms, location_ids=tuple(sorted(set(terms.location_ids))))


async def create_flash_sale(
    deps: FlashSaleDeps,
    actor: Principal,
    variant_id: UUID,
    terms: FlashSaleTerms,
    idempotency_key: str | None = None,
) -> FlashSale:
    now = deps.clock.now()
    terms = _clean(terms)
    sale = FlashSale(
        id=new_id(),
        variant_id=variant_id,
        price=terms.price,
        currency="CNY",
        starts_at=terms.starts_at,
        ends_at=terms.ends_at,
        units_offered=terms.units_offered,
        per_member_limit=terms.per_member_limit,
        online=terms.online,
        location_ids=terms.location_ids,
        created_at=now,
        updated_at=now,
    )
    async with deps.uow() as uow:

        async def run() -> dict[str, Any]:
            await _check_terms(uow, sale, await _list_price(uow, variant_id), now)
            await uow.flash_sales.add_flash_sale(sale)
            return {"id": str(sale.id)}

        payload = {"v": str(variant_id), "t": repr(terms)}
        result = await once(
            uow.idempotency,
            f"{actor.label}:createFlashSale",
            idempotency_key,
            payload,
            now,
            run,
            result={"id": str(sale.id)},
        )
        found = await uow.flash_sales.get_flash_sale(UUID(result["id"]))
    assert found is not None
    return found


async def _open_sale(uow: UnitOfWork, sale_id: UUID, now: datetime) -> FlashSale:
    sale = await uow.flash_sales.get_flash_sale(sale_id, lock=True)
    if sale is None:
        raise _invalid(PromotionErrorCode.NOT_FOUND, "Unknown flash sale.", "id")
    if sale.phase(now) in (FlashSalePhase.ENDED, FlashSalePhase.CANCELLED):
        raise _invalid(
            PromotionErrorCode.FLASH_SALE_ENDED,
            f"The flash sale is {sale.phase(now).value.lower()}; create a new one.",
            "id",
        )
    return sale


async def update_flash_sale(
    deps: FlashSaleDeps, actor: Principal, sale_id: UUID, terms: FlashSaleTerms
) -> FlashSale:
    """New terms for a sale not ended: units already sold stay sold (the offer cannot go below
    them); orders placed keep the price they were placed at."""
    now = deps.clock.now()
    terms = _clean(terms)
    async with deps.uow() as uow:
        sale = await _open_sale(uow, sale_id, now)
        changed = replace(
            sale,
            price=terms.price,
            starts_at=terms.starts_at,
            ends_at=terms.ends_at,
            units_offered=terms.units_offered,
            per_member_limit=terms.per_member_limit,
            online=terms.online,
            location_ids=terms.location_ids,
            updated_at=now,
        )
        await _check_terms(
            uow, changed, await _list_price(uow, sale.variant_id), now, sale.units_sold
        )
        await uow.flash_sales.update_flash_sale(changed)
    return changed


async def cancel_flash_sale(
    deps: FlashSaleDeps, actor: Principal, sale_id: UUID, reason: str
) -> FlashSale:
    """The sale stops at once; orders placed during it keep their price."""
    why = reason.strip()
    if not 2 <= len(why) <= 200:
        raise _invalid(
            PromotionErrorCode.INVALID_INPUT, "Give a reason (2-200 characters).", "reason"
        )
    now = deps.clock.now()
    async with deps.uow() as uow:
        sale = await _open_sale(uow, sale_id, now)
        cancelled = replace(sale, cancelled_at=now, cancel_reason=why, updated_at=now)
        await uow.flash_sales.update_flash_sale(cancelled)
    return cancelled


MAX_LISTED = 100


async def list_flash_sales(deps: FlashSaleDeps, active: bool | None, first: int) -> list[FlashSale]:
    if not 1 <= first <= MAX_LISTED:
        raise _invalid(PromotionErrorCode.INVALID_INPUT, f"`first` is 1 to {MAX_LISTED}.", "first")
    async with deps.uow() as uow:
        return await uow.flash_sales.list_flash_sales(deps.clock.now(), active, first)


def live_by_variant(sales: Sequence[FlashSale], now: datetime) -> dict[UUID, FlashSale]:
    """The live sale of each variant that has one (`Variant.flashSale`); of several live at
    different places, the one that ends first."""
    current: dict[UUID, FlashSale] = {}
    for sale in sorted(sales, key=lambda s: s.ends_at, reverse=True):
        if sale.is_live(now):
            current[sale.variant_id] = sale
    return current


# The checkout (domain/ordering/checkout.py) and the order's cancellation call these.


async def live_flash_sales_in_uow(
    uow: UnitOfWork,
    variant_ids: Sequence[UUID],
    *,
    pickup_location_id: UUID | None,
    now: datetime,
    locked: Collection[UUID] = (),
) -> dict[UUID, FlashSale]:
    """The sale running now for each variant at this place (a pickup store, or delivery),
    by variant: its price is the line's price (`pricing.price_cart`). `locked`: variants whose
    price the caller fixed (renewals), left alone. One read, no writes: the quote asks too."""
    wanted = [v for v in variant_ids if v not in locked]
    if not wanted:
        return {}
    return {
        s.variant_id: s
        for s in await uow.flash_sales.flash_sales_of_variants(wanted, now)
        if s.is_live(now) and s.covers(pickup_location_id)
    }


async def take_flash_units_in_uow(
    uow: UnitOfWork,
    sales: Mapping[UUID, FlashSale],
    lines: Sequence[StockLine],
    *,
    order_id: UUID,
    member_id: UUID | None,
    requested: Sequence[UUID] = (),
    counters_last: bool = False,
) -> list[tuple[UUID, int]]:
    """Take the order's units from each live sale and from the member (in the caller's
    transaction: a failed checkout gives them back by rolling back). `requested`: the variants
    in the order the request gave them (for the errors' field). `counters_last`: leave the
    sales' counters to the caller, who takes the returned (sale, units) at the end of its
    transaction with its other hot rows (domain/ordering/hot_take.py), and raises
    `flash_sold_out` when one is refused.

    Refusals: FLASH_SALE_MEMBERS_ONLY (no member: the limit is per member), FLASH_SALE_SOLD_OUT,
    FLASH_SALE_LIMIT_REACHED. The sale's counter is the hot row of a flash sale: a sale seen
    sold out is refused without waiting for its lock, and the member's row and the order's
    take are written first, so a buyer past their limit never queues on it and the lock is
    held for as little of the transaction as this step can manage (the checkout's stock
    update comes right after it)."""
    if not sales:
        return []
    position = {variant_id: n for n, variant_id in enumerate(requested)}
    # The counters in sale-id order, as a cancellation gives them back (docs: "Lock order").
    covered = sorted(
        ((sales[line.variant_id], line) for line in lines if line.variant_id in sales),
        key=lambda pair: pair[0].id,
    )
    for sale, line in covered:
        field = ["lines", str(position.get(line.variant_id, 0)), "quantity"]
        if member_id is None:
            raise PromotionError(
                PromotionErrorCode.FLASH_SALE_MEMBERS_ONLY,
                "This item is in a flash sale for members: sign in, or show the member code.",
                ["memberId"],
            )
        if sale.units_left < line.quantity:
            raise _sold_out(sale, field)
        if line.quantity > sale.per_member_limit or not await uow.flash_sales.take_member_units(
            sale.id, member_id, line.quantity, sale.per_member_limit
        ):
            raise PromotionError(
                PromotionErrorCode.FLASH_SALE_LIMIT_REACHED,
                f"A member buys at most {sale.per_member_limit} in this flash sale.",
                field,
            )
        await uow.flash_sales.record_take(order_id, FlashTake(sale.id, member_id, line.quantity))
        if counters_last:
            continue
        if not await uow.flash_sales.take_units(sale.id, line.quantity):  # the hot row: last
            raise _sold_out(sale, field)
    return [(sale.id, line.quantity) for sale, line in covered] if counters_last else []


async def take_sale_units_in_uow(uow: UnitOfWork, sale_id: UUID, units: int) -> bool:
    """The sale's counter, taken by a caller that left it last (`counters_last`): one
    conditional update; False when the sale has fewer units left."""
    return await uow.flash_sales.take_units(sale_id, units)


def flash_sold_out(
    sales: Mapping[UUID, FlashSale], sale_id: UUID, requested: Sequence[UUID]
) -> PromotionError:
    """The refusal of a sale whose counter `take_flash_units_in_uow(counters_last=True)` left
    to the caller, and which was sold out when the caller took it."""
    sale = next(s for s in sales.values() if s.id == sale_id)
    position = {variant_id: n for n, variant_id in enumerate(requested)}
    return _sold_out(sale, ["lines", str(position.get(sale.variant_id, 0)), "quantity"])


def _sold_out(sale: FlashSale, field: list[str]) -> PromotionError:
    return PromotionError(
        PromotionErrorCode.FLASH_SALE_SOLD_OUT,
        f"The flash sale's {sale.units_offered} units are taken.",
        field,
    )


def register_handlers(events: EventHandlers) -> None:
    async def on_merged(uow: UnitOfWork, event: MembersMerged) -> None:
        """One person, one limit: the absorbed member's units count for the survivor."""
        await uow.flash_sales.move_member(event.source_member_id, event.target_member_id)

    events.register(MembersMerged, on_merged)


async def give_back_flash_sales_in_uow(uow: UnitOfWork, order_id: UUID) -> None:
    """A cancelled or timed-out order's units go back to the sale and its member (once)."""
    for take in await uow.flash_sales.pop_takes(order_id):
        await uow.flash_sales.give_back(take)
