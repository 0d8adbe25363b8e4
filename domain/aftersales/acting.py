"""Customer service acting for a member: what a member may do for themselves (consents, data
export, deletion, pausing or cancelling a subscription), done by a CS agent or ADMIN with a
reason. One design for all of them: the staff action is written to the staff action log
(`record_staff_action_in_uow`) in the same transaction as the change, which the owning
context makes through its own `*_in_uow` service, so a refused change leaves no audit record
and an audit record never lacks its change. The member's own timelines name the agent (the
consent's channel is CS; a subscription change's actor is the agent's label)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar
from uuid import UUID

from domain.aftersales.deps import DeskDeps
from domain.errors import AfterSaleError, AfterSaleErrorCode
from domain.identity.model import Principal
from domain.identity.services import record_staff_action_in_uow
from domain.members import birthday, privacy
from domain.members.model import Channel, ConsentRecord, Member
from domain.ordering.services import Effects, is_cs
from domain.subscriptions import services as subscriptions
from domain.subscriptions.model import Subscription
from domain.uow import UnitOfWork

T = TypeVar("T")


@dataclass(frozen=True)
class ActingFor:
    """Who acts (a CS agent or ADMIN), for which member, and why (3-200 characters)."""

    staff: Principal
    member_id: UUID
    reason: str


def _reason(acting: ActingFor) -> str:
    if not is_cs(acting.staff):
        raise AfterSaleError(
            AfterSaleErrorCode.FORBIDDEN, "Only CS_AGENT or ADMIN staff act for a member."
        )
    why = acting.reason.strip()
    if not 3 <= len(why) <= 200:
        raise AfterSaleError(
            AfterSaleErrorCode.INVALID_INPUT,
            "Say why you act for the member (3-200 characters); it is logged.",
            ["input", "reason"],
        )
    return why


async def _audited(
    deps: DeskDeps,
    acting: ActingFor,
    action: str,
    change: Callable[[UnitOfWork, str], Awaitable[T]],
) -> T:
    why = _reason(acting)
    async with deps.uow() as uow:
        result = await change(uow, why)
        await record_staff_action_in_uow(
            uow, acting.staff.label, action, f"member:{acting.member_id}", why, deps.clock.now()
        )
    return result


async def update_consents_for(
    deps: DeskDeps,
    acting: ActingFor,
    changes: Sequence[privacy.ConsentChange],
    policy_version: str,
) -> list[ConsentRecord]:
    """Record or withdraw consents as the member told CS (channel CS)."""
    version = privacy.clean_consent_changes(changes, policy_version)

    async def change(uow: UnitOfWork, why: str) -> list[ConsentRecord]:
        return await privacy.append_consents_in_uow(
            deps.members, uow, acting.member_id, changes, version, Channel.CS
        )

    return await _audited(deps, acting, "CONSENTS_FOR_MEMBER", change)


async def set_birthday_for(
    deps: DeskDeps, acting: ActingFor, month: int, day: int, year: int | None
) -> Member:
    """Set the member's birthday as they told CS."""

    async def change(uow: UnitOfWork, why: str) -> Member:
        return await birthday.set_birthday_in_uow(
            deps.members, uow, acting.member_id, month, day, year
        )

    return await _audited(deps, acting, "BIRTHDAY_FOR_MEMBER", change)


async def export_for(deps: DeskDeps, acting: ActingFor) -> dict[str, Any]:
    """The member's data export, read by CS for them (to send it on): the staff action and
    an entry of the PII access log first, then the export itself."""

    async def log(uow: UnitOfWork, why: str) -> Member:
        return await privacy.log_export_in_uow(
            deps.members, uow, acting.staff.label, acting.member_id, why
        )

    member = await _audited(deps, acting, "EXPORT_FOR_MEMBER", log)
    return await privacy.export_of(deps.members, member.id)


async def delete_account_for(deps: DeskDeps, acting: ActingFor, confirm: bool) -> None:
    """The member asked CS to delete their account: the same erasure as theirs."""
    if not confirm:
        raise AfterSaleError(
            AfterSaleErrorCode.INVALID_INPUT,
            "Deleting the account cannot be undone; send `confirm: true`.",
            ["input", "confirm"],
        )

    async def change(uow: UnitOfWork, why: str) -> None:
        await privacy.erase_member_in_uow(deps.members, uow, acting.member_id)

    await _audited(deps, acting, "DELETE_FOR_MEMBER", change)


async def pause_subscription_for(
    deps: DeskDeps, acting: ActingFor, subscription_id: UUID, until: date | None
) -> Subscription:
    async def change(uow: UnitOfWork, why: str) -> Subscription:
        return await subscriptions.pause_in_uow(
            deps.subscriptions, uow, acting.member_id, subscription_id, until, acting.staff.label
        )

    return await _audited(deps, acting, "PAUSE_SUBSCRIPTION_FOR_MEMBER", change)


async def cancel_subscription_for(
    deps: DeskDeps, acting: ActingFor, subscription_id: UUID
) -> Subscription:
    """Cancel for the member, the reason given being the cancellation's; a prepaid plan's
    unused deliveries are refunded as when the member cancels."""
    effects = Effects()

    async def change(uow: UnitOfWork, why: str) -> Subscription:
        return await subscriptions.cancel_in_uow(
            deps.subscriptions,
            uow,
            acting.member_id,
            subscription_id,
            why,
            acting.staff.label,
            effects,
        )

    cancelled = await _audited(deps, acting, "CANCEL_SUBSCRIPTION_FOR_MEMBER", change)
    await effects.publish(deps.subscriptions.ordering.live)
    return cancelled
