"""What members do with their subscriptions: sign up, pause, skip, move, cancel."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from domain.catalog.model import CatalogStatus
from domain.errors import SubscriptionError, SubscriptionErrorCode
from domain.idempotency import once
from domain.identity.model import Principal
from domain.ids import new_id
from domain.inventory.model import StockLine
from domain.locations.model import DEFAULT_TIMEZONE, GeoPoint, LocationStatus
from domain.ordering.services import Effects
from domain.subscriptions import prepaid
from domain.subscriptions.deps import SubscriptionDeps
from domain.subscriptions.model import (
    Cycle,
    CycleStatus,
    Interval,
    Subscription,
    SubscriptionChange,
    SubscriptionLine,
    SubscriptionStatus,
    clean_signup_lines,
)
from domain.uow import UnitOfWork

E = SubscriptionErrorCode


def _error(code: SubscriptionErrorCode, message: str, *path: str) -> SubscriptionError:
    return SubscriptionError(code, message, list(path) or None)


def local_today(deps: SubscriptionDeps, timezone: str) -> date:
    return deps.clock.now().astimezone(ZoneInfo(timezone)).date()


@dataclass(frozen=True)
class SignUp:
    plan_id: UUID
    lines: Sequence[StockLine]  # as given: `clean_signup_lines` checks them
    first_date: date
    pickup_location_id: UUID | None = None
    delivery_address: str | None = None
    delivery_latitude: float | None = None
    delivery_longitude: float | None = None
    payment_agreement: str = ""


async def _timezone_of(uow: UnitOfWork, location_id: UUID | None) -> str:
    if location_id is None:
        return DEFAULT_TIMEZONE
    location = await uow.locations.get(location_id)
    if (
        location is None
        or location.status is not LocationStatus.ACTIVE
        or not location.pickup_enabled
    ):
        raise _error(
            E.INVALID_INPUT,
            "That location does not offer pickup.",
            "fulfilment",
            "pickup",
            "locationId",
        )
    return location.timezone


def _check_fulfilment(
    pickup: UUID | None, address: str | None, lat: float | None, lon: float | None
) -> None:
    if (pickup is None) == (address is None):
        raise _error(E.INVALID_INPUT, "Choose exactly one of pickup or delivery.", "fulfilment")
    if address is not None:
        if not 5 <= len(address.strip()) <= 300:
            raise _error(
                E.INVALID_INPUT,
                "Give a delivery address (5-300 characters).",
                "fulfilment",
                "delivery",
                "address",
            )
        if lat is None or lon is None:
            raise _error(E.INVALID_INPUT, "Delivery needs coordinates.", "fulfilment", "delivery")
        GeoPoint.of(lat, lon)


async def create_subscription(
    deps: SubscriptionDeps, member: Principal, signup: SignUp, idempotency_key: str | None
) -> Subscription:
    _check_fulfilment(
        signup.pickup_location_id,
        signup.delivery_address,
        signup.delivery_latitude,
        signup.delivery_longitude,
    )
    chosen = clean_signup_lines(signup.lines, deps.policy.max_lines)
    agreement = signup.payment_agreement.strip()
    if len(agreement) > 100:
        raise _error(E.INVALID_INPUT, "At most 100 characters.", "paymentAgreement")
    now = deps.clock.now()
    async with deps.uow() as uow:

        async def run() -> dict[str, str]:
            plan = await uow.subscriptions.get_plan(signup.plan_id)
            if plan is None or not plan.active:
                raise _error(E.PLAN_UNAVAILABLE, "That plan is not offered.", "planId")
            if not plan.prepaid and not agreement:
                raise _error(
                    E.INVALID_INPUT,
                    "Sign a payment agreement first (`paymentAgreement`).",
                    "paymentAgreement",
                )
            if stray := [v for v in chosen if v not in plan.variant_ids]:
                raise _error(
                    E.VARIANT_NOT_IN_PLAN, f"Variant {stray[0]} is not in this plan.", "lines"
                )
            timezone = await _timezone_of(uow, signup.pickup_location_id)
            _check_ahead(deps, signup.first_date, local_today(deps, timezone), "firstDeliveryDate")
            variants = {v.id: v for v in await uow.catalog.get_variants(list(chosen))}
            lines = []
            for variant_id, quantity in sorted(chosen.items()):
                variant = variants.get(variant_id)
                if variant is None or variant.status is not CatalogStatus.ACTIVE:
                    raise _error(E.VARIANT_NOT_IN_PLAN, "A variant is no longer sold.", "lines")
                price = variant.price.amount * (100 - plan.discount_percent) // 100
                lines.append(SubscriptionLine(variant_id, quantity, price))
            address = None
            if signup.delivery_address is not None:
                holder = await uow.members.get(member.id)
                assert holder is not None and holder.data_key is not None
                address = deps.vault.encrypt(holder.data_key, signup.delivery_address.strip())
            subscription = Subscription(
                id=new_id(),
                member_id=member.id,
                plan_id=plan.id,
                lines=lines,
                interval=plan.interval,
                anchor_date=signup.first_date,
                next_date=signup.first_date,
                cycles_done=0,
                sequence=0,
                status=SubscriptionStatus.ACTIVE,
                pickup_location_id=signup.pickup_location_id,
                delivery_address=address,
                delivery_latitude=signup.delivery_latitude,
                delivery_longitude=signup.delivery_longitude,
                payment_agreement=agreement,
                timezone=timezone,
                created_at=now,
                updated_at=now,
                prepaid_deliveries=plan.prepaid_deliveries,
            )
            await uow.subscriptions.add(subscription)
            await record(deps, uow, subscription, "CREATED", f"plan {plan.name}", member.label)
            if subscription.prepaid:
                order = await prepaid.place_prepayment_in_uow(deps, uow, subscription)
                await uow.subscriptions.save(subscription)
                detail = f"{plan.prepaid_deliveries} deliveries: order {order.number}"
                await record(deps, uow, subscription, "PREPAYMENT", detail, member.label)
            return {"subscription_id": str(subscription.id)}

        payload = {
            "p": str(signup.plan_id),
            "l": sorted((str(k), v) for k, v in chosen.items()),
            "d": signup.first_date.isoformat(),
            "f": str(signup.pickup_location_id),
            "a": signup.delivery_address,
        }
        result = await once(
            uow.idempotency,
            f"{member.label}:createSubscription",
            idempotency_key,
            payload,
            now,
            run,
        )
        found = await uow.subscriptions.get(UUID(result["subscription_id"]))
    assert found is not None
    return found


async def record(
    deps: SubscriptionDeps,
    uow: UnitOfWork,
    subscription: Subscription,
    what: str,
    detail: str,
    actor: str,
) -> None:
    subscription.updated_at = deps.clock.now()
    await uow.subscriptions.add_change(
        SubscriptionChange(new_id(), subscription.id, what, detail[:200], actor, deps.clock.now())
    )


async def _mine(uow: UnitOfWork, member_id: UUID, subscription_id: UUID) -> Subscription:
    found = await uow.subscriptions.get(subscription_id, lock=True)
    if found is None or found.member_id != member_id:
        raise _error(E.NOT_FOUND, "Unknown subscription.", "id")
    if found.status is SubscriptionStatus.CANCELLED:
        raise _error(E.ILLEGAL_STATE, "This subscription was cancelled.", "id")
    return found


async def _change(
    deps: SubscriptionDeps,
    member: Principal,
    subscription_id: UUID,
    apply: Callable[[Subscription], tuple[str, str]],
) -> Subscription:
    async with deps.uow() as uow:
        return await _change_in_uow(deps, uow, member.id, subscription_id, apply, member.label)


async def _change_in_uow(
    deps: SubscriptionDeps,
    uow: UnitOfWork,
    member_id: UUID,
    subscription_id: UUID,
    apply: Callable[[Subscription], tuple[str, str]],
    actor: str,
) -> Subscription:
    subscription = await _mine(uow, member_id, subscription_id)
    what, detail = apply(subscription)
    await uow.subscriptions.save(subscription)
    await record(deps, uow, subscription, what, detail, actor)
    return subscription


def _check_ahead(deps: SubscriptionDeps, day: date, today: date, field: str) -> None:
    """A date after today and within the policy's horizon (9999-12-31 was stored as
    PostgreSQL's `infinity` and broke every view of the subscription)."""
    last = today + timedelta(days=deps.policy.max_days_ahead)
    if not today < day <= last:
        raise _error(
            E.INVALID_DATE, f"Choose a date after today ({today}) and at most {last}.", field
        )


async def pause(
    deps: SubscriptionDeps, member: Principal, subscription_id: UUID, until: date | None
) -> Subscription:
    async with deps.uow() as uow:
        return await pause_in_uow(deps, uow, member.id, subscription_id, until, member.label)


async def pause_in_uow(
    deps: SubscriptionDeps,
    uow: UnitOfWork,
    member_id: UUID,
    subscription_id: UUID,
    until: date | None,
    actor: str,
) -> Subscription:
    """Pause the member's subscription (until a date, or until resumed) in the caller's
    transaction: the member's own call, or customer service's for them."""

    def apply(s: Subscription) -> tuple[str, str]:
        if s.status is SubscriptionStatus.PAUSED:
            raise _error(E.ILLEGAL_STATE, "Already paused.", "id")
        if until is not None:
            _check_ahead(deps, until, local_today(deps, s.timezone), "until")
        s.status, s.paused_until = SubscriptionStatus.PAUSED, until
        return "PAUSED", f"until {until}" if until else "until resumed"

    return await _change_in_uow(deps, uow, member_id, subscription_id, apply, actor)


def _roll_forward(s: Subscription, today: date) -> None:
    """After a pause the next date is the first scheduled date after today."""
    while s.next_date <= today:
        s.cycles_done += 1
        s.sequence += 1
        s.next_date = s.interval.after(s.anchor_date, s.cycles_done)


async def resume(deps: SubscriptionDeps, member: Principal, subscription_id: UUID) -> Subscription:
    def apply(s: Subscription) -> tuple[str, str]:
        if s.status is not SubscriptionStatus.PAUSED:
            raise _error(E.ILLEGAL_STATE, "Only a paused subscription resumes.", "id")
        s.status, s.paused_until, s.failed_attempts = SubscriptionStatus.ACTIVE, None, 0
        _roll_forward(s, local_today(deps, s.timezone))
        return "RESUMED", f"next delivery {s.next_date}"

    return await _change(deps, member, subscription_id, apply)


async def skip_next(
    deps: SubscriptionDeps, member: Principal, subscription_id: UUID
) -> Subscription:
    now = deps.clock.now()
    async with deps.uow() as uow:
        s = await _mine(uow, member.id, subscription_id)
        if s.status is SubscriptionStatus.PAUSED:
            # A paused subscription has no next delivery: a skip would silently move the
            # schedule of a subscription the member believes is on hold.
            raise _error(
                E.SUBSCRIPTION_PAUSED, "This subscription is paused: resume it first.", "id"
            )
        skipped = s.next_date
        # The skipped delivery is a cycle of its own (SKIPPED, no order); if its number is
        # taken, its order was already placed and waits for payment: too late to skip.
        cycle = Cycle(
            new_id(), s.id, s.sequence + 1, skipped, CycleStatus.SKIPPED, None, 0, "", now, now
        )
        if not await uow.subscriptions.claim_cycle(cycle):
            raise _error(E.ILLEGAL_STATE, "That delivery is already ordered.", "id")
        s.cycles_done += 1
        s.sequence += 1
        s.next_date = s.interval.after(s.anchor_date, s.cycles_done)
        detail = f"{skipped} skipped; next {s.next_date}"
        await record(deps, uow, s, "SKIPPED", detail, member.label)
        await uow.subscriptions.save(s)
    return s


async def reschedule_next(
    deps: SubscriptionDeps, member: Principal, subscription_id: UUID, new_date: date
) -> Subscription:
    window = deps.policy.reschedule_window_days

    def apply(s: Subscription) -> tuple[str, str]:
        scheduled = s.interval.after(s.anchor_date, s.cycles_done)
        if new_date <= local_today(deps, s.timezone):
            raise _error(E.INVALID_DATE, "Choose a date after today.", "date")
        if abs((new_date - scheduled).days) > window:
            raise _error(
                E.OUTSIDE_WINDOW, f"Move a delivery at most {window} days from {scheduled}.", "date"
            )
        old, s.next_date = s.next_date, new_date
        return "RESCHEDULED", f"{old} -> {new_date}"

    return await _change(deps, member, subscription_id, apply)


async def change_interval(
    deps: SubscriptionDeps, member: Principal, subscription_id: UUID, interval: Interval
) -> Subscription:
    def apply(s: Subscription) -> tuple[str, str]:
        s.interval, s.anchor_date, s.cycles_done = interval, s.next_date, 0
        return "INTERVAL", f"every {interval.count} {interval.unit.value.lower()}"

    async with deps.uow() as uow:
        subscription = await _mine(uow, member.id, subscription_id)
        what, detail = apply(subscription)
        # cycles count from the new anchor: keep the processed count in the history
        await uow.subscriptions.save(subscription)
        await record(deps, uow, subscription, what, detail, member.label)
    return subscription


async def change_fulfilment(
    deps: SubscriptionDeps,
    member: Principal,
    subscription_id: UUID,
    pickup: UUID | None,
    address: str | None,
    lat: float | None,
    lon: float | None,
) -> Subscription:
    _check_fulfilment(pickup, address, lat, lon)
    async with deps.uow() as uow:
        subscription = await _mine(uow, member.id, subscription_id)
        timezone = await _timezone_of(uow, pickup)
        holder = await uow.members.get(member.id)
        assert holder is not None and holder.data_key is not None
        subscription.pickup_location_id, subscription.timezone = pickup, timezone
        subscription.delivery_address = (
            deps.vault.encrypt(holder.data_key, address.strip()) if address else None
        )
        subscription.delivery_latitude, subscription.delivery_longitude = lat, lon
        await uow.subscriptions.save(subscription)
        await record(
            deps, uow, subscription, "FULFILMENT", "pickup" if pickup else "delivery", member.label
        )
    return subscription


async def cancel(
    deps: SubscriptionDeps, member: Principal, subscription_id: UUID, reason: str
) -> Subscription:
    effects = Effects()
    async with deps.uow() as uow:
        s = await cancel_in_uow(
            deps, uow, member.id, subscription_id, reason, member.label, effects
        )
    await effects.publish(deps.ordering.live)
    return s


async def cancel_in_uow(
    deps: SubscriptionDeps,
    uow: UnitOfWork,
    member_id: UUID,
    subscription_id: UUID,
    reason: str,
    actor: str,
    effects: Effects,
) -> Subscription:
    """Cancel the member's subscription in the caller's transaction (the member's own call,
    or customer service's for them); the caller publishes `effects` after the commit."""
    why = reason.strip()
    if not 2 <= len(why) <= 200:
        raise _error(E.INVALID_INPUT, "Give a reason (2-200 characters).", "reason")
    s = await _mine(uow, member_id, subscription_id)
    s.status, s.cancel_reason = SubscriptionStatus.CANCELLED, why
    await record(deps, uow, s, "CANCELLED", why, actor)
    if s.prepaid:
        # under the subscription's lock: a renewal uses a delivery or we refund it
        refunded = await prepaid.settle_cancelled_in_uow(deps, uow, s, actor, why, effects)
        if refunded:
            await record(deps, uow, s, "REFUNDED", f"{refunded} fen unused", actor)
    await uow.subscriptions.save(s)
    return s


def upcoming(subscription: Subscription, count: int = 4) -> list[date]:
    """The next deliveries the member will get, for `me { subscriptions }`."""
    if subscription.status in (SubscriptionStatus.CANCELLED, SubscriptionStatus.PAUSED):
        return []
    dates = [subscription.next_date]
    n = subscription.cycles_done + 1
    while len(dates) < count:
        dates.append(subscription.interval.after(subscription.anchor_date, n))
        n += 1
    return dates


async def resume_paused_until_due(deps: SubscriptionDeps) -> int:
    """Job: subscriptions paused `until` a date resume on that (store-local) date."""
    resumed = 0
    async with deps.uow() as uow:
        for s in await uow.subscriptions.paused_until_due(deps.clock.now().date(), 200):
            today = local_today(deps, s.timezone)
            if s.paused_until is None or s.paused_until > today:
                continue
            locked = await uow.subscriptions.get(s.id, lock=True)
            if locked is None or locked.status is not SubscriptionStatus.PAUSED:
                continue
            locked.status, locked.paused_until, locked.failed_attempts = (
                SubscriptionStatus.ACTIVE,
                None,
                0,
            )
            _roll_forward(locked, today)
            await record(
                deps, uow, locked, "RESUMED", f"next delivery {locked.next_date}", "SYSTEM"
            )
            await uow.subscriptions.save(locked)
            resumed += 1
    return resumed


async def prepaid_ending_in_uow(
    uow: UnitOfWork, now: datetime, days: int, after: UUID | None, limit: int
) -> tuple[list[Subscription], UUID | None]:
    """A batch of ACTIVE prepaid subscriptions (in id order after `after`) whose last prepaid
    delivery is within `days` store-local days of `now`, and where the next batch starts
    (None: that was the last): engagement's SUBSCRIPTION_ENDING trigger."""
    found = await uow.subscriptions.prepaid_active(after, limit)
    ending = [
        s
        for s in found
        if s.prepaid_left > 0
        and s.interval.after(s.next_date, s.prepaid_left - 1)
        <= now.astimezone(ZoneInfo(s.timezone)).date() + timedelta(days=days)
    ]
    return ending, (found[-1].id if len(found) == limit else None)
