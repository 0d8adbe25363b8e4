"""In-store returns of till sales (`recordPosReturn`), with or without a member.

The goods come back through `receive_return_in_uow` (resaleable on the shelf, damaged written
off), the money goes back at the till (no provider: the return records the amount and the
method), and for a member's sale loyalty gives back the redeemed points of the returned units
and takes back those earned on their money (`PosReturnRecorded`).

Each sale line's `returned` rises by a conditional update (`returned + q <= quantity`) that
holds the line's row until commit, so two returns of one line at once never pass what was
sold, and each return's share counts the units returned before it (`cumulative_share`): all
returns of a line add up to what it was paid. Lock order: sale lines by variant, then stock
levels by variant, then the member's points account."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

from domain.aftersales.model import Condition, cumulative_share
from domain.errors import InventoryError, InventoryErrorCode
from domain.events import PosReturnRecorded
from domain.idempotency import once
from domain.identity.model import DeviceKind, Principal, PrincipalKind, StaffRole
from domain.ids import new_id
from domain.inventory.deps import InventoryDeps
from domain.inventory.model import MAX_TILL_QUANTITY, TillLine, check_line_count, clean_text
from domain.inventory.returns import ReturnedGoods, receive_return_in_uow
from domain.inventory.till_model import (
    PosReturn,
    PosReturnLine,
    RefundMethod,
    ReturnedLine,
    TillSale,
    TillSaleLine,
)
from domain.ordering.shares import allocate
from domain.pagination import Page, PageRequest
from domain.uow import UnitOfWork


@dataclass(frozen=True)
class PosReturnRequest:
    location_id: UUID
    transaction_id: str  # the original till sale's posTransactionId
    lines: Sequence[ReturnedLine]
    refund_method: RefundMethod
    reason: str


def may_record_return(actor: Principal, location_id: UUID) -> bool:
    """POS devices and store staff of the store (ADMIN anywhere), as for till sales."""
    if actor.kind is PrincipalKind.DEVICE:
        return actor.device_kind is DeviceKind.POS and actor.can_act_on_store(location_id)
    roles = (StaffRole.ADMIN, StaffRole.STORE_MANAGER, StaffRole.STORE_CLERK)
    return actor.has_role(*roles) and actor.can_act_on_store(location_id)


def may_read_returns(actor: Principal, location_id: UUID) -> bool:
    """Who records them, and CS."""
    return may_record_return(actor, location_id) or actor.has_role(StaffRole.CS_AGENT)


def _error(code: InventoryErrorCode, message: str, *path: str) -> InventoryError:
    return InventoryError(code, message, list(path))


async def keep_till_sale_in_uow(
    uow: UnitOfWork,
    location_id: UUID,
    transaction_id: str,
    member_id: UUID | None,
    lines: Sequence[TillLine],
    points: dict[str, Any],
) -> None:
    """Keep a till sale's lines for its returns: the points the member redeemed on it (and
    the fen they paid) allocated to the lines in proportion to what the till charged."""
    totals = [line.line_total for line in lines]
    values = allocate(points.get("redeemed_value", 0), totals)
    spent = allocate(points.get("redeemed", 0), totals)
    kept = [
        TillSaleLine(line.variant_id, line.quantity, line.line_total, value, count)
        for line, value, count in zip(lines, values, spent, strict=True)
    ]
    await uow.till_returns.keep_sale(location_id, transaction_id, member_id, kept)


def _clean(request: PosReturnRequest) -> tuple[str, str]:
    tx_id = clean_text(request.transaction_id, "posTransactionId", 64)
    if not tx_id:
        raise _error(
            InventoryErrorCode.INVALID_INPUT, "`posTransactionId` is required.", "posTransactionId"
        )
    reason = clean_text(request.reason, "reason")
    if len(reason) < 2:
        raise _error(
            InventoryErrorCode.INVALID_INPUT, "Give a reason (2-200 characters).", "reason"
        )
    if not request.lines:
        raise _error(InventoryErrorCode.INVALID_INPUT, "Give at least one line.", "lines")
    check_line_count(len(request.lines))
    seen: set[tuple[UUID, Condition]] = set()
    for index, line in enumerate(request.lines):
        if not 1 <= line.quantity <= MAX_TILL_QUANTITY:
            raise _error(
                InventoryErrorCode.INVALID_QUANTITY,
                f"Till quantities are 1 to {MAX_TILL_QUANTITY}; got {line.quantity}.",
                "lines",
                str(index),
                "quantity",
            )
        if (line.variant_id, line.condition) in seen:
            raise _error(
                InventoryErrorCode.DUPLICATE_VARIANT,
                "Each variant at most once per condition; add the quantities up.",
                "lines",
                str(index),
                "variantId",
            )
        seen.add((line.variant_id, line.condition))
    return tx_id, reason


async def record_pos_return(
    deps: InventoryDeps,
    actor: Principal,
    request: PosReturnRequest,
    idempotency_key: str | None = None,
) -> PosReturn:
    """Units of a till sale of this store come back: never more than sold less those already
    returned. A retry with the same key answers the first return and changes nothing."""
    if not may_record_return(actor, request.location_id):
        raise _error(
            InventoryErrorCode.FORBIDDEN,
            "POS devices and staff of the store take its returns.",
            "locationId",
        )
    tx_id, reason = _clean(request)
    now = deps.clock.now()
    created: list[PosReturn] = []
    async with deps.uow() as uow:

        async def run() -> dict[str, Any]:
            if await uow.locations.get(request.location_id) is None:
                raise _error(InventoryErrorCode.NOT_FOUND, "Unknown location.", "locationId")
            sale = await uow.till_returns.sale(request.location_id, tx_id)
            if sale is None:
                raise _error(
                    InventoryErrorCode.NOT_FOUND,
                    "No till sale with this posTransactionId at this store.",
                    "posTransactionId",
                )
            pos_return = await _return_in_uow(deps, uow, actor, sale, request, reason)
            created.append(pos_return)
            return {"id": str(pos_return.id)}

        payload = {
            "l": str(request.location_id),
            "t": tx_id,
            "lines": [[str(x.variant_id), x.quantity, x.condition.value] for x in request.lines],
            "m": request.refund_method.value,
            "r": reason,
        }
        result = await once(
            uow.idempotency, f"{actor.label}:recordPosReturn", idempotency_key, payload, now, run
        )
        if created:
            return created[0]
        found = await uow.till_returns.get_return(UUID(result["id"]))
        assert found is not None  # stored in the transaction that stored the key
        return found


async def _return_in_uow(
    deps: InventoryDeps,
    uow: UnitOfWork,
    actor: Principal,
    sale: TillSale,
    request: PosReturnRequest,
    reason: str,
) -> PosReturn:
    sold = {line.variant_id: line for line in sale.lines}
    asked: dict[UUID, list[tuple[int, ReturnedLine]]] = defaultdict(list)
    for index, line in enumerate(request.lines):
        if line.variant_id not in sold:
            raise _error(
                InventoryErrorCode.NOT_FOUND,
                "This variant is not in the sale.",
                "lines",
                str(index),
                "variantId",
            )
        asked[line.variant_id].append((index, line))
    return_id = new_id()
    lines: list[PosReturnLine] = []
    goods: list[ReturnedGoods] = []
    for variant_id in sorted(asked):  # the sale lines' lock order
        parts, sale_line = asked[variant_id], sold[variant_id]
        units = sum(line.quantity for _, line in parts)
        before = await uow.till_returns.take_returned(sale.id, variant_id, units)
        if before is None:
            left = sale_line.quantity - sale_line.returned
            raise _error(
                InventoryErrorCode.QUANTITY_EXCEEDED,
                f"{max(left, 0)} of the {sale_line.quantity} sold may still be returned.",
                "lines",
                str(parts[0][0]),
                "quantity",
            )
        for _, line in parts:
            lines.append(_priced(sale_line, line, before))
            before += line.quantity
        damaged = sum(line.quantity for _, line in parts if line.condition is Condition.DAMAGED)
        goods.append(ReturnedGoods(variant_id, units - damaged, damaged))
    pos_return = PosReturn(
        id=return_id,
        location_id=sale.location_id,
        sale_id=sale.id,
        transaction_id=sale.transaction_id,
        member_id=sale.member_id,
        refund_method=request.refund_method,
        refund_amount=sum(line.refund_amount for line in lines),
        points_returned=sum(line.points_returned for line in lines),
        points_reversed=0,
        reason=reason,
        actor=actor.label,
        created_at=deps.clock.now(),
        lines=lines,
    )
    await receive_return_in_uow(
        deps, uow, sale.location_id, goods, pos_return.reference, actor.label
    )
    if sale.member_id is not None:
        event = PosReturnRecorded(
            sale.member_id,
            sale.reference,
            pos_return.reference,
            pos_return.refund_amount,
            sale.paid,
            pos_return.points_returned,
        )
        await deps.events.dispatch(uow, event)
        pos_return = replace(pos_return, points_reversed=event.points.get("reversed", 0))
    await uow.till_returns.add_return(pos_return)
    return pos_return


def _priced(sale_line: TillSaleLine, line: ReturnedLine, before: int) -> PosReturnLine:
    """What `line`'s units get back of the sale line, after `before` units were returned."""
    return PosReturnLine(
        variant_id=line.variant_id,
        condition=line.condition,
        quantity=line.quantity,
        refund_amount=cumulative_share(sale_line.paid, sale_line.quantity, before, line.quantity),
        points_returned=cumulative_share(
            sale_line.points, sale_line.quantity, before, line.quantity
        ),
    )


async def pos_returns(
    deps: InventoryDeps, actor: Principal, location_id: UUID, page: PageRequest
) -> Page[PosReturn]:
    """A store's till returns, newest first: its POS devices and staff, and CS."""
    if not may_read_returns(actor, location_id):
        raise _error(
            InventoryErrorCode.FORBIDDEN, "You may read your own stores' returns.", "locationId"
        )
    async with deps.uow() as uow:
        return await uow.till_returns.returns_at(location_id, page)
