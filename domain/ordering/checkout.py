"""Checkout: price the lines (promotions' `price_cart`, the same as the checkout quote),
choose the fulfilling location, reserve the stock with a payment timeout, all in one
transaction (and once per idempotency key)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from domain.aftersales.member_codes import (
    MemberCode,
    check_presenter,
    decode_member_code,
    use_member_code_in_uow,
)
from domain.errors import OrderError, OrderErrorCode, PointsError, PromotionError
from domain.events import OrderPlaced
from domain.idempotency import once
from domain.identity.model import Principal, PrincipalKind
from domain.ids import new_id
from domain.inventory.model import InsufficientStock, StockLine, clean_lines
from domain.inventory.reservations import (
    record_reservations_in_uow,
    reserve_in_uow,
    shortage_in_uow,
)
from domain.locations.model import GeoPoint, Location, LocationStatus, local_date
from domain.loyalty.ledger import hold
from domain.members.model import MemberStatus
from domain.ordering.deps import OrderingDeps
from domain.ordering.hot_take import take_hot_rows_in_uow
from domain.ordering.model import (
    MAX_LINE_QUANTITY,
    MAX_LINES,
    Fulfilment,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    PickupAlternative,
    SalesChannel,
    pickup_number,
    reservation_owner,
)
from domain.ordering.ports import HotTake
from domain.promotions.coupons_checkout import (
    coupon_taken,
    hold_options_in_uow,
    holds_of,
    mark_held,
)
from domain.promotions.flash_sales import (
    flash_sold_out,
    live_flash_sales_in_uow,
    take_flash_units_in_uow,
)
from domain.promotions.flash_sales_model import FlashSale
from domain.promotions.pricing import CartPrice, Where, price_cart_in_uow
from domain.uow import UnitOfWork


@dataclass(frozen=True)
class DeliveryTo:
    address: str
    latitude: float
    longitude: float


@dataclass(frozen=True)
class Checkout:
    channel: SalesChannel
    lines: Sequence[StockLine]
    member_id: UUID | None
    pickup_location_id: UUID | None = None
    delivery: DeliveryTo | None = None
    note: str = ""
    points_to_redeem: int = 0
    member_code: str | None = None  # shown by the member at the till: their consent to spend
    coupon_ids: Sequence[UUID] = ()  # the member's coupons, applied in this order
    # Set by the system only (renewals): prices locked at sign-up, a longer time to pay.
    unit_prices: Mapping[UUID, int] | None = None
    pay_within: timedelta | None = None
    # Set by the system only (group-buys): runs in the checkout's transaction once the order
    # is added; what it raises refuses the order (a full group's seat), and a replay of the
    # idempotency key does not run it again.
    on_placed: Callable[[UnitOfWork, Order], Awaitable[None]] | None = None


class PickupShortage(OrderError):
    """The store cannot cover the order; these nearby pickup locations can."""

    def __init__(self, error: InsufficientStock, alternatives: list[PickupAlternative]):
        super().__init__(OrderErrorCode.INSUFFICIENT_STOCK, error.message, ["lines"])
        self.shortages = error.shortages
        self.alternatives = alternatives


def _validate(checkout: Checkout) -> list[StockLine]:
    if (checkout.pickup_location_id is None) == (checkout.delivery is None):
        raise OrderError(
            OrderErrorCode.INVALID_INPUT,
            "Choose exactly one fulfilment: `pickup` or `delivery`.",
            ["fulfilment"],
        )
    if len(checkout.lines) > MAX_LINES:
        raise OrderError(
            OrderErrorCode.TOO_MANY_ITEMS, f"At most {MAX_LINES} lines per order.", ["lines"]
        )
    for index, line in enumerate(checkout.lines):
        if not 1 <= line.quantity <= MAX_LINE_QUANTITY:
            raise OrderError(
                OrderErrorCode.INVALID_INPUT,
                f"Quantities are 1 to {MAX_LINE_QUANTITY}.",
                ["lines", str(index), "quantity"],
            )
    if len(checkout.note) > 500:
        raise OrderError(
            OrderErrorCode.INVALID_INPUT, "`note` is at most 500 characters.", ["note"]
        )
    if checkout.delivery is not None:
        address = checkout.delivery.address.strip()
        if not 5 <= len(address) <= 300:
            raise OrderError(
                OrderErrorCode.INVALID_INPUT,
                "Give a delivery address (5-300 characters).",
                ["fulfilment", "delivery", "address"],
            )
        if checkout.member_id is None:
            raise OrderError(
                OrderErrorCode.INVALID_INPUT, "Delivery orders need a member.", ["memberId"]
            )
    try:
        return clean_lines(checkout.lines)
    except Exception as error:  # an InventoryError: report it in the order's terms
        raise OrderError(
            OrderErrorCode.INVALID_INPUT, str(error), getattr(error, "field", None) or ["lines"]
        ) from None


def _order_lines(price: CartPrice) -> list[OrderLine]:
    return [
        OrderLine(
            new_id(),
            x.variant_id,
            x.product_id,
            x.sku,
            x.name,
            x.unit_price,
            x.quantity,
            list_price=x.list_price,
            coupon_discount=x.coupon_discount,
        )
        for x in price.lines
    ]


async def _alternatives(
    deps: OrderingDeps, uow: UnitOfWork, lines: list[StockLine], near: Location
) -> list[PickupAlternative]:
    """Pickup locations that could cover the whole order, nearest first."""
    candidates = {
        loc.id: loc
        for loc in await uow.locations.search(
            types=None, pickup_enabled=True, statuses=[LocationStatus.ACTIVE]
        )
        if loc.id != near.id
    }
    levels = await uow.inventory.levels([x.variant_id for x in lines], list(candidates))
    available = {(lv.location_id, lv.variant_id): lv.available for lv in levels}
    covering = [
        PickupAlternative(loc.id, near.point.distance_to(loc.point))
        for loc in candidates.values()
        if all(available.get((loc.id, x.variant_id), 0) >= x.quantity for x in lines)
    ]
    covering.sort(key=lambda a: a.distance_m)
    return covering[: deps.policy.alternatives]


async def _reserve_pickup(
    deps: OrderingDeps,
    uow: UnitOfWork,
    order_id: UUID,
    lines: list[StockLine],
    location_id: UUID,
    ttl: timedelta,
) -> Location:
    location = await uow.locations.get(location_id)
    if (
        location is None
        or location.status is not LocationStatus.ACTIVE
        or not location.pickup_enabled
    ):
        raise OrderError(
            OrderErrorCode.LOCATION_UNAVAILABLE,
            "That location does not offer pickup.",
            ["fulfilment", "pickup", "locationId"],
        )
    # The shelf's units are taken last, with the other hot rows (`_take_hot_rows`).
    await record_reservations_in_uow(
        deps.inventory, uow, lines, location.id, reservation_owner(order_id), ttl
    )
    return location


async def _reserve_delivery(
    deps: OrderingDeps,
    uow: UnitOfWork,
    order_id: UUID,
    lines: list[StockLine],
    to: DeliveryTo,
    ttl: timedelta,
) -> Location:
    """The nearest location that ships online and can cover every line (stores included)."""
    point = GeoPoint.of(to.latitude, to.longitude)
    shipping = [
        loc
        for loc in await uow.locations.search(
            types=None, pickup_enabled=None, statuses=[LocationStatus.ACTIVE]
        )
        if loc.ships_online
    ]
    levels = await uow.inventory.levels([x.variant_id for x in lines], [x.id for x in shipping])
    available = {(lv.location_id, lv.variant_id): lv.available for lv in levels}
    for location in sorted(shipping, key=lambda loc: point.distance_to(loc.point)):
        if not all(available.get((location.id, x.variant_id), 0) >= x.quantity for x in lines):
            continue
        try:
            await reserve_in_uow(
                deps.inventory,
                uow,
                lines,
                location.id,
                reservation_owner(order_id),
                ttl,
            )
            return location
        except InsufficientStock:
            continue  # a concurrent buyer got there first; reserve_in_uow undid its lines
    raise OrderError(
        OrderErrorCode.NO_FULFILMENT_LOCATION,
        "No location that delivers can cover the whole order right now.",
        ["lines"],
    )


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # base32 without I, L, O, U


def _base32(value: int, length: int) -> str:
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(length)))


def order_number(order_id: UUID) -> str:
    """16 characters, unique in practice (the column is unique): the id's creation time to
    the millisecond, then 40 of its random bits. Two orders share a number only when made in
    the same millisecond with equal random bits (about 1 in 10^12). (A 4.7-hour prefix with 4
    random digits collided within a few hundred orders.)"""
    value = order_id.int
    return _base32((value >> 80) & (2**40 - 1), 8) + _base32(value & (2**40 - 1), 8)


async def place_order(
    deps: OrderingDeps, actor: Principal, checkout: Checkout, idempotency_key: str | None
) -> Order:
    code = _member_code(deps, actor, checkout)
    if code is not None:  # the code names the member when the till does not
        checkout = replace(checkout, member_id=checkout.member_id or code.member_id)
    lines = _validate(checkout)
    _authorise(actor, checkout, code)
    now = deps.clock.now()
    placed: list[Order] = []  # the order this call made (a replay reads the first one's)
    order_id = new_id()
    # One store's hot SKU: wait here, not on its rows (domain/ordering/hot_rows.py).
    async with deps.hot_rows.hold(_hot_keys(checkout, lines)), deps.uow() as uow:

        async def run() -> dict[str, Any]:
            member_id = checkout.member_id
            if code is not None:  # used up with the order; a failed checkout rolls it back
                member = await use_member_code_in_uow(
                    deps.member_codes, uow, actor, code, checkout.member_id
                )
                member_id = member.id
            elif member_id is not None and not actor.is_member:
                await _check_member(uow, member_id)
            # Promotions: a line in a live flash sale sells at its price (units taken below).
            sales = await live_flash_sales_in_uow(
                uow,
                [x.variant_id for x in lines],
                pickup_location_id=checkout.pickup_location_id,
                now=now,
                locked=checkout.unit_prices or (),
            )
            price = await price_cart_in_uow(
                uow,
                deps.loyalty.policy,
                lines,
                checkout.lines,
                member_id,
                points=checkout.points_to_redeem,
                locked=checkout.unit_prices,
                flash_prices={v: sale.price for v, sale in sales.items()},
                coupon_ids=checkout.coupon_ids,
                where=Where(checkout.channel.value, checkout.pickup_location_id, now),
            )
            counters = await take_flash_units_in_uow(
                uow,
                sales,
                lines,
                order_id=order_id,
                member_id=member_id,
                requested=[x.variant_id for x in checkout.lines],
                counters_last=checkout.delivery is None,  # a pickup takes them at the end
            )
            ttl = checkout.pay_within or deps.policy.payment_timeout
            holds = (
                holds_of(price.coupons, member_id, order_id, now) if member_id is not None else []
            )
            if checkout.delivery is not None and member_id is not None:  # held for the order,
                await _hold_coupons(uow, price, member_id, order_id, now)  # a pickup's at the end
                location = await _reserve_delivery(
                    deps, uow, order_id, lines, checkout.delivery, ttl
                )
            else:
                assert checkout.pickup_location_id is not None
                location = await _reserve_pickup(
                    deps, uow, order_id, lines, checkout.pickup_location_id, ttl
                )
            order = Order(
                id=order_id,
                number=order_number(order_id),
                member_id=member_id,
                channel=checkout.channel,
                fulfilment=Fulfilment.DELIVERY if checkout.delivery else Fulfilment.PICKUP,
                location_id=location.id,
                status=OrderStatus.PENDING_PAYMENT,
                currency="CNY",
                total=price.total,
                note=checkout.note.strip(),
                created_at=now,
                updated_at=now,
                payment_deadline=now + ttl,
                lines=_order_lines(price),
            )
            if price.points:  # held below, after the stock (docs/architecture.md, "Lock order")
                order.points_redeemed, order.points_discount = price.points, price.points_discount
            if checkout.delivery is not None:
                order.delivery_address = await _seal(uow, deps, checkout)
                order.delivery_latitude = checkout.delivery.latitude
                order.delivery_longitude = checkout.delivery.longitude
            else:
                order.pickup_day = local_date(order.created_at, location)
            await uow.orders.add(
                order,
                [OrderEvent(new_id(), order.id, None, order.status, actor.label, "placed", now)],
            )
            if member_id is not None:  # growth attributes it to the member's shopping guide
                # (an insert nobody else locks: before the hot rows, not while holding them)
                await deps.events.dispatch(uow, OrderPlaced(order.id, member_id, now))
            if checkout.delivery is None:
                hot = HotTake(
                    location.id, counters, holds, [(x.variant_id, x.quantity) for x in lines]
                )
                await _take_hot_rows(deps, uow, order, location, lines, hot, sales, price, checkout)
            if price.points:
                await _redeem(deps, uow, order, price)
            if checkout.on_placed is not None:  # a group-buy's seat: after the stock, as a
                await checkout.on_placed(uow, order)  # cancel frees the stock, then the seat
            placed.append(order)
            return {"order_id": str(order.id)}

        payload = {
            "pts": checkout.points_to_redeem,
            "mc": code.nonce if code else None,
            "c": checkout.channel.value,
            "m": str(checkout.member_id),
            "p": str(checkout.pickup_location_id),
            "d": str(checkout.delivery),
            "l": [[str(x.variant_id), x.quantity] for x in lines],
            "n": checkout.note,
            "cp": [str(x) for x in checkout.coupon_ids],
        }
        result = await once(
            uow.idempotency,
            f"{actor.label}:placeOrder",
            idempotency_key,
            payload,
            now,
            run,
            result={"order_id": str(order_id)},
        )
        order = placed[0] if placed else await uow.orders.get(UUID(result["order_id"]))
    assert order is not None
    return order


def _hot_keys(checkout: Checkout, lines: list[StockLine]) -> list[tuple[UUID, UUID]]:
    """The (store, SKU) rows a pickup checkout will lock; a delivery's location is chosen
    inside the transaction, so it passes ungated."""
    store = checkout.pickup_location_id
    return [] if store is None else [(store, line.variant_id) for line in lines]


async def quote_order(deps: OrderingDeps, actor: Principal | None, checkout: Checkout) -> CartPrice:
    """The checkout quote: what `place_order` would charge for the same input, checked the
    same way, without reserving stock, holding points or using the member code (no writes).
    Only the stock is not judged: it may change before the order is placed. An anonymous
    shopper (`actor` None) is quoted list prices, as a walk-in."""
    code = _member_code(deps, actor, checkout) if actor is not None else None
    if code is not None:
        checkout = replace(checkout, member_id=checkout.member_id or code.member_id)
    lines = _validate(checkout)
    if actor is not None:
        _authorise(actor, checkout, code)
    elif checkout.member_id is not None or checkout.points_to_redeem or checkout.coupon_ids:
        field = "memberId" if checkout.member_id is not None else "pointsToRedeem"
        raise OrderError(
            OrderErrorCode.FORBIDDEN,
            "Sign in for a member's prices, coupons and points.",
            ["couponIds" if checkout.coupon_ids and checkout.member_id is None else field],
        )
    now = deps.clock.now()
    async with (deps.reads or deps.uow)() as uow:
        if checkout.member_id is not None and actor is not None and not actor.is_member:
            await _check_member(uow, checkout.member_id)
        # A member sees a live flash sale's price (the units are taken when the order is
        # placed); a walk-in, who may not buy in a sale, sees the list price.
        sales = (
            await live_flash_sales_in_uow(
                uow,
                [x.variant_id for x in lines],
                pickup_location_id=checkout.pickup_location_id,
                now=now,
            )
            if checkout.member_id is not None
            else {}
        )
        return await price_cart_in_uow(
            uow,
            deps.loyalty.policy,
            lines,
            checkout.lines,
            checkout.member_id,
            points=checkout.points_to_redeem,
            flash_prices={v: sale.price for v, sale in sales.items()},
            coupon_ids=checkout.coupon_ids,
            where=Where(checkout.channel.value, checkout.pickup_location_id, now),
            with_offers=True,
        )


async def _hold_coupons(
    uow: UnitOfWork, price: CartPrice, member_id: UUID, order_id: UUID, now: datetime
) -> None:
    try:
        await hold_options_in_uow(uow, price.coupons, member_id, order_id, now)
    except PromotionError as error:  # another order holds it now: the order's error
        raise OrderError(OrderErrorCode(error.code.value), error.message, error.field) from None


def _coupon_taken(price: CartPrice, coupon_id: UUID) -> OrderError:
    """Another order holds the coupon now: the order's error, naming its position."""
    error = coupon_taken(price.coupons, coupon_id)
    return OrderError(OrderErrorCode(error.code.value), error.message, error.field)


def _member_code(deps: OrderingDeps, actor: Principal, checkout: Checkout) -> MemberCode | None:
    """The member code the till scanned, its signature checked before anything is locked (its
    expiry when it is used: a retry with the same idempotency key answers the first order)."""
    if checkout.member_code is None:
        return None
    check_presenter(actor)
    return decode_member_code(deps.member_codes, checkout.member_code)


async def _take_hot_rows(
    deps: OrderingDeps,
    uow: UnitOfWork,
    order: Order,
    location: Location,
    lines: list[StockLine],
    hot: HotTake,
    sales: Mapping[UUID, FlashSale],
    price: CartPrice,
    checkout: Checkout,
) -> None:
    """The rows every pickup of the SKU at the store updates, last and together
    (domain/ordering/hot_take.py): the flash sales' counters, the order's coupons, the shelf's
    reserved units and the store's pickup counter. The pickup number (A023) is given when the
    order is placed, as tea and coffee shops do: the customer has it on the confirmation at
    once, and a till order prints it on the ticket. An order that is never paid leaves a gap
    in the day's numbers, which nobody minds."""
    assert order.pickup_day is not None
    taken = await take_hot_rows_in_uow(uow, replace(hot, pickup=(order.id, order.pickup_day)))
    if taken.sold_out is not None:
        raise flash_sold_out(sales, taken.sold_out, [x.variant_id for x in checkout.lines])
    if taken.unheld is not None:
        raise _coupon_taken(price, taken.unheld)
    if taken.short:
        short = [x for x in lines if x.variant_id in taken.short]
        error = await shortage_in_uow(uow, short, location.id)
        raise PickupShortage(error, await _alternatives(deps, uow, lines, location))
    assert taken.pickup_sequence is not None
    order.pickup_number = pickup_number(taken.pickup_sequence)  # as written to its row
    mark_held(price.coupons, order.id)


def _authorise(actor: Principal, checkout: Checkout, code: MemberCode | None) -> None:
    """Members order for themselves; staff and in-store devices order for a walk-in or a
    looked-up member, for pickup only at a store they act on (a clerk or kiosk of one store
    cannot reserve another store's shelf). Only the member spends their points."""
    if actor.is_member:
        if checkout.member_id != actor.id:
            raise OrderError(
                OrderErrorCode.INVALID_INPUT, "Members order for themselves.", ["memberId"]
            )
    elif actor.kind not in (PrincipalKind.STAFF, PrincipalKind.DEVICE):
        raise OrderError(OrderErrorCode.FORBIDDEN, "Members, POS and staff place orders.")
    else:
        store = checkout.pickup_location_id
        if store is not None and not actor.can_act_on_store(store):
            raise OrderError(
                OrderErrorCode.FORBIDDEN,
                "You place pickup orders only at your own stores.",
                ["fulfilment", "pickup", "locationId"],
            )
    consented = code is not None or (actor.is_member and actor.id == checkout.member_id)
    if checkout.points_to_redeem and not consented:
        raise OrderError(
            OrderErrorCode.FORBIDDEN,
            "Only the member spends their points: redeem them from the member's own sign-in, "
            "or at the till with the member code they show.",
            ["pointsToRedeem"],
        )
    if checkout.coupon_ids and not consented:
        raise OrderError(
            OrderErrorCode.FORBIDDEN,
            "Only the member spends their coupons: use them from the member's own sign-in, "
            "or at the till with the member code they show.",
            ["couponIds"],
        )


async def _check_member(uow: UnitOfWork, member_id: UUID) -> None:
    """Staff and POS give the member's id: it must be a member who is still there."""
    member = await uow.members.get(member_id)
    if member is None or member.status is not MemberStatus.ACTIVE:
        raise OrderError(
            OrderErrorCode.NOT_FOUND, "Unknown member; look the member up again.", ["memberId"]
        )


async def _seal(uow: UnitOfWork, deps: OrderingDeps, checkout: Checkout) -> str:
    """Delivery addresses are personal data: encrypted under the member's own key."""
    assert checkout.member_id is not None and checkout.delivery is not None
    member = await uow.members.get(checkout.member_id)
    if member is None or member.data_key is None:
        raise OrderError(OrderErrorCode.NOT_FOUND, "Unknown member.", ["memberId"])
    return deps.vault.encrypt(member.data_key, checkout.delivery.address.strip())


async def _redeem(deps: OrderingDeps, uow: UnitOfWork, order: Order, price: CartPrice) -> None:
    """Phase one of paying with points: hold them against the order (`price_cart` checked
    who may redeem and how many)."""
    assert order.member_id is not None
    try:
        await hold(
            deps.loyalty,
            uow,
            order.member_id,
            price.points,
            reservation_owner(order.id),
            f"MEMBER:{order.member_id}",
        )
    except PointsError as error:
        raise OrderError(
            OrderErrorCode.INSUFFICIENT_POINTS, error.message, ["pointsToRedeem"]
        ) from None
    order.points_redeemed, order.points_discount = price.points, price.points_discount
