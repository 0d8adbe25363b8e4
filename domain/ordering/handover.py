"""What a store manager does when the pickup code cannot: lift the store's lock after too
many wrong codes, and hand an order over to a customer who lost the code (or whose code
expired), after looking the member up. Both are on record (the staff-action audit, the
order's timeline)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.errors import OrderError, OrderErrorCode
from domain.idempotency import once
from domain.identity.model import Principal, StaffRole
from domain.identity.services import record_staff_action_in_uow
from domain.ordering.deps import OrderingDeps
from domain.ordering.lifecycle import hand_over_in_uow
from domain.ordering.model import Order, OrderStatus
from domain.ordering.services import Effects, load, not_found, pickup_lock_key


def _manager_of(actor: Principal, location_id: UUID) -> bool:
    return actor.is_admin or (
        actor.has_role(StaffRole.STORE_MANAGER) and location_id in actor.store_ids
    )


def _reason(reason: str) -> str:
    why = reason.strip()
    if not 3 <= len(why) <= 200:
        raise OrderError(
            OrderErrorCode.INVALID_INPUT, "Give a reason (3-200 characters).", ["reason"]
        )
    return why


async def lift_pickup_lock(
    deps: OrderingDeps, actor: Principal, location_id: UUID, reason: str
) -> None:
    """The store's counters take pickup codes again at once (audited)."""
    if not _manager_of(actor, location_id):
        raise OrderError(
            OrderErrorCode.FORBIDDEN,
            "Only a STORE_MANAGER of this store (or ADMIN) lifts its pickup-code lock.",
            ["locationId"],
        )
    why = _reason(reason)
    async with deps.uow() as uow:
        if await uow.locations.get(location_id) is None:
            raise OrderError(OrderErrorCode.NOT_FOUND, "Unknown location.", ["locationId"])
        await record_staff_action_in_uow(
            uow, actor.label, "LIFT_PICKUP_LOCK", f"location:{location_id}", why, deps.clock.now()
        )
    await deps.limiter.reset(pickup_lock_key(location_id))


async def hand_over_without_code(
    deps: OrderingDeps,
    actor: Principal,
    order_id: UUID,
    member_id: UUID,
    reason: str,
    idempotency_key: str | None = None,
) -> Order:
    """A READY order handed over by a manager of its store who looked the member up
    (`member_id` must be the order's member): for a lost or expired code. The timeline says
    so, with the reason."""
    why = _reason(reason)
    effects = Effects()
    now = deps.clock.now()
    handed: list[Order] = []
    async with deps.uow() as uow:

        async def run() -> dict[str, Any]:
            order = await load(uow, order_id)
            if not _manager_of(actor, order.location_id):
                if actor.is_member:
                    raise not_found()
                raise OrderError(
                    OrderErrorCode.FORBIDDEN,
                    "Only a STORE_MANAGER of the order's store hands it over without a code.",
                    ["orderId"],
                )
            if order.member_id is None or order.member_id != member_id:
                raise OrderError(
                    OrderErrorCode.FORBIDDEN,
                    "Look the customer up first: the order is not this member's.",
                    ["memberId"],
                )
            if order.status is not OrderStatus.READY_FOR_PICKUP:
                raise OrderError(
                    OrderErrorCode.ILLEGAL_TRANSITION,
                    f"The order is {order.status.value}, not ready for pickup.",
                    ["orderId"],
                )
            await hand_over_in_uow(
                deps, uow, order, actor.label, f"handed over without code: {why}", effects
            )
            handed.append(order)
            return {"order_id": str(order.id)}

        result = await once(
            uow.idempotency,
            f"{actor.label}:handOverWithoutCode",
            idempotency_key,
            {"o": str(order_id), "m": str(member_id), "r": why},
            now,
            run,
        )
        order = handed[0] if handed else await load(uow, UUID(result["order_id"]))
    await effects.publish(deps.live)
    return order
