from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from uuid import UUID

import strawberry
from strawberry.types import Info

from api.context import Context
from api.errors import InventoryError, user_error
from api.permissions import CanRecordSales, IsAuthenticated, IsStockSyncer
from api.relay import decode_id, encode_id
from api.types.inventory import StockLevel, StockTransfer
from domain.errors import DomainError, InventoryErrorCode
from domain.errors import InventoryError as DomainInventoryError
from domain.identity.model import Principal
from domain.inventory import stock, transfers
from domain.inventory.model import (
    MAX_LINES,
    InsufficientStock,
    MovementKind,
    StaleQuantity,
    StockLine,
    TillLine,
)
from domain.inventory.model import StockLevel as DomainLevel

T = TypeVar("T")


def inventory_errors(error: DomainError) -> list[InventoryError]:
    """Shortages become one error per short line, naming the variant and what is there."""
    if isinstance(error, InsufficientStock):
        return [
            InventoryError(
                code=InventoryErrorCode.INSUFFICIENT_STOCK,
                field=["lines"],
                message=f"Only {s.available} available; {s.requested} requested.",
                variant_id=encode_id("Variant", s.variant_id),
                available=s.available,
            )
            for s in error.shortages
        ]
    converted: InventoryError = user_error(InventoryError, error)
    if isinstance(error, StaleQuantity):
        converted.current_on_hand = error.current_on_hand
    return [converted]


async def attempt_stock(
    action: Callable[[], Awaitable[T]],
) -> tuple[T | None, list[InventoryError]]:
    try:
        return await action(), []
    except DomainError as error:
        return None, inventory_errors(error)


def _principal(info: Info[Context, Any]) -> Principal:
    principal = info.context.principal
    assert principal is not None
    return principal


@strawberry.input
class StockLineInput:
    variant_id: strawberry.ID
    quantity: int


def _lines(lines: list[StockLineInput], path: str = "lines") -> list[StockLine]:
    if len(lines) > MAX_LINES:  # before decoding thousands of ids
        raise DomainInventoryError(
            InventoryErrorCode.TOO_MANY_ITEMS, f"At most {MAX_LINES} lines.", [path]
        )
    return [
        StockLine(decode_id(x.variant_id, "Variant", [path, str(n), "variantId"]), x.quantity)
        for n, x in enumerate(lines)
    ]


def _till_lines(lines: list[TillLineInput]) -> list[TillLine]:
    if len(lines) > MAX_LINES:
        raise DomainInventoryError(
            InventoryErrorCode.TOO_MANY_ITEMS, f"At most {MAX_LINES} lines.", ["lines"]
        )
    return [
        TillLine(
            decode_id(x.variant_id, "Variant", ["lines", str(n), "variantId"]),
            x.quantity,
            x.line_total,
        )
        for n, x in enumerate(lines)
    ]


@strawberry.type
class StockLevelPayload:
    stock_level: StockLevel | None = None
    errors: list[InventoryError] = strawberry.field(default_factory=list)


async def _level_payload(
    info: Info[Context, Any], result: dict[str, Any] | None, errors: list[InventoryError]
) -> StockLevelPayload:
    if result is None:
        return StockLevelPayload(errors=errors)
    level = await info.context.runtime.repos.inventory.level(
        UUID(result["location_id"]), UUID(result["variant_id"])
    )
    return StockLevelPayload(stock_level=StockLevel.from_domain(level) if level else None)


@strawberry.input
class InventoryAdjustInput:
    location_id: strawberry.ID
    variant_id: strawberry.ID
    delta: int = strawberry.field(description="Units to add (or remove, for ADJUSTMENT).")
    kind: MovementKind = MovementKind.ADJUSTMENT
    reason: str = ""
    reference: str = ""
    idempotency_key: str | None = None


@strawberry.input
class InventorySetInput:
    location_id: strawberry.ID
    variant_id: strawberry.ID
    on_hand: int
    expected_on_hand: int = strawberry.field(description="What you believe is there now.")
    reason: str = "count"
    idempotency_key: str | None = None


@strawberry.input
class SetSafetyStockInput:
    location_id: strawberry.ID
    variant_id: strawberry.ID
    safety_stock: int


@strawberry.input
class InventoryTransferInput:
    from_location_id: strawberry.ID
    to_location_id: strawberry.ID
    lines: list[StockLineInput]
    idempotency_key: str | None = None


@strawberry.input
class TransferIdInput:
    transfer_id: strawberry.ID


@strawberry.input
class ReceiveTransferInput:
    transfer_id: strawberry.ID
    lines: list[StockLineInput] | None = strawberry.field(
        default=None, description="Counted quantities; lines left out arrived in full."
    )


@strawberry.type
class TransferPayload:
    transfer: StockTransfer | None = None
    errors: list[InventoryError] = strawberry.field(default_factory=list)


@strawberry.input
class TillLineInput:
    variant_id: strawberry.ID
    quantity: int = strawberry.field(description="1 to 9,999.")
    line_total: int = strawberry.field(
        description="Fen the till charged for the line, after its own discounts: what a member "
        "earns points and growth on (0 up to twice the catalog price by default)."
    )


@strawberry.input
class RecordPosSalesInput:
    location_id: strawberry.ID
    pos_transaction_id: str
    lines: list[TillLineInput]
    member_id: strawberry.ID | None = None


@strawberry.type
class PosSaleLine:
    variant_id: strawberry.ID
    quantity: int
    taken_from_stock: int = strawberry.field(
        description="Units the system count covered; the rest is a discrepancy to recount."
    )


@strawberry.type
class RecordPosSalesPayload:
    lines: list[PosSaleLine] | None = None
    discrepancies: int = 0
    reservations_at_risk: int = 0
    replayed: bool = strawberry.field(
        default=False, description="This till transaction was recorded before; nothing changed."
    )
    points_earned: int = strawberry.field(default=0, description="Credited to the member now.")
    points_pending: int = strawberry.field(
        default=0,
        description="Above the per-sale cap: waiting for a store manager or CS "
        "(`pointsClaims`, `approvePointsClaim`).",
    )
    points_claim_id: strawberry.ID | None = None
    errors: list[InventoryError] = strawberry.field(default_factory=list)


@strawberry.input
class StockRowInput:
    location_code: str
    variant_code: str
    on_hand: int


@strawberry.input
class InventoryBulkSetInput:
    rows: list[StockRowInput]


@strawberry.type
class StockRowResult:
    index: int
    status: str = strawberry.field(
        description="SET, UNCHANGED, UNKNOWN_LOCATION, UNKNOWN_VARIANT or INVALID_QUANTITY."
    )
    on_hand: int | None


@strawberry.type
class InventoryBulkSetPayload:
    results: list[StockRowResult] | None = None
    errors: list[InventoryError] = strawberry.field(default_factory=list)


def _transfer_payload(transfer: Any, errors: list[InventoryError]) -> TransferPayload:
    return TransferPayload(
        transfer=StockTransfer.from_domain(transfer) if transfer else None, errors=errors
    )


@strawberry.type
class InventoryMutations:
    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Receive, return or correct stock by a delta (never below zero).",
    )
    async def inventory_adjust(
        self, info: Info[Context, Any], input: InventoryAdjustInput
    ) -> StockLevelPayload:
        deps, actor = info.context.runtime.inventory, _principal(info)

        async def run() -> dict[str, Any]:
            change = stock.Adjustment(
                location_id=decode_id(input.location_id, "Location", "locationId"),
                variant_id=decode_id(input.variant_id, "Variant", "variantId"),
                delta=input.delta,
                kind=input.kind,
                reason=input.reason,
                reference=input.reference,
            )
            return await stock.adjust(deps, actor, change, input.idempotency_key)

        return await _level_payload(info, *await attempt_stock(run))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="A count: set on hand if it is still `expectedOnHand` (compare-and-swap).",
    )
    async def inventory_set(
        self, info: Info[Context, Any], input: InventorySetInput
    ) -> StockLevelPayload:
        deps, actor = info.context.runtime.inventory, _principal(info)

        async def run() -> dict[str, Any]:
            return await stock.set_on_hand(
                deps,
                actor,
                decode_id(input.location_id, "Location", "locationId"),
                decode_id(input.variant_id, "Variant", "variantId"),
                input.on_hand,
                input.expected_on_hand,
                input.idempotency_key,
                input.reason,
            )

        return await _level_payload(info, *await attempt_stock(run))

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def set_safety_stock(
        self, info: Info[Context, Any], input: SetSafetyStockInput
    ) -> StockLevelPayload:
        deps, actor = info.context.runtime.inventory, _principal(info)

        async def run() -> DomainLevel:
            return await stock.set_safety_stock(
                deps,
                actor,
                decode_id(input.location_id, "Location", "locationId"),
                decode_id(input.variant_id, "Variant", "variantId"),
                input.safety_stock,
            )

        level, errors = await attempt_stock(run)
        return StockLevelPayload(
            stock_level=StockLevel.from_domain(level) if level else None, errors=errors
        )

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def inventory_transfer(
        self, info: Info[Context, Any], input: InventoryTransferInput
    ) -> TransferPayload:
        deps, actor = info.context.runtime.inventory, _principal(info)

        async def run() -> Any:
            return await transfers.create_transfer(
                deps,
                actor,
                decode_id(input.from_location_id, "Location", "fromLocationId"),
                decode_id(input.to_location_id, "Location", "toLocationId"),
                _lines(input.lines),
                input.idempotency_key,
            )

        return _transfer_payload(*await attempt_stock(run))

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def ship_transfer(
        self, info: Info[Context, Any], input: TransferIdInput
    ) -> TransferPayload:
        deps, actor = info.context.runtime.inventory, _principal(info)

        async def run() -> Any:
            transfer_id = decode_id(input.transfer_id, "StockTransfer", "transferId")
            return await transfers.ship_transfer(deps, actor, transfer_id)

        return _transfer_payload(*await attempt_stock(run))

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def receive_transfer(
        self, info: Info[Context, Any], input: ReceiveTransferInput
    ) -> TransferPayload:
        deps, actor = info.context.runtime.inventory, _principal(info)

        async def run() -> Any:
            transfer_id = decode_id(input.transfer_id, "StockTransfer", "transferId")
            counted = _lines(input.lines) if input.lines is not None else None
            return await transfers.receive_transfer(deps, actor, transfer_id, counted)

        return _transfer_payload(*await attempt_stock(run))

    @strawberry.mutation(
        permission_classes=[CanRecordSales],
        description="Till sales: idempotent per posTransactionId, never refused.",
    )
    async def record_pos_sales(
        self, info: Info[Context, Any], input: RecordPosSalesInput
    ) -> RecordPosSalesPayload:
        deps, actor = info.context.runtime.inventory, _principal(info)

        async def run() -> Any:
            member = decode_id(input.member_id, "Member", "memberId") if input.member_id else None
            return await stock.record_pos_sale(
                deps,
                actor,
                decode_id(input.location_id, "Location", "locationId"),
                input.pos_transaction_id,
                _till_lines(input.lines),
                member,
            )

        result, errors = await attempt_stock(run)
        if result is None:
            return RecordPosSalesPayload(errors=errors)
        return RecordPosSalesPayload(
            lines=[
                PosSaleLine(variant_id=encode_id("Variant", v), quantity=q, taken_from_stock=t)
                for v, q, t in result.lines
            ],
            discrepancies=result.discrepancies,
            reservations_at_risk=result.at_risk,
            replayed=result.replayed,
            points_earned=result.points_earned,
            points_pending=result.points_pending,
            points_claim_id=encode_id("PointsClaim", result.points_claim_id)
            if result.points_claim_id
            else None,
        )

    @strawberry.mutation(
        permission_classes=[IsStockSyncer],
        description="ERP sync: absolute on-hand values by codes, at most 500 rows a call.",
    )
    async def inventory_bulk_set(
        self, info: Info[Context, Any], input: InventoryBulkSetInput
    ) -> InventoryBulkSetPayload:
        deps, actor = info.context.runtime.inventory, _principal(info)
        rows = [stock.BulkRow(r.location_code, r.variant_code, r.on_hand) for r in input.rows]
        outcomes, errors = await attempt_stock(lambda: stock.bulk_set(deps, actor, rows))
        if outcomes is None:
            return InventoryBulkSetPayload(errors=errors)
        return InventoryBulkSetPayload(
            results=[
                StockRowResult(index=o.index, status=o.status, on_hand=o.on_hand) for o in outcomes
            ]
        )
