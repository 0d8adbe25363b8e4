"""Plans (ADMIN): offered, edited and retired. Sign-ups lock a plan's terms, so an edit or a
retirement concerns later sign-ups only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from uuid import UUID

from domain.errors import SubscriptionError, SubscriptionErrorCode
from domain.ids import new_id
from domain.subscriptions.deps import SubscriptionDeps
from domain.subscriptions.model import Interval, Plan
from domain.uow import UnitOfWork

E = SubscriptionErrorCode


def _error(code: SubscriptionErrorCode, message: str, *path: str) -> SubscriptionError:
    return SubscriptionError(code, message, list(path) or None)


@dataclass(frozen=True)
class PlanTerms:
    """What ADMIN offers: sign-ups lock these (prices from the discount, the interval); an
    edit changes them for later sign-ups only."""

    name: str
    variant_ids: Sequence[UUID]
    interval: Interval
    discount_percent: int
    min_cycles: int
    prepaid_deliveries: int = 0  # 0: charged per cycle (agreement); 2-52: paid up front


async def _checked_terms(uow: UnitOfWork, terms: PlanTerms) -> PlanTerms:
    clean = terms.name.strip()
    if not 1 <= len(clean) <= 100:
        raise _error(E.INVALID_INPUT, "Name the plan (1-100 characters).", "name")
    if not terms.variant_ids or len(terms.variant_ids) > 50:
        raise _error(E.INVALID_INPUT, "A plan offers 1 to 50 variants.", "variantIds")
    if not 0 <= terms.discount_percent <= 50:
        raise _error(E.INVALID_INPUT, "The discount is 0-50 %.", "discountPercent")
    if not 0 <= terms.min_cycles <= 52:
        raise _error(E.INVALID_INPUT, "Minimum cycles are 0-52.", "minCycles")
    if terms.prepaid_deliveries != 0 and not 2 <= terms.prepaid_deliveries <= 52:
        raise _error(
            E.INVALID_INPUT,
            "A prepaid plan sells 2 to 52 deliveries (0: charged per delivery).",
            "prepaidDeliveries",
        )
    found = {v.id for v in await uow.catalog.get_variants(list(terms.variant_ids))}
    if missing := [v for v in terms.variant_ids if v not in found]:
        raise _error(E.NOT_FOUND, f"Unknown variant {missing[0]}.", "variantIds")
    return replace(terms, name=clean, variant_ids=list(dict.fromkeys(terms.variant_ids)))


async def create_plan(
    deps: SubscriptionDeps,
    name: str,
    variant_ids: Sequence[UUID],
    interval: Interval,
    discount_percent: int,
    min_cycles: int,
    prepaid_deliveries: int = 0,
) -> Plan:
    terms = PlanTerms(name, variant_ids, interval, discount_percent, min_cycles, prepaid_deliveries)
    async with deps.uow() as uow:
        clean = await _checked_terms(uow, terms)
        plan = Plan(
            new_id(),
            clean.name,
            list(clean.variant_ids),
            clean.interval,
            clean.discount_percent,
            clean.min_cycles,
            True,
            deps.clock.now(),
            clean.prepaid_deliveries,
        )
        await uow.subscriptions.add_plan(plan)
    return plan


async def _offered_plan(uow: UnitOfWork, plan_id: UUID) -> Plan:
    plan = await uow.subscriptions.get_plan(plan_id, lock=True)
    if plan is None:
        raise _error(E.NOT_FOUND, "Unknown plan.", "id")
    if not plan.active:
        raise _error(E.PLAN_UNAVAILABLE, "This plan was retired.", "id")
    return plan


async def update_plan(deps: SubscriptionDeps, plan_id: UUID, terms: PlanTerms) -> Plan:
    """New terms for later sign-ups; existing subscriptions keep the lines, prices and
    interval they locked when they signed up (renewals never read the plan)."""
    async with deps.uow() as uow:
        plan = await _offered_plan(uow, plan_id)
        clean = await _checked_terms(uow, terms)
        plan.name, plan.variant_ids, plan.interval = (
            clean.name,
            list(clean.variant_ids),
            clean.interval,
        )
        plan.discount_percent, plan.min_cycles = clean.discount_percent, clean.min_cycles
        plan.prepaid_deliveries = clean.prepaid_deliveries
        await uow.subscriptions.save_plan(plan)
    return plan


async def retire_plan(deps: SubscriptionDeps, plan_id: UUID) -> Plan:
    """No new sign-ups (PLAN_UNAVAILABLE, and off `subscriptionPlans`); existing subscriptions
    continue on their locked terms."""
    async with deps.uow() as uow:
        plan = await _offered_plan(uow, plan_id)
        plan.active = False
        await uow.subscriptions.save_plan(plan)
    return plan
