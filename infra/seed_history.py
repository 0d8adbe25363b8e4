"""The demo seed's past: five months of orders for the demo members, so `make run` shows
engagement numbers at once (metrics, cohorts, RFM, the lifecycle segments).

Each order goes the way a real one does, through the ordering services on a runtime whose
clock is stopped at the order's store-local moment: placed (at the till or in the
mini-program), paid at the store, prepared, packed and handed over with its pickup code a few
minutes later. Then the metrics rollup job and the nightly member-facts rebuild run on the
real clock. A member who already has orders is given no history: a second seed places none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from domain.clock import FrozenClock
from domain.engagement.facts import rebuild_member_facts
from domain.engagement.metrics_rollup import roll_up_metrics
from domain.identity.model import Principal, PrincipalKind
from domain.inventory.model import StockLine
from domain.locations.model import Location, LocationType
from domain.members.birthday import set_birthday_in_uow
from domain.members.model import Member
from domain.ordering.checkout import Checkout, place_order
from domain.ordering.lifecycle import complete_pickup, mark_ready, start_preparing
from domain.ordering.model import SalesChannel
from domain.ordering.payments import record_in_store_payment
from domain.outbox.services import deliver_due
from domain.pagination import PageRequest
from infra.runtime import Runtime
from infra.seed_data import TIMEZONE, demo_on_hand, variant_codes


@dataclass(frozen=True)
class PastMember:
    """A demo member's history (by the phone they were enrolled with): the days before the
    seed's they ordered on, and where they usually shop."""

    phone: str
    store: str  # a store code: where they usually shop
    days_ago: tuple[int, ...]
    birthday: tuple[int, int] | None = None  # (month, day)


# Lifecycle on the seed's day, by the last order: active (< 60 days), at risk (60-89),
# churned (90 and more), new (first order < 30 days ago); RFM spreads them over its segments.
PAST: tuple[PastMember, ...] = (
    PastMember("13800138000", "SH-XJH", (140, 118, 96, 75, 52, 31, 17, 9, 3), (3, 8)),
    PastMember("13900139000", "SH-JAS", (120, 88, 60, 33, 12, 2)),
    PastMember("13700137000", "SH-XJH", (150, 128, 101, 72)),  # at risk
    PastMember("13600136001", "SH-JAS", (160, 131, 110)),  # churned
    PastMember("13600136002", "SH-XJH", (20, 6)),  # new
    PastMember("13600136003", "SH-JAS", (95, 68)),  # at risk
    PastMember("13600136004", "SH-XJH", (135,)),  # churned after one order
    PastMember("13600136005", "SH-JAS", (45, 25, 8, 1), (11, 20)),
    PastMember("13600136006", "SH-XJH", (4,)),  # new
    PastMember("13600136007", "SH-XJH", (100, 80, 58, 40, 22, 10, 5)),
    PastMember("13600136008", "SH-JAS", (84, 77)),  # at risk
    PastMember("13600136009", "SH-XJH", (150, 93)),  # churned
)
STORE = LocationType.STORE
OPENS_AT = 10  # store-local hour of a day's first order
HANDED_OVER_AFTER = (timedelta(minutes=2), timedelta(minutes=3))  # packed, then picked up
MIN_SHELF = 10  # a history line sells only what the store's demo shelf holds plenty of


@dataclass(frozen=True)
class PastOrder:
    member: int  # index in PAST
    at: datetime
    store: str
    channel: SalesChannel
    variant_code: str
    quantity: int


def plan(now: datetime, stores: Sequence[str]) -> list[PastOrder]:
    """Every history order, oldest first, at store-local moments before `now`'s day: the same
    days, stores, channels and lines on every run (only the calendar moves with `now`)."""
    zone = ZoneInfo(TIMEZONE)
    today = now.astimezone(zone).date()
    orders: list[PastOrder] = []
    for m, past in enumerate(PAST):
        for n, back in enumerate(past.days_ago):
            day = today - timedelta(days=back)
            hour = OPENS_AT + (m + 3 * n) % 9
            at = datetime(day.year, day.month, day.day, hour, 7 * m % 60, tzinfo=zone)
            # now and then at the other store, half of the orders through the mini-program
            store = stores[(stores.index(past.store) + (n % 4 == 3)) % len(stores)]
            channel = SalesChannel.MINI_PROGRAM if (m + n) % 2 else SalesChannel.POS
            shelf = [c for c in variant_codes() if demo_on_hand(store, STORE, c) >= MIN_SHELF]
            code = shelf[(5 * m + 3 * n) % len(shelf)]
            orders.append(PastOrder(m, at.astimezone(UTC), store, channel, code, 1 + (m + n) % 2))
    return sorted(orders, key=lambda o: o.at)


@dataclass
class History:
    orders: int = 0
    members: int = 0  # given a history now (the others had orders already)


async def _has_orders(runtime: Runtime, member: Member) -> bool:
    found = await runtime.repos.orders.search(PageRequest(first=1), member_id=member.id)
    return bool(found.items)


async def _staff(runtime: Runtime, username: str) -> Principal:
    staff = await runtime.repos.staff.get_by_username(username)
    if staff is None:
        raise RuntimeError(f"seed: no demo staff {username!r}")
    return staff.principal()


async def _place(
    past: Runtime, clock: FrozenClock, order: PastOrder, member: Member, location: Location
) -> None:
    """One order's life, each step through its service at its moment, and its messages
    delivered as the outbox job would have."""
    deps = past.ordering
    clerk = await _staff(past, f"{location.code.lower()}-clerk")
    buyer = (
        clerk
        if order.channel is SalesChannel.POS
        else Principal(kind=PrincipalKind.MEMBER, id=member.id)
    )
    variant = await past.repos.catalog.variant_by_code(order.variant_code)
    if variant is None:
        raise RuntimeError(f"seed: no demo variant {order.variant_code}")
    clock.advance(order.at - clock.now())
    lines = [StockLine(variant.id, order.quantity)]
    checkout = Checkout(order.channel, lines, member.id, pickup_location_id=location.id)
    placed = await place_order(deps, buyer, checkout, None)
    await record_in_store_payment(deps, clerk, placed.id, "CASH", placed.amount_due)
    await start_preparing(deps, clerk, placed.id)
    packed, picked_up = HANDED_OVER_AFTER
    clock.advance(packed)
    await mark_ready(deps, clerk, placed.id)
    clock.advance(picked_up + timedelta(seconds=17 * order.member % 60))
    async with deps.uow() as uow:
        [code] = await uow.orders.pickups_of([placed.id])
    await complete_pickup(deps, clerk, location.id, code.code)
    await deliver_due(past.outbox_deps)  # what the job did then: the history leaves no backlog


async def seed_history(
    runtime: Runtime, locations: dict[str, Location], members: dict[str, Member]
) -> History:
    """The demo members' past orders (those with none yet), their birthdays; `members` by the
    phone they were enrolled with."""
    done = History()
    fresh = {
        m for m, past in enumerate(PAST) if not await _has_orders(runtime, members[past.phone])
    }
    if not fresh:
        return done
    clock = FrozenClock(runtime.clock.now())
    past = Runtime(runtime.settings, clock=clock, fast_password_hashing=True)
    await past.start(database=False)  # the database is the seed's; Redis (if any) its own
    try:
        stores = sorted({p.store for p in PAST})
        for order in plan(runtime.clock.now(), stores):
            if order.member in fresh:
                member = members[PAST[order.member].phone]
                await _place(past, clock, order, member, locations[order.store])
                done.orders += 1
    finally:
        await past.stop(database=False)
    async with runtime.members.auth.uow() as uow:
        for m in sorted(fresh):
            birthday = PAST[m].birthday
            if birthday is not None:
                member = members[PAST[m].phone]
                await set_birthday_in_uow(runtime.members, uow, member.id, *birthday, None)
    done.members = len(fresh)
    return done


async def refresh_numbers(runtime: Runtime) -> None:
    """What the jobs would do next: the metrics rollup (every day since the first payment
    on a first run) and the nightly member-facts rebuild with RFM."""
    days = await roll_up_metrics(runtime.metrics)
    rebuilt = await rebuild_member_facts(runtime.member_facts)
    print(
        f"engagement: {days} metrics days rolled up, facts of {rebuilt.members} members "
        f"rebuilt ({rebuilt.scored} RFM-scored)",
        flush=True,
    )
