"""After-sales use cases: request, decide, receive the goods back, refund.

Every change of an after-sale locks its order first (the order's row is the lock of its
money: `refund_in_uow` counts on it), so requests for one line are counted one at a time and
never exceed what was bought, and refunds of one order never exceed what was paid. Decisions
are conditional transitions: of two agents deciding at once, one does."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from domain.aftersales.deps import AfterSaleDeps
from domain.aftersales.model import (
    DECISIONS,
    HOLDS_QUANTITY,
    REFUND_STARTED,
    TRANSITIONS,
    AfterSale,
    AfterSaleEvent,
    AfterSaleFilter,
    AfterSaleKind,
    AfterSaleLine,
    AfterSaleStatus,
    Condition,
    ReceivedLine,
    RequestedLine,
    ReturnPolicy,
    clean_photos,
    clean_reason,
    cumulative_share,
    invalid,
    withdrawable,
)
from domain.errors import AfterSaleError, AfterSaleErrorCode, OrderError
from domain.events import MembersMerged, OrderFullyRefunded, RefundCompleted, RefundRetried
from domain.idempotency import once
from domain.identity.model import Principal, StaffRole
from domain.ids import new_id
from domain.inventory.returns import ReturnedGoods, receive_return_in_uow
from domain.loyalty.services import return_redeemed_in_uow, reverse_for_refund
from domain.members.merge import absorbed_into_in_uow
from domain.ordering.model import MAX_LINES, Order
from domain.ordering.refunds import refund_part_in_uow, refund_settled_in_uow
from domain.ordering.services import is_cs, is_store_staff, load, notify
from domain.ordering.shares import handed_over_at_in_uow, line_shares
from domain.pagination import Page, PageRequest
from domain.promotions.coupons_checkout import give_back_in_uow
from domain.uow import UnitOfWork


@dataclass(frozen=True)
class AfterSaleRequest:
    order_id: UUID
    kind: AfterSaleKind
    lines: Sequence[RequestedLine]
    reason: str
    photo_urls: Sequence[str] = ()


def _error(code: AfterSaleErrorCode, message: str, *path: str) -> AfterSaleError:
    return AfterSaleError(code, message, list(path))


def _not_found(path: str = "afterSaleId") -> AfterSaleError:
    return _error(AfterSaleErrorCode.NOT_FOUND, "Unknown after-sale.", path)


async def _order(uow: UnitOfWork, order_id: UUID) -> Order:
    """The order, locked: the lock every change of its after-sales takes first."""
    try:
        return await load(uow, order_id)
    except OrderError:
        raise _error(AfterSaleErrorCode.NOT_FOUND, "Unknown order.", "orderId") from None


def _may_request(actor: Principal, order: Order) -> None:
    if actor.is_member:
        if order.member_id != actor.id:
            raise _error(AfterSaleErrorCode.NOT_FOUND, "Unknown order.", "orderId")
        return
    if not (is_cs(actor) or is_store_staff(actor, order.location_id)):
        raise _error(
            AfterSaleErrorCode.FORBIDDEN,
            "CS agents and the staff of the order's store request for a member.",
            "orderId",
        )
    if order.member_id is None:
        raise _error(AfterSaleErrorCode.FORBIDDEN, "A walk-in sale returns at the till.", "orderId")


def may_decide(actor: Principal, location_id: UUID) -> bool:
    if actor.has_role(StaffRole.ADMIN, StaffRole.CS_AGENT):
        return True
    return actor.has_role(StaffRole.STORE_MANAGER) and location_id in actor.store_ids


def may_read(actor: Principal | None, after_sale: AfterSale) -> bool:
    if actor is None:
        return False
    if actor.is_member:
        return after_sale.member_id == actor.id
    return is_cs(actor) or is_store_staff(actor, after_sale.location_id)


def _check_lines(lines: Sequence[Any]) -> None:
    if not lines:
        raise invalid("Name at least one line.", "lines")
    if len(lines) > MAX_LINES:
        raise _error(AfterSaleErrorCode.TOO_MANY_ITEMS, f"At most {MAX_LINES} lines.", "lines")
    for index, line in enumerate(lines):
        if not 1 <= line.quantity <= 999:
            raise invalid("A quantity is 1 or more.", "lines", str(index), "quantity")


async def _event(
    deps: AfterSaleDeps,
    uow: UnitOfWork,
    after_sale: AfterSale,
    before: AfterSaleStatus | None,
    actor: str,
    note: str = "",
) -> None:
    now = deps.clock.now()
    await uow.aftersales.add_events(
        [AfterSaleEvent(new_id(), after_sale.id, before, after_sale.status, actor, note, now)]
    )


async def _move(
    deps: AfterSaleDeps,
    uow: UnitOfWork,
    after_sale: AfterSale,
    target: AfterSaleStatus,
    actor: str,
    note: str = "",
    **changes: Any,
) -> None:
    """One conditional transition with its timeline event; refused when another got there
    first."""
    now = deps.clock.now()
    before = after_sale.status
    moved = target in TRANSITIONS.get(before, frozenset()) and await uow.aftersales.transition(
        after_sale.id, before, target, updated_at=now, **changes
    )
    if not moved:
        current = await uow.aftersales.get(after_sale.id)
        now_is = current.status.value if current else before.value
        code = (
            AfterSaleErrorCode.ALREADY_DECIDED
            if target in DECISIONS
            else AfterSaleErrorCode.ILLEGAL_STATE
        )
        raise _error(code, f"The after-sale is {now_is}.", "afterSaleId")
    after_sale.status, after_sale.updated_at = target, now
    for name, value in changes.items():
        setattr(after_sale, name, value)
    await _event(deps, uow, after_sale, before, actor, note)


async def request_after_sale(
    deps: AfterSaleDeps,
    actor: Principal,
    request: AfterSaleRequest,
    idempotency_key: str | None = None,
) -> AfterSale:
    """A return (or a refund only) of some units of a handed-over order, within each
    product's return window; never more units than bought less those already asked for."""
    why = clean_reason(request.reason)
    photos = clean_photos(request.photo_urls)
    _check_lines(request.lines)
    if len({line.order_line_id for line in request.lines}) != len(request.lines):
        raise invalid("Name each order line once.", "lines")
    now = deps.clock.now()
    created: list[AfterSale] = []
    async with deps.uow() as uow:

        async def run() -> dict[str, Any]:
            order = await _order(uow, request.order_id)
            _may_request(actor, order)
            handed = await handed_over_at_in_uow(uow, order)
            if handed is None:
                raise _error(
                    AfterSaleErrorCode.ORDER_NOT_HANDED_OVER,
                    f"The order is {order.status.value}: after-sales start after hand-over.",
                    "orderId",
                )
            policies = await _policies(uow, order)
            held = await held_quantities(uow, order.id)
            ordered = {line.id: line for line in order.lines}
            after_sale_id = new_id()
            lines = []
            for index, asked in enumerate(request.lines):
                at = ("lines", str(index))
                bought = ordered.get(asked.order_line_id)
                if bought is None:
                    raise _error(AfterSaleErrorCode.NOT_FOUND, "Unknown order line.", *at)
                policy = policies.get(bought.variant_id, ReturnPolicy())
                if not policy.allows(request.kind):
                    raise _error(
                        AfterSaleErrorCode.REFUND_ONLY_REQUIRED,
                        f"{bought.name}: fresh produce is not taken back; ask for a refund only "
                        f"(REFUND_ONLY) within {policy.refund_only_hours} h of hand-over.",
                        *at,
                    )
                closes = policy.closes(handed)
                if closes is None or now > closes:
                    raise _error(
                        AfterSaleErrorCode.RETURN_WINDOW_CLOSED,
                        f"{bought.name}: "
                        + ("takes no returns." if closes is None else "the return window closed."),
                        *at,
                    )
                left = bought.quantity - held.get(bought.id, 0)
                if asked.quantity > left:
                    raise _error(
                        AfterSaleErrorCode.QUANTITY_EXCEEDED,
                        f"{bought.name}: {left} of {bought.quantity} may still be asked for.",
                        *at,
                        "quantity",
                    )
                lines.append(
                    AfterSaleLine(
                        new_id(), after_sale_id, bought.id, bought.variant_id, asked.quantity
                    )
                )
            after_sale = AfterSale(
                id=after_sale_id,
                order_id=order.id,
                member_id=order.member_id,
                location_id=order.location_id,
                kind=request.kind,
                status=AfterSaleStatus.REQUESTED,
                reason=why,
                photo_urls=photos,
                requested_by=actor.label,
                created_at=now,
                updated_at=now,
                lines=lines,
            )
            await uow.aftersales.add(after_sale)
            await _event(deps, uow, after_sale, None, actor.label, why)
            created.append(after_sale)
            return {"id": str(after_sale_id)}

        payload = {
            "o": str(request.order_id),
            "k": request.kind.value,
            "l": [[str(line.order_line_id), line.quantity] for line in request.lines],
            "r": why,
            "p": photos,
        }
        result = await once(
            uow.idempotency, f"{actor.label}:requestAfterSale", idempotency_key, payload, now, run
        )
        if created:
            return created[0]
        found = await uow.aftersales.get(UUID(result["id"]))
        assert found is not None
        return found


async def _policies(uow: UnitOfWork, order: Order) -> dict[UUID, ReturnPolicy]:
    """The return policy of each variant of the order: its product's, else its category's."""
    found = await uow.catalog.variants_with_products([line.variant_id for line in order.lines])
    category_ids = sorted({p.category_id for _, p in found if p.category_id is not None})
    categories = {c.id: c for c in await uow.catalog.get_categories(category_ids)}
    return {
        variant.id: ReturnPolicy.of(
            product, categories.get(product.category_id) if product.category_id else None
        )
        for variant, product in found
    }


async def held_quantities(uow: UnitOfWork, order_id: UUID) -> dict[UUID, int]:
    """Units of each order line that after-sales ask for or returned (not the rejected)."""
    held: dict[UUID, int] = defaultdict(int)
    for after_sale in await uow.aftersales.of_orders([order_id]):
        if after_sale.status in HOLDS_QUANTITY:
            for line in after_sale.lines:
                held[line.order_line_id] += line.quantity
    return held


async def decide_after_sale(
    deps: AfterSaleDeps, actor: Principal, after_sale_id: UUID, approve: bool, reason: str = ""
) -> AfterSale:
    """Approve or reject a request (CS, or a manager of the order's store). An approved
    refund-only request is refunded at once; an approved return waits for the goods."""
    why = clean_reason(reason) if not approve else reason.strip()[:500]
    async with deps.uow() as uow:
        found = await uow.aftersales.get(after_sale_id)
        if found is None or not may_read(actor, found):
            raise _not_found()
        if not may_decide(actor, found.location_id):
            raise _error(
                AfterSaleErrorCode.FORBIDDEN,
                "CS agents, or a STORE_MANAGER of the order's store, decide after-sales.",
                "afterSaleId",
            )
        order = await _order(uow, found.order_id)
        if approve:
            await _move(deps, uow, found, AfterSaleStatus.APPROVED, actor.label, why)
            await notify(deps.ordering, uow, order, "AFTER_SALE_APPROVED", _key(found, "approved"))
            if found.kind is AfterSaleKind.REFUND_ONLY:
                units = {line.order_line_id: line.quantity for line in found.lines}
                await _refund(deps, uow, order, found, units, actor.label)
        else:
            await _move(
                deps, uow, found, AfterSaleStatus.REJECTED, actor.label, why, decision_reason=why
            )
            await notify(
                deps.ordering,
                uow,
                order,
                "AFTER_SALE_REJECTED",
                _key(found, "rejected"),
                reason=why,
            )
        return found


async def withdraw_after_sale(
    deps: AfterSaleDeps, actor: Principal, after_sale_id: UUID, reason: str = ""
) -> AfterSale:
    """The member takes their request back (or CS does for them) before goods or money moved:
    REQUESTED, or an approved return whose goods were not received -> CLOSED. Its units may be
    asked for again. Of a withdrawal and a decision at once, one wins (the order's lock, then
    the conditional transition)."""
    why = reason.strip()[:500]
    async with deps.uow() as uow:
        found = await uow.aftersales.get(after_sale_id)
        if found is None or not may_read(actor, found):
            raise _not_found()
        if not (actor.is_member or is_cs(actor)):
            raise _error(
                AfterSaleErrorCode.FORBIDDEN,
                "The member, or CS for them, withdraws a request.",
                "afterSaleId",
            )
        await _order(uow, found.order_id)
        found = await uow.aftersales.get(after_sale_id)  # as it is now we hold the lock
        assert found is not None
        if not withdrawable(found.kind, found.status):
            raise _error(
                AfterSaleErrorCode.ILLEGAL_STATE,
                f"The after-sale is {found.status.value}: it can no longer be withdrawn.",
                "afterSaleId",
            )
        await _move(deps, uow, found, AfterSaleStatus.CLOSED, actor.label, why or "withdrawn")
        return found


def _key(after_sale: AfterSale, what: str) -> str:
    return f"after-sale:{after_sale.id.hex}:{what}"


async def receive_return(
    deps: AfterSaleDeps,
    actor: Principal,
    after_sale_id: UUID,
    location_id: UUID,
    received: Sequence[ReceivedLine],
) -> AfterSale:
    """The goods of an approved return are back at a store or warehouse: resaleable units on
    the shelf, damaged ones written off (inventory's ledger), then the refund of the units
    received."""
    _check_lines(received)
    async with deps.uow() as uow:
        found = await uow.aftersales.get(after_sale_id)
        receiving = actor.is_admin or is_store_staff(actor, location_id)
        # The goods may come back to another store or a warehouse: its staff hold them.
        if found is None or not (may_read(actor, found) or receiving):
            raise _not_found()
        if not receiving:
            raise _error(
                AfterSaleErrorCode.FORBIDDEN,
                "Staff of the receiving store or warehouse receive returns.",
                "locationId",
            )
        if await uow.locations.get(location_id) is None:
            raise _error(AfterSaleErrorCode.NOT_FOUND, "Unknown location.", "locationId")
        if found.kind is not AfterSaleKind.RETURN_AND_REFUND:
            raise _error(
                AfterSaleErrorCode.ILLEGAL_STATE, "A refund-only request has no goods to receive."
            )
        order = await _order(uow, found.order_id)
        lines = {line.order_line_id: line for line in found.lines}
        counted: dict[UUID, list[int]] = defaultdict(lambda: [0, 0])
        for index, line in enumerate(received):
            if line.order_line_id not in lines:
                raise _error(
                    AfterSaleErrorCode.NOT_FOUND,
                    "Not a line of this after-sale.",
                    "lines",
                    str(index),
                    "orderLineId",
                )
            counted[line.order_line_id][line.condition is Condition.DAMAGED] += line.quantity
        for index, line in enumerate(received):
            asked = lines[line.order_line_id].quantity
            if sum(counted[line.order_line_id]) > asked:
                raise _error(
                    AfterSaleErrorCode.QUANTITY_EXCEEDED,
                    f"{asked} units were asked for on this line.",
                    "lines",
                    str(index),
                    "quantity",
                )
        await _move(
            deps,
            uow,
            found,
            AfterSaleStatus.RETURN_RECEIVED,
            actor.label,
            received_at_location_id=location_id,
        )
        for order_line_id, (good, damaged) in counted.items():
            lines[order_line_id].received, lines[order_line_id].damaged = good, damaged
        await receive_return_in_uow(
            deps.ordering.inventory,
            uow,
            location_id,
            [ReturnedGoods(lines[i].variant_id, good, bad) for i, (good, bad) in counted.items()],
            f"after-sale:{found.id}",
            actor.label,
        )
        units = {i: good + bad for i, (good, bad) in counted.items()}
        await _refund(deps, uow, order, found, units, actor.label)
        return found


async def _refund(
    deps: AfterSaleDeps,
    uow: UnitOfWork,
    order: Order,
    after_sale: AfterSale,
    units: dict[UUID, int],
    actor: str,
) -> None:
    """Give back what `units` of each line were paid for: money through the order's refund
    (completed by the refund job), redeemed points to the member, earned points taken back.
    Each line's share counts the units refunded before, so all parts add up to the line."""
    shares = line_shares(order)
    quantities = {line.id: line.quantity for line in order.lines}
    before: dict[UUID, int] = defaultdict(int)
    for other in await uow.aftersales.of_orders([order.id]):
        if other.id != after_sale.id and other.status in REFUND_STARTED:
            for line in other.lines:
                before[line.order_line_id] += line.refunded
    for line in after_sale.lines:
        count = units.get(line.order_line_id, 0)
        share, quantity = shares[line.order_line_id], quantities[line.order_line_id]
        done = before[line.order_line_id]
        line.refunded = count
        line.refund_amount = cumulative_share(share.paid, quantity, done, count)
        line.points_returned = cumulative_share(share.points, quantity, done, count)
    await uow.aftersales.save_lines(after_sale.lines)
    amount = sum(line.refund_amount for line in after_sale.lines)
    points = sum(line.points_returned for line in after_sale.lines)
    reference = f"after-sale:{after_sale.id}"
    refund_id = None
    if amount > 0:
        try:
            refund = await refund_part_in_uow(
                deps.ordering,
                uow,
                order,
                amount,
                reference,
                f"after-sale {after_sale.reason}"[:200],
            )
        except OrderError as error:  # paid otherwise, or refunded already (CS, another request)
            raise _error(
                AfterSaleErrorCode.REFUND_NOT_POSSIBLE, error.message, "afterSaleId"
            ) from None
        refund_id = refund.id
    target = AfterSaleStatus.REFUNDING if refund_id else AfterSaleStatus.REFUNDED
    await _move(
        deps,
        uow,
        after_sale,
        target,
        actor,
        refund_amount=amount,
        refund_payment_id=refund_id,
    )
    if order.member_id is not None:
        loyalty = deps.ordering.loyalty
        owner = order.reservation_owner
        await return_redeemed_in_uow(loyalty, uow, order.member_id, points, owner, reference)
        await reverse_for_refund(
            loyalty,
            uow,
            order.member_id,
            owner,
            amount,
            order.amount_due,
            refund_key=reference,
            earned_by=await absorbed_into_in_uow(uow, order.member_id),
        )
    if target is AfterSaleStatus.REFUNDED:
        await _notify_refunded(deps, uow, order, after_sale)
    every_unit = all(before[x.id] + units.get(x.id, 0) >= x.quantity for x in order.lines)
    if every_unit and order.coupon_discount:  # fully refunded: its coupons back, while valid
        await give_back_in_uow(uow, order.id, deps.clock.now())
    if every_unit and order.member_id is not None:  # growth takes back a referral's rewards
        await deps.ordering.events.dispatch(uow, OrderFullyRefunded(order.id, order.member_id))


async def _notify_refunded(
    deps: AfterSaleDeps, uow: UnitOfWork, order: Order, after_sale: AfterSale
) -> None:
    await notify(
        deps.ordering,
        uow,
        order,
        "AFTER_SALE_REFUNDED",
        _key(after_sale, "refunded"),
        amount=str(after_sale.refund_amount),
    )


async def refund_completed_in_uow(
    deps: AfterSaleDeps, uow: UnitOfWork, event: RefundCompleted
) -> None:
    """The money of an after-sale's refund is back: REFUNDING -> REFUNDED, the member told."""
    found = await uow.aftersales.by_refund(event.refund_id)
    if found is None or found.status is not AfterSaleStatus.REFUNDING:
        return
    if await uow.aftersales.transition(
        found.id, AfterSaleStatus.REFUNDING, AfterSaleStatus.REFUNDED, updated_at=deps.clock.now()
    ):
        found.status = AfterSaleStatus.REFUNDED
        await _event(deps, uow, found, AfterSaleStatus.REFUNDING, "SYSTEM", "refund completed")
        order = await load(uow, found.order_id, lock=False)
        await _notify_refunded(deps, uow, order, found)


async def refund_retried_in_uow(deps: AfterSaleDeps, uow: UnitOfWork, event: RefundRetried) -> None:
    """CS recorded a failed refund of an after-sale again: the after-sale (still REFUNDING)
    waits for the new one, and its timeline says so."""
    found = await uow.aftersales.by_refund(event.failed_id)
    if found is None or found.status is not AfterSaleStatus.REFUNDING:
        return
    if await uow.aftersales.transition(
        found.id,
        AfterSaleStatus.REFUNDING,
        AfterSaleStatus.REFUNDING,
        updated_at=deps.clock.now(),
        refund_payment_id=event.refund_id,
    ):
        await _event(deps, uow, found, AfterSaleStatus.REFUNDING, event.actor, "refund retried")
        # A refund settled at once (by the context that took the payment) completed before
        # the after-sale followed it.
        if await refund_settled_in_uow(uow, event.order_id, event.refund_id):
            await refund_completed_in_uow(
                deps, uow, RefundCompleted(event.order_id, event.refund_id)
            )


def register_handlers(deps: AfterSaleDeps) -> None:
    async def on_refund(uow: UnitOfWork, event: RefundCompleted) -> None:
        await refund_completed_in_uow(deps, uow, event)

    async def on_retried(uow: UnitOfWork, event: RefundRetried) -> None:
        await refund_retried_in_uow(deps, uow, event)

    async def on_merged(uow: UnitOfWork, event: MembersMerged) -> None:
        await uow.aftersales.move_member(event.source_member_id, event.target_member_id)

    deps.ordering.events.register(RefundCompleted, on_refund)
    deps.ordering.events.register(RefundRetried, on_retried)
    deps.ordering.events.register(MembersMerged, on_merged)


# Reads


async def after_sale_for(
    deps: AfterSaleDeps, actor: Principal | None, after_sale_id: UUID
) -> AfterSale | None:
    """`node(id)`: the after-sale when the caller may see it (its member, CS, its store)."""
    async with deps.uow() as uow:
        found = await uow.aftersales.get(after_sale_id)
    return found if found is not None and may_read(actor, found) else None


async def after_sales_of_member(
    deps: AfterSaleDeps, member_id: UUID, page: PageRequest
) -> Page[AfterSale]:
    async with deps.uow() as uow:
        return await uow.aftersales.search(AfterSaleFilter(), page, member_ids=[member_id])


async def search_after_sales(
    deps: AfterSaleDeps,
    actor: Principal,
    status: AfterSaleStatus | None,
    location_id: UUID | None,
    page: PageRequest,
) -> Page[AfterSale]:
    """The desk's list: CS sees every store's (or one's), store staff their own stores'."""
    if is_cs(actor):
        stores: list[UUID] | None = None if location_id is None else [location_id]
    elif actor.role is not None and actor.role.is_store_scoped:
        if location_id is not None and location_id not in actor.store_ids:
            raise _error(
                AfterSaleErrorCode.FORBIDDEN, "Only your own stores' after-sales.", "locationId"
            )
        stores = [location_id] if location_id else sorted(actor.store_ids)
    else:
        raise _error(AfterSaleErrorCode.FORBIDDEN, "CS and store staff list after-sales.")
    async with deps.uow() as uow:
        return await uow.aftersales.search(AfterSaleFilter(status, stores), page)
