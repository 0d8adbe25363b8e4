"""Group-buys (拼团): ADMIN runs campaigns; a member opens a group (taking the campaign's units
for a whole group) and others join it. Each seat is an ordinary order at the group price,
placed by ordering's `place_order` with the seat taken in its transaction (`on_placed`): a
conditional update of the group's counter, so a join beyond the size is refused with
GROUP_FULL before anything is paid. The payment counts through `OrderPaid`; the last one
completes the group, and until then `OrderAdvancing` holds each paid order back from
preparation. A group not complete at `expires_at` fails (`fail_expired_groups`): every order
is cancelled, and the paid ones refunded, by ordering's `cancel_by_system`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from uuid import UUID

from domain.catalog.model import CatalogStatus
from domain.errors import GrowthError, GrowthErrorCode, OrderError, OrderErrorCode
from domain.events import (
    EventHandlers,
    MemberErased,
    MembersMerged,
    OrderAdvancing,
    OrderCancelled,
    OrderPaid,
)
from domain.growth.deps import GroupBuyDeps
from domain.growth.group_buys_model import (
    MAX_GROUP_SIZE,
    MAX_LOCATIONS,
    MAX_TIME_LIMIT,
    MAX_UNITS,
    MIN_TIME_LIMIT,
    Group,
    GroupBuyCampaign,
    GroupStatus,
    Seat,
    SeatStatus,
)
from domain.growth.group_buys_ports import DuplicateSeat
from domain.idempotency import once
from domain.identity.model import Principal
from domain.ids import new_id
from domain.inventory.model import StockLine
from domain.live import LiveEvent, mask_name
from domain.locations.model import LocationStatus
from domain.members.merge import absorbed_into_in_uow
from domain.ordering.checkout import Checkout, DeliveryTo, place_order
from domain.ordering.lifecycle import cancel_by_system
from domain.ordering.model import Order, SalesChannel
from domain.uow import UnitOfWork

MAX_LISTED = 100
G = GrowthErrorCode


@dataclass(frozen=True)
class CampaignTerms:
    variant_id: UUID
    price: int
    group_size: int
    time_limit: timedelta
    per_member_limit: int
    starts_at: datetime
    ends_at: datetime
    units_offered: int
    location_ids: tuple[UUID, ...] = ()
    delivery: bool = False


@dataclass(frozen=True)
class Where:
    """Where the member takes the goods: a store of the campaign, or delivery."""

    pickup_location_id: UUID | None = None
    delivery: DeliveryTo | None = None


def _error(code: GrowthErrorCode, message: str, field: str) -> GrowthError:
    return GrowthError(code, message, [field])


def group_topic(group_id: UUID) -> str:
    return f"group:{group_id}"


def group_event(group: Group, at: datetime) -> LiveEvent:
    """What the share page is told: the group's status and seats still to pay."""
    return LiveEvent(
        group_topic(group.id),
        {
            "group_id": str(group.id),
            "status": group.status.value,
            "remaining": str(group.remaining),
            "at": at.isoformat(),
        },
    )


# ---------------------------------------------------------------- campaigns (ADMIN)


async def _check_terms(uow: UnitOfWork, terms: CampaignTerms, now: datetime) -> None:
    variants = await uow.catalog.get_variants([terms.variant_id])
    if not variants or variants[0].status is not CatalogStatus.ACTIVE:
        raise _error(G.NOT_FOUND, "Unknown or archived variant.", "variantId")
    list_price = variants[0].price.amount
    if not 0 <= terms.price < list_price:
        raise _error(
            G.INVALID_PRICE,
            f"The group price is 0 or more and below the list price ({list_price} fen).",
            "price",
        )
    if terms.ends_at <= terms.starts_at or terms.ends_at <= now:
        raise _error(G.INVALID_WINDOW, "The campaign ends after it starts and after now.", "endsAt")
    if not 2 <= terms.group_size <= MAX_GROUP_SIZE:
        raise _error(G.INVALID_INPUT, f"A group is 2 to {MAX_GROUP_SIZE} members.", "groupSize")
    if not MIN_TIME_LIMIT <= terms.time_limit <= MAX_TIME_LIMIT:
        raise _error(G.INVALID_INPUT, "The time limit is 5 minutes to 7 days.", "timeLimitMinutes")
    if not terms.group_size <= terms.units_offered <= MAX_UNITS:
        raise _error(
            G.INVALID_INPUT,
            f"Offer at least one group's units, at most {MAX_UNITS}.",
            "unitsOffered",
        )
    if not 1 <= terms.per_member_limit <= 100:
        raise _error(G.INVALID_INPUT, "The per-member limit is 1 to 100 seats.", "perMemberLimit")
    if not terms.delivery and not terms.location_ids:
        raise _error(G.INVALID_INPUT, "Offer pickup stores, delivery, or both.", "locationIds")
    if len(terms.location_ids) > MAX_LOCATIONS:
        raise _error(G.TOO_MANY_ITEMS, f"At most {MAX_LOCATIONS} stores.", "locationIds")
    found = await uow.locations.get_many(list(terms.location_ids))
    usable = {x.id for x in found if x.status is LocationStatus.ACTIVE and x.pickup_enabled}
    if set(terms.location_ids) - usable:
        raise _error(G.NOT_FOUND, "Unknown, closed or no-pickup store.", "locationIds")


async def create_campaign(
    deps: GroupBuyDeps, actor: Principal, terms: CampaignTerms, idempotency_key: str | None
) -> GroupBuyCampaign:
    now = deps.clock.now()
    terms = replace(terms, location_ids=tuple(sorted(set(terms.location_ids))))
    campaign_id = new_id()
    async with deps.uow() as uow:

        async def run() -> dict[str, str]:
            await _check_terms(uow, terms, now)
            await uow.group_buys.add_campaign(
                GroupBuyCampaign(
                    id=campaign_id,
                    variant_id=terms.variant_id,
                    price=terms.price,
                    currency="CNY",
                    group_size=terms.group_size,
                    time_limit=terms.time_limit,
                    per_member_limit=terms.per_member_limit,
                    location_ids=terms.location_ids,
                    delivery=terms.delivery,
                    starts_at=terms.starts_at,
                    ends_at=terms.ends_at,
                    units_offered=terms.units_offered,
                    created_at=now,
                )
            )
            return {"id": str(campaign_id)}

        payload = {
            "v": str(terms.variant_id),
            "p": terms.price,
            "n": terms.group_size,
            "t": terms.time_limit.total_seconds(),
            "m": terms.per_member_limit,
            "s": terms.starts_at.isoformat(),
            "e": terms.ends_at.isoformat(),
            "u": terms.units_offered,
            "l": [str(x) for x in terms.location_ids],
            "d": terms.delivery,
        }
        done = await once(
            uow.idempotency,
            f"{actor.label}:createGroupBuyCampaign",
            idempotency_key,
            payload,
            now,
            run,
            result={"id": str(campaign_id)},
        )
        campaign = await uow.group_buys.get_campaign(UUID(done["id"]))
    assert campaign is not None
    return campaign


async def cancel_campaign(
    deps: GroupBuyDeps, actor: Principal, campaign_id: UUID, reason: str
) -> GroupBuyCampaign:
    """No new group opens; groups already open run to their end (complete or fail)."""
    why = reason.strip()
    if not 2 <= len(why) <= 200:
        raise _error(G.INVALID_INPUT, "Give a reason (2-200 characters).", "reason")
    async with deps.uow() as uow:
        campaign = await uow.group_buys.get_campaign(campaign_id)
        if campaign is None:
            raise _error(G.NOT_FOUND, "Unknown campaign.", "id")
        if not await uow.group_buys.cancel_campaign(campaign_id, deps.clock.now(), why):
            raise _error(G.CAMPAIGN_NOT_LIVE, "The campaign is cancelled already.", "id")
        found = await uow.group_buys.get_campaign(campaign_id)
    assert found is not None
    return found


async def list_campaigns(
    deps: GroupBuyDeps, active: bool | None, first: int
) -> list[GroupBuyCampaign]:
    if not 1 <= first <= MAX_LISTED:
        raise _error(G.INVALID_INPUT, f"`first` is 1 to {MAX_LISTED}.", "first")
    async with deps.uow() as uow:
        return await uow.group_buys.list_campaigns(deps.clock.now(), active, first)


async def get_campaign(deps: GroupBuyDeps, campaign_id: UUID) -> GroupBuyCampaign | None:
    """One campaign, as `groupBuyCampaigns` lists it to everyone (also ended or cancelled)."""
    async with deps.uow() as uow:
        return await uow.group_buys.get_campaign(campaign_id)


async def get_group(deps: GroupBuyDeps, group_id: UUID) -> Group | None:
    async with deps.uow() as uow:
        return await uow.group_buys.get_group(group_id)


# ---------------------------------------------------------------- members: open and join


def _checkout(
    deps: GroupBuyDeps,
    actor: Principal,
    campaign: GroupBuyCampaign,
    where: Where,
    pay_by: datetime,
    coupon_ids: Sequence[UUID],
) -> Checkout:
    if not actor.is_member:
        raise _error(G.FORBIDDEN, "Members open and join groups.", "groupId")
    if (where.pickup_location_id is None) == (where.delivery is None):
        raise _error(
            G.INVALID_INPUT, "Choose exactly one: `pickupLocationId` or `delivery`.", "delivery"
        )
    if where.delivery is not None and not campaign.delivery:
        raise _error(G.FULFILMENT_NOT_OFFERED, "This campaign does not deliver.", "delivery")
    store = where.pickup_location_id
    if store is not None and store not in campaign.location_ids:
        raise _error(
            G.FULFILMENT_NOT_OFFERED, "Pick up at one of the campaign's stores.", "pickupLocationId"
        )
    left = pay_by - deps.clock.now()
    return Checkout(
        channel=SalesChannel.MINI_PROGRAM,
        lines=[StockLine(campaign.variant_id, 1)],
        member_id=actor.id,
        pickup_location_id=store,
        delivery=where.delivery,
        unit_prices={campaign.variant_id: campaign.price},
        coupon_ids=tuple(coupon_ids),  # the member's, off the group price (ordering judges them)
        # Never past the group's end: an unpaid seat is free again before the group fails.
        pay_within=max(min(deps.ordering.policy.payment_timeout, left), timedelta(seconds=1)),
    )


async def _take_seat(
    uow: UnitOfWork,
    campaign: GroupBuyCampaign,
    group: Group,
    order: Order,
    label: str,
    now: datetime,
) -> None:
    """The seat, in the order's transaction, which holds the shelf's row already (taken last
    by the checkout): so only writes here, no read. The member's count first, then the group's
    counter (the hot row, last and briefly)."""
    assert order.member_id is not None
    if not await uow.group_buys.take_member_seat(
        campaign.id, order.member_id, campaign.per_member_limit
    ):
        raise _error(
            G.GROUP_LIMIT_REACHED,
            f"At most {campaign.per_member_limit} seats per member in this campaign.",
            "groupId",
        )
    try:
        await uow.group_buys.add_seat(
            Seat(
                id=new_id(),
                group_id=group.id,
                campaign_id=campaign.id,
                member_id=order.member_id,
                order_id=order.id,
                label=label,
                leader=group.leader_id == order.member_id,
                status=SeatStatus.HELD,
                joined_at=now,
            )
        )
    except DuplicateSeat:
        raise _error(G.ALREADY_IN_GROUP, "You are in this group already.", "groupId") from None
    if not await uow.group_buys.take_seat(group.id, now):
        raise _error(G.GROUP_FULL, "Every seat of this group is taken.", "groupId")


async def _label(uow: UnitOfWork, actor: Principal) -> str:
    """How the share page shows the member (王**), read before the order's transaction."""
    member = await uow.members.get(actor.id) if actor.is_member else None
    return mask_name(member.display_name if member else None) or "**"


async def _place(
    deps: GroupBuyDeps,
    actor: Principal,
    checkout: Checkout,
    idempotency_key: str | None,
) -> Order:
    try:
        return await place_order(deps.ordering, actor, checkout, idempotency_key)
    except OrderError as error:  # the seat's order could not be placed: say so in our terms
        if error.code is OrderErrorCode.INSUFFICIENT_STOCK:
            raise GrowthError(G.INSUFFICIENT_STOCK, error.message, error.field) from None
        if error.code is OrderErrorCode.IDEMPOTENCY_CONFLICT:
            raise GrowthError(G.IDEMPOTENCY_CONFLICT, error.message, error.field) from None
        raise


async def open_group(
    deps: GroupBuyDeps,
    actor: Principal,
    campaign_id: UUID,
    where: Where,
    idempotency_key: str | None = None,
    coupon_ids: Sequence[UUID] = (),
) -> tuple[Group, Order]:
    """The leader's seat and a new group: the campaign's units for the whole group are taken
    with the leader's order, in its transaction."""
    now = deps.clock.now()
    async with deps.uow() as uow:
        campaign = await uow.group_buys.get_campaign(campaign_id)
        label = await _label(uow, actor)
    if campaign is None:
        raise _error(G.NOT_FOUND, "Unknown campaign.", "campaignId")
    if not campaign.is_live(now):
        raise _error(G.CAMPAIGN_NOT_LIVE, "The campaign is not running now.", "campaignId")
    group = Group(
        id=new_id(),
        campaign_id=campaign.id,
        leader_id=actor.id,
        size=campaign.group_size,
        status=GroupStatus.OPEN,
        opened_at=now,
        expires_at=now + campaign.time_limit,
    )

    async def seat(uow: UnitOfWork, order: Order) -> None:
        if not await uow.group_buys.take_units(campaign.id, group.size, now):
            raise _error(G.CAMPAIGN_SOLD_OUT, "No units left for another group.", "campaignId")
        await uow.group_buys.add_group(group)
        await _take_seat(uow, campaign, group, order, label, now)

    checkout = _checkout(deps, actor, campaign, where, group.expires_at, coupon_ids)
    order = await _place(deps, actor, replace(checkout, on_placed=seat), idempotency_key)
    return await _group_of(deps, order), order


async def join_group(
    deps: GroupBuyDeps,
    actor: Principal,
    group_id: UUID,
    where: Where,
    idempotency_key: str | None = None,
    coupon_ids: Sequence[UUID] = (),
) -> tuple[Group, Order]:
    """A seat in an open group: refused (GROUP_FULL) once every seat is held by an order,
    paid or within its payment time, before the member can pay."""
    now = deps.clock.now()
    async with deps.uow() as uow:
        group = await uow.group_buys.get_group(group_id)
        campaign = await uow.group_buys.get_campaign(group.campaign_id) if group else None
        label = await _label(uow, actor)
    if group is None or campaign is None:
        raise _error(G.NOT_FOUND, "Unknown group.", "groupId")
    if idempotency_key is None or not any(s.member_id == actor.id for s in group.seats):
        _check_joinable(group, actor, now)  # a retry of a join that took a seat answers it

    async def seat(uow: UnitOfWork, order: Order) -> None:
        await _take_seat(uow, campaign, group, order, label, now)

    checkout = _checkout(deps, actor, campaign, where, group.expires_at, coupon_ids)
    order = await _place(deps, actor, replace(checkout, on_placed=seat), idempotency_key)
    return await _group_of(deps, order), order


def _check_joinable(group: Group, actor: Principal, now: datetime) -> None:
    """The cheap refusals, read before any order is made (the seat's update decides)."""
    if not group.is_open(now):
        raise _error(G.GROUP_CLOSED, f"The group is {group.status.value.lower()}.", "groupId")
    if any(s.member_id == actor.id for s in group.seats):
        raise _error(G.ALREADY_IN_GROUP, "You are in this group already.", "groupId")
    if group.seats_taken >= group.size:
        raise _error(G.GROUP_FULL, "Every seat of this group is taken.", "groupId")


async def _group_of(deps: GroupBuyDeps, order: Order) -> Group:
    """The seat's group, read once, told to the share page."""
    async with deps.uow() as uow:
        group = await uow.group_buys.group_of_order(order.id)
    if group is None:  # the key was first used for an order that is no group's seat
        raise _error(
            G.IDEMPOTENCY_CONFLICT,
            "This idempotencyKey was used for a different request; use a new key.",
            "idempotencyKey",
        )
    await deps.live.publish(group_event(group, deps.clock.now()))
    return group


# ---------------------------------------------------------------- reactions to orders


def register_handlers(deps: GroupBuyDeps) -> None:
    """Run in ordering's transactions (payment, cancellation, a step of a paid order) and in
    a merge's or an erasure's (the runtime's one registry)."""
    events: EventHandlers = deps.ordering.events

    async def on_paid(uow: UnitOfWork, event: OrderPaid) -> None:
        seat = await uow.group_buys.seat_of_order(event.order_id)
        if seat is None or seat.status is not SeatStatus.HELD:
            return
        now = deps.clock.now()
        # Not counted when the group failed or is past its time (the job has not failed it
        # yet): the seat stays HELD, and the failure job cancels and refunds this order.
        group = await uow.group_buys.count_payment(seat.group_id, now)
        if group is None:
            return
        await uow.group_buys.set_seat_status(seat.id, SeatStatus.PAID)
        event.live.append(group_event(group, now))

    async def on_cancelled(uow: UnitOfWork, event: OrderCancelled) -> None:
        seat = await uow.group_buys.seat_of_order(event.order_id)
        if seat is None or seat.status is SeatStatus.CANCELLED:
            return
        await uow.group_buys.give_back_member_seat(seat.campaign_id, seat.member_id)
        group = await uow.group_buys.get_group(seat.group_id)
        assert group is not None
        if group.status is GroupStatus.OPEN:  # the seat is free for someone else
            await uow.group_buys.delete_seat(seat.id)
            await uow.group_buys.free_seat(group.id, seat.status is SeatStatus.PAID)
            group = await uow.group_buys.get_group(seat.group_id)
            assert group is not None
            event.live.append(group_event(group, deps.clock.now()))
        else:
            await uow.group_buys.set_seat_status(seat.id, SeatStatus.CANCELLED)

    async def on_advancing(uow: UnitOfWork, event: OrderAdvancing) -> None:
        seat = await uow.group_buys.seat_of_order(event.order_id)
        if seat is None:
            return
        group = await uow.group_buys.get_group(seat.group_id)
        if group is not None and group.status is not GroupStatus.COMPLETED:
            event.blockers.append(
                f"The order's group-buy is {group.status.value.lower()}: prepare it once "
                "the group is complete."
            )

    async def on_merged(uow: UnitOfWork, event: MembersMerged) -> None:
        await uow.group_buys.move_member(event.source_member_id, event.target_member_id)

    async def on_erased(uow: UnitOfWork, event: MemberErased) -> None:
        # Also the seats a merge left under an absorbed account (in a group the survivor is in).
        person = [event.member_id, *await absorbed_into_in_uow(uow, event.member_id)]
        await uow.group_buys.forget_members(person)

    events.register(MembersMerged, on_merged)
    events.register(MemberErased, on_erased)
    events.register(OrderPaid, on_paid)
    events.register(OrderCancelled, on_cancelled)
    events.register(OrderAdvancing, on_advancing)


# ---------------------------------------------------------------- the job


async def fail_expired_groups(deps: GroupBuyDeps) -> int:
    """Groups not complete at `expires_at` fail (their units go back to the campaign), then
    every order of a failed group is cancelled, each in a transaction of its own; a paid one
    is refunded through the payments refund port. An order locked right now (being paid) is
    left for the next run, which finds its seat still HELD or PAID."""
    now = deps.clock.now()
    async with deps.uow() as uow:
        due = await uow.group_buys.due_groups(now, deps.batch)
    failed = 0
    for group_id in due:
        async with deps.uow() as uow:
            group = await uow.group_buys.get_group(group_id)
            if group is None or not await uow.group_buys.fail_group(group_id, now):
                continue
            await uow.group_buys.give_back_units(group.campaign_id, group.size)
            group.status = GroupStatus.FAILED
        failed += 1
        await deps.live.publish(group_event(group, now))
    async with deps.uow() as uow:
        orders = await uow.group_buys.seats_to_cancel(deps.batch)
    for order_id in orders:
        await cancel_by_system(deps.ordering, order_id, "group-buy failed")
    return failed + len(orders)
