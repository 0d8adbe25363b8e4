"""Changing what is on the shelf: adjustments, counts (compare-and-swap), safety stock,
till sales and the ERP's bulk sync. Every change writes the ledger in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

from domain.aftersales.member_codes import (
    MemberCode,
    check_presenter,
    decode_member_code,
    use_member_code_in_uow,
)
from domain.errors import InventoryError, InventoryErrorCode
from domain.events import PosSaleRecorded, ReservationsAtRisk
from domain.idempotency import once
from domain.identity.model import ApiScope, Principal, PrincipalKind
from domain.ids import new_id
from domain.inventory.deps import InventoryDeps
from domain.inventory.model import (
    ADJUSTABLE,
    MAX_QUANTITY,
    Discrepancy,
    DiscrepancyKind,
    InsufficientStock,
    Movement,
    MovementKind,
    ReservationState,
    Shortage,
    StaleQuantity,
    StockLevel,
    TillLine,
    check_till_charges,
    clean_quantity,
    clean_text,
    clean_till_lines,
)
from domain.inventory.till_returns import keep_till_sale_in_uow
from domain.loyalty.model import MAX_POINTS
from domain.uow import UnitOfWork

MAX_BATCH = 500


def can_write_stock(actor: Principal, location_id: UUID) -> bool:
    """ADMIN, API keys with stock:write, or store staff of that store (not CS agents)."""
    if actor.is_admin or actor.has_scope(ApiScope.STOCK_WRITE):
        return True
    return (
        actor.kind is PrincipalKind.STAFF
        and actor.role is not None
        and actor.role.is_store_scoped
        and actor.can_act_on_store(location_id)
    )


def authorize(actor: Principal, location_id: UUID, field: str = "locationId") -> None:
    if not can_write_stock(actor, location_id):
        raise InventoryError(
            InventoryErrorCode.FORBIDDEN,
            "You may change stock only at your own stores (or with the stock:write scope).",
            [field],
        )


async def check_exists(
    uow: UnitOfWork,
    location_id: UUID,
    variant_ids: Sequence[UUID],
    *,
    location_field: str = "locationId",
    lines_field: str | None = None,
) -> dict[UUID, int]:
    """The variants' catalog prices (fen) by id. Paths name the input: `variantId`, or
    `lines.<index>.variantId` for requests with lines."""
    if await uow.locations.get(location_id) is None:
        raise InventoryError(InventoryErrorCode.NOT_FOUND, "Unknown location.", [location_field])
    found = {v.id: v.price.amount for v in await uow.catalog.get_variants(list(variant_ids))}
    for index, variant_id in enumerate(variant_ids):
        if variant_id not in found:
            path = [lines_field, str(index), "variantId"] if lines_field else ["variantId"]
            raise InventoryError(InventoryErrorCode.NOT_FOUND, "Unknown variant.", path)
    return found


def _move(
    deps: InventoryDeps,
    location_id: UUID,
    variant_id: UUID,
    kind: MovementKind,
    on_hand: int,
    reason: str,
    reference: str,
    actor: Principal,
) -> Movement:
    return Movement(
        id=new_id(),
        location_id=location_id,
        variant_id=variant_id,
        kind=kind,
        on_hand_delta=on_hand,
        reserved_delta=0,
        reason=reason,
        reference=reference,
        actor=actor.label,
        created_at=deps.clock.now(),
    )


def level_result(level: StockLevel, movement_id: UUID | None = None) -> dict[str, Any]:
    return {
        "location_id": str(level.location_id),
        "variant_id": str(level.variant_id),
        "movement_id": str(movement_id) if movement_id else None,
    }


@dataclass(frozen=True)
class Adjustment:
    location_id: UUID
    variant_id: UUID
    delta: int
    kind: MovementKind
    reason: str
    reference: str = ""


async def adjust(
    deps: InventoryDeps, actor: Principal, change: Adjustment, idempotency_key: str | None
) -> dict[str, Any]:
    """Receive, return or correct stock by a delta; never below zero."""
    authorize(actor, change.location_id)
    if change.kind not in ADJUSTABLE:
        raise InventoryError(
            InventoryErrorCode.INVALID_INPUT,
            "Adjust with RECEIPT, RETURN or ADJUSTMENT; counts use inventorySet.",
            ["kind"],
        )
    if change.delta == 0 or abs(change.delta) > MAX_QUANTITY:
        raise InventoryError(
            InventoryErrorCode.INVALID_QUANTITY,
            f"`delta` is a non-zero change of at most {MAX_QUANTITY} units.",
            ["delta"],
        )
    if change.kind is not MovementKind.ADJUSTMENT and change.delta < 0:
        raise InventoryError(
            InventoryErrorCode.INVALID_QUANTITY, "Receipts and returns add stock.", ["delta"]
        )
    reason = clean_text(change.reason, "reason")
    reference = clean_text(change.reference, "reference", 100)

    async with deps.uow() as uow:

        async def run() -> dict[str, Any]:
            await check_exists(uow, change.location_id, [change.variant_id])
            await uow.inventory.ensure_level(change.location_id, change.variant_id)
            level = await uow.inventory.try_change_on_hand(
                change.location_id, change.variant_id, change.delta
            )
            if level is None:
                current = await uow.inventory.level(change.location_id, change.variant_id)
                raise InsufficientStock(
                    [Shortage(change.variant_id, -change.delta, current.on_hand if current else 0)],
                    change.location_id,
                )
            movement = _move(
                deps,
                change.location_id,
                change.variant_id,
                change.kind,
                change.delta,
                reason,
                reference,
                actor,
            )
            await uow.inventory.add_movements([movement])
            await _flag_at_risk(deps, uow, level)  # a correction can undercut orders too
            return level_result(level, movement.id)

        payload = {"op": "adjust", **{k: str(v) for k, v in change.__dict__.items()}}
        return await once(
            uow.idempotency,
            f"{actor.label}:inventoryAdjust",
            idempotency_key,
            payload,
            deps.clock.now(),
            run,
        )


async def set_on_hand(
    deps: InventoryDeps,
    actor: Principal,
    location_id: UUID,
    variant_id: UUID,
    on_hand: int,
    expected_on_hand: int,
    idempotency_key: str | None,
    reason: str = "count",
) -> dict[str, Any]:
    """A count: set on_hand only if it is still `expected_on_hand` (compare-and-swap)."""
    authorize(actor, location_id)
    clean_quantity(on_hand, ["onHand"], allow_zero=True)
    clean_quantity(expected_on_hand, ["expectedOnHand"], allow_zero=True)
    why = clean_text(reason, "reason")
    async with deps.uow() as uow:

        async def run() -> dict[str, Any]:
            await check_exists(uow, location_id, [variant_id])
            await uow.inventory.ensure_level(location_id, variant_id)
            level = await uow.inventory.compare_and_set(
                location_id, variant_id, on_hand, expected_on_hand
            )
            if level is None:
                current = await uow.inventory.level(location_id, variant_id)
                raise StaleQuantity(current.on_hand if current else 0, expected_on_hand)
            movement = None
            if on_hand != expected_on_hand:
                movement = _move(
                    deps,
                    location_id,
                    variant_id,
                    MovementKind.COUNT,
                    on_hand - expected_on_hand,
                    why,
                    "",
                    actor,
                )
                await uow.inventory.add_movements([movement])
            await _flag_at_risk(deps, uow, level)
            return level_result(level, movement.id if movement else None)

        payload = {
            "op": "set",
            "l": str(location_id),
            "v": str(variant_id),
            "n": on_hand,
            "e": expected_on_hand,
        }
        return await once(
            uow.idempotency,
            f"{actor.label}:inventorySet",
            idempotency_key,
            payload,
            deps.clock.now(),
            run,
        )


async def set_safety_stock(
    deps: InventoryDeps, actor: Principal, location_id: UUID, variant_id: UUID, quantity: int
) -> StockLevel:
    authorize(actor, location_id)
    clean_quantity(quantity, ["safetyStock"], allow_zero=True)
    async with deps.uow() as uow:
        await check_exists(uow, location_id, [variant_id])
        await uow.inventory.ensure_level(location_id, variant_id)
        return await uow.inventory.set_safety_stock(location_id, variant_id, quantity)


@dataclass(frozen=True)
class PosSaleResult:
    lines: list[tuple[UUID, int, int]]  # variant, sold, taken from the system count
    discrepancies: int
    at_risk: int
    replayed: bool = False
    points_earned: int = 0
    points_pending: int = 0  # above the per-sale cap: waits for a manager's or CS decision
    points_claim_id: UUID | None = None
    points_redeemed: int = 0  # spent by the member whose code the till scanned


async def record_pos_sale(
    deps: InventoryDeps,
    actor: Principal,
    location_id: UUID,
    transaction_id: str,
    lines: Sequence[TillLine],
    member_id: UUID | None = None,
    *,
    member_code: str | None = None,
    points_to_redeem: int = 0,
) -> PosSaleResult:
    """A till sale is a physical fact: it is never refused for stock. Below zero it records a
    discrepancy; below `reserved` it puts reservations AT_RISK and tells their owners. Lines
    carry what the till charged: that, not the catalog, is what a member earns on. Only points
    are refused (a code expired or used, too few points): the till asks for another payment.
    `member_id` is a looked-up member (who earns); `member_code` the code the member showed,
    their consent to spend `points_to_redeem` on this one sale."""
    if not (actor.can_act_on_store(location_id) or actor.is_admin):
        raise InventoryError(
            InventoryErrorCode.FORBIDDEN, "Record sales only for your own store.", ["locationId"]
        )
    code = _till_code(deps, actor, member_code, points_to_redeem)
    tx_id = clean_text(transaction_id, "posTransactionId", 64)
    if not tx_id:
        raise InventoryError(
            InventoryErrorCode.INVALID_INPUT,
            "`posTransactionId` is required.",
            ["posTransactionId"],
        )
    ordered = clean_till_lines(lines)
    now = deps.clock.now()
    async with deps.uow() as uow:
        prices = await check_exists(
            uow, location_id, [line.variant_id for line in lines], lines_field="lines"
        )
        check_till_charges(lines, prices, deps.till_price_ceiling_percent)
        summary = {"lines": [[str(x.variant_id), x.quantity, x.line_total] for x in ordered]}
        first = await uow.inventory.record_pos_transaction(location_id, tx_id, now, summary)
        if first is not None:  # the same answer as the first time (taken, discrepancies...)
            return _replayed(first)
        if code is not None:  # used up with the sale; a refused sale rolls it back
            member_id = (
                await use_member_code_in_uow(deps.member_codes, uow, actor, code, member_id)
            ).id
        result = PosSaleResult(lines=[], discrepancies=0, at_risk=0)
        movements: list[Movement] = []  # every line's, written together
        for line in ordered:
            result = await _sell_line(deps, uow, actor, location_id, tx_id, line, result, movements)
        await uow.inventory.add_movements(movements)
        sale = PosSaleRecorded(
            location_id,
            tx_id,
            member_id,
            tuple((x.variant_id, x.quantity, x.line_total) for x in ordered),
            points_to_redeem,
        )
        await deps.events.dispatch(uow, sale)
        await keep_till_sale_in_uow(uow, location_id, tx_id, member_id, ordered, sale.points)
        claim = sale.points.get("claim")
        result = replace(
            result,
            points_earned=sale.points.get("earned", 0),
            points_pending=sale.points.get("pending", 0),
            points_claim_id=UUID(claim) if claim else None,
            points_redeemed=sale.points.get("redeemed", 0),
        )
        outcome = {
            "lines": [[str(v), q, taken] for v, q, taken in result.lines],
            "discrepancies": result.discrepancies,
            "at_risk": result.at_risk,
            "points": sale.points,
        }
        await uow.inventory.complete_pos_transaction(location_id, tx_id, outcome)
    return result


def _replayed(first: dict[str, Any]) -> PosSaleResult:
    points = first.get("points", {})
    return PosSaleResult(
        lines=[(UUID(x[0]), x[1], x[2] if len(x) > 2 else x[1]) for x in first["lines"]],
        discrepancies=first.get("discrepancies", 0),
        at_risk=first.get("at_risk", 0),
        replayed=True,
        points_earned=points.get("earned", 0),
        points_pending=points.get("pending", 0),
        points_claim_id=UUID(points["claim"]) if points.get("claim") else None,
        points_redeemed=points.get("redeemed", 0),
    )


def _till_code(
    deps: InventoryDeps, actor: Principal, member_code: str | None, points: int
) -> MemberCode | None:
    """The scanned member code, its signature checked before anything is locked (its expiry
    when it is used, after a replayed transaction was answered); points are spent only with
    one."""
    if not 0 <= points <= MAX_POINTS:
        raise InventoryError(
            InventoryErrorCode.INVALID_INPUT,
            f"`pointsToRedeem` is 0 to {MAX_POINTS}.",
            ["pointsToRedeem"],
        )
    if member_code is None:
        if points:
            raise InventoryError(
                InventoryErrorCode.FORBIDDEN,
                "Points are spent at the till only with the member code the member shows.",
                ["pointsToRedeem"],
            )
        return None
    check_presenter(actor)
    return decode_member_code(deps.member_codes, member_code)


async def _sell_line(
    deps: InventoryDeps,
    uow: UnitOfWork,
    actor: Principal,
    location_id: UUID,
    tx_id: str,
    line: TillLine,
    so_far: PosSaleResult,
    movements: list[Movement],
) -> PosSaleResult:
    """Take the line from stock; its movements are appended to `movements`."""
    taken, level = await uow.inventory.take_for_sale(location_id, line.variant_id, line.quantity)
    movements.append(
        _move(
            deps,
            location_id,
            line.variant_id,
            MovementKind.SALE_POS,
            -taken,
            "till sale",
            tx_id,
            actor,
        )
    )
    discrepancies = so_far.discrepancies
    if taken < line.quantity:
        missing = line.quantity - taken
        movements.append(
            _move(
                deps,
                location_id,
                line.variant_id,
                MovementKind.COUNT,
                0,
                f"till sold {missing} more than the system count: recount",
                tx_id,
                actor,
            )
        )
        await uow.inventory.add_discrepancies(
            [
                Discrepancy(
                    new_id(),
                    location_id,
                    line.variant_id,
                    DiscrepancyKind.POS_OVERSOLD,
                    missing,
                    tx_id,
                    deps.clock.now(),
                )
            ]
        )
        discrepancies += 1
    at_risk = so_far.at_risk + await _flag_at_risk(deps, uow, level)
    return PosSaleResult(
        lines=[*so_far.lines, (line.variant_id, line.quantity, taken)],
        discrepancies=discrepancies,
        at_risk=at_risk,
    )


async def _flag_at_risk(deps: InventoryDeps, uow: UnitOfWork, level: StockLevel) -> int:
    """Newest reservations first go AT_RISK until what is still ACTIVE fits on the shelf."""
    gap = level.reserved - level.on_hand
    if gap <= 0:
        return 0
    flagged = []
    for reservation in await uow.inventory.holding_at(level.location_id, level.variant_id):
        if gap <= 0:
            break
        if reservation.state is ReservationState.AT_RISK:
            gap -= reservation.quantity
            continue
        if await uow.inventory.move_reservations(
            [reservation.id], [ReservationState.ACTIVE], ReservationState.AT_RISK
        ):
            flagged.append(reservation)
            gap -= reservation.quantity
    if flagged:
        await deps.events.dispatch(
            uow,
            ReservationsAtRisk(
                level.location_id,
                level.variant_id,
                tuple(sorted({r.owner for r in flagged})),
                tuple(r.id for r in flagged),
            ),
        )
    return len(flagged)


@dataclass(frozen=True)
class BulkRow:
    location_code: str
    variant_code: str
    on_hand: int


@dataclass(frozen=True)
class BulkOutcome:
    index: int
    status: str  # SET, UNCHANGED, UNKNOWN_LOCATION, UNKNOWN_VARIANT, INVALID_QUANTITY
    on_hand: int | None = None


async def bulk_set(
    deps: InventoryDeps, actor: Principal, rows: Sequence[BulkRow]
) -> list[BulkOutcome]:
    """ERP sync: absolute on-hand values, row by row; bad rows are reported, not fatal.
    Running the same file twice changes nothing the second time.

    Rows are resolved first and written in (location, variant) id order, the order every
    other stock writer locks levels in, so two syncs of the same shelf never deadlock."""
    if len(rows) > MAX_BATCH:
        raise InventoryError(
            InventoryErrorCode.TOO_MANY_ITEMS, f"At most {MAX_BATCH} rows per batch.", ["rows"]
        )
    outcomes: dict[int, BulkOutcome] = {}
    targets: list[tuple[UUID, UUID, int, int]] = []  # location, variant, input index, on_hand
    async with deps.uow() as uow:
        for index, row in enumerate(rows):
            resolved = await _resolve_bulk_row(uow, actor, row)
            if isinstance(resolved, str):
                outcomes[index] = BulkOutcome(index, resolved)
            else:
                targets.append((*resolved, index, row.on_hand))
        for location_id, variant_id, index, on_hand in sorted(targets):
            outcomes[index] = await _bulk_write(
                deps, uow, actor, index, location_id, variant_id, on_hand
            )
    return [outcomes[index] for index in range(len(rows))]


async def _resolve_bulk_row(
    uow: UnitOfWork, actor: Principal, row: BulkRow
) -> tuple[UUID, UUID] | str:
    if not 0 <= row.on_hand <= MAX_QUANTITY:
        return "INVALID_QUANTITY"
    location = await uow.locations.get_by_code(row.location_code.strip().upper()[:32])
    if location is None or not can_write_stock(actor, location.id):
        return "UNKNOWN_LOCATION"
    variant = await uow.catalog.variant_by_code(row.variant_code.strip()[:64])
    if variant is None:
        return "UNKNOWN_VARIANT"
    return location.id, variant.id


async def _bulk_write(
    deps: InventoryDeps,
    uow: UnitOfWork,
    actor: Principal,
    index: int,
    location_id: UUID,
    variant_id: UUID,
    on_hand: int,
) -> BulkOutcome:
    await uow.inventory.ensure_level(location_id, variant_id)
    while True:  # compare-and-swap against the value we read; retry if a sale slipped in
        current = await uow.inventory.level(location_id, variant_id)
        before = current.on_hand if current else 0
        if before == on_hand:
            return BulkOutcome(index, "UNCHANGED", before)
        level = await uow.inventory.compare_and_set(location_id, variant_id, on_hand, before)
        if level is not None:
            await uow.inventory.add_movements(
                [
                    _move(
                        deps,
                        location_id,
                        variant_id,
                        MovementKind.COUNT,
                        on_hand - before,
                        "ERP stock sync",
                        "",
                        actor,
                    )
                ]
            )
            await _flag_at_risk(deps, uow, level)  # a lower count can undercut orders
            return BulkOutcome(index, "SET", on_hand)
