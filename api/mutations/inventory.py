from __future__ import annotations

from typing import Any
from uuid import UUID

import strawberry
from strawberry.types import Info

from api.context import Context
from api.errors import InventoryUserError
from api.mutations import actor, mutate
from api.permissions import CanRecordSales, IsAuthenticated, IsStockSyncer
from api.relay import decode_id, encode_id
from api.types.inventory import StockLevel, StockTransfer
from domain.inventory import stock, transfers
from domain.inventory.model import MovementKind, StockLine, TillLine, check_line_count
from domain.inventory.model import StockLevel as DomainLevel
from domain.inventory.model import Transfer as DomainTransfer
from domain.inventory.stock import PosSaleResult


@strawberry.input
class StockLineInput:
    variant_id: strawberry.ID
    quantity: int


def _lines(lines: list[StockLineInput], path: str = "lines") -> list[StockLine]:
    check_line_count(len(lines), path)  # before decoding thousands of ids
    return [
        StockLine(decode_id(x.variant_id, "Variant", [path, str(n), "variantId"]), x.quantity)
        for n, x in enumerate(lines)
    ]


def _till_lines(lines: list[TillLineInput]) -> list[TillLine]:
    check_line_count(len(lines))  # before decoding thousands of ids
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
    errors: list[InventoryUserError] = strawberry.field(default_factory=list)


def _level(level: DomainLevel | None) -> StockLevelPayload:
    return StockLevelPayload(stock_level=StockLevel.from_domain(level) if level else None)


async def _level_now(info: Info[Context, object], changed: dict[str, Any]) -> DomainLevel | None:
    """The level a change (`stock.adjust`, `stock.set_on_hand`) left, read after it commits."""
    return await info.context.runtime.repos.inventory.level(
        UUID(changed["location_id"]), UUID(changed["variant_id"])
    )


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
    errors: list[InventoryUserError] = strawberry.field(default_factory=list)


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
    member_code: str | None = strawberry.field(
        default=None,
        description="The member code the member showed (`me { memberCode }`): the sale is "
        "theirs and may spend their points; the code is used up.",
    )
    points_to_redeem: int = strawberry.field(
        default=0,
        description="With `memberCode`: points that pay part of the sale (100 points = 1 yuan, "
        "at most half of what the till charged); points are earned on the rest.",
    )


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
    points_redeemed: int = strawberry.field(
        default=0, description="Spent by the member whose code the till scanned."
    )
    errors: list[InventoryUserError] = strawberry.field(default_factory=list)


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
    errors: list[InventoryUserError] = strawberry.field(default_factory=list)


def _transfer(transfer: DomainTransfer) -> TransferPayload:
    return TransferPayload(transfer=StockTransfer.from_domain(transfer))


def _pos_sales(result: PosSaleResult) -> RecordPosSalesPayload:
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
        points_redeemed=result.points_redeemed,
    )


@strawberry.type
class InventoryMutations:
    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Receive, return or correct stock by a delta (never below zero).",
    )
    async def inventory_adjust(
        self, info: Info[Context, object], input: InventoryAdjustInput
    ) -> StockLevelPayload:
        deps, caller = info.context.runtime.inventory, actor(info)

        async def run() -> DomainLevel | None:
            change = stock.Adjustment(
                location_id=decode_id(input.location_id, "Location", "locationId"),
                variant_id=decode_id(input.variant_id, "Variant", "variantId"),
                delta=input.delta,
                kind=input.kind,
                reason=input.reason,
                reference=input.reference,
            )
            return await _level_now(
                info, await stock.adjust(deps, caller, change, input.idempotency_key)
            )

        return await mutate(StockLevelPayload, InventoryUserError, run, _level)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="A count: set on hand if it is still `expectedOnHand` (compare-and-swap).",
    )
    async def inventory_set(
        self, info: Info[Context, object], input: InventorySetInput
    ) -> StockLevelPayload:
        deps, caller = info.context.runtime.inventory, actor(info)

        async def run() -> DomainLevel | None:
            changed = await stock.set_on_hand(
                deps,
                caller,
                decode_id(input.location_id, "Location", "locationId"),
                decode_id(input.variant_id, "Variant", "variantId"),
                input.on_hand,
                input.expected_on_hand,
                input.idempotency_key,
                input.reason,
            )
            return await _level_now(info, changed)

        return await mutate(StockLevelPayload, InventoryUserError, run, _level)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def set_safety_stock(
        self, info: Info[Context, object], input: SetSafetyStockInput
    ) -> StockLevelPayload:
        deps, caller = info.context.runtime.inventory, actor(info)
        return await mutate(
            StockLevelPayload,
            InventoryUserError,
            lambda: stock.set_safety_stock(
                deps,
                caller,
                decode_id(input.location_id, "Location", "locationId"),
                decode_id(input.variant_id, "Variant", "variantId"),
                input.safety_stock,
            ),
            _level,
        )

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def inventory_transfer(
        self, info: Info[Context, object], input: InventoryTransferInput
    ) -> TransferPayload:
        deps, caller = info.context.runtime.inventory, actor(info)
        return await mutate(
            TransferPayload,
            InventoryUserError,
            lambda: transfers.create_transfer(
                deps,
                caller,
                decode_id(input.from_location_id, "Location", "fromLocationId"),
                decode_id(input.to_location_id, "Location", "toLocationId"),
                _lines(input.lines),
                input.idempotency_key,
            ),
            _transfer,
        )

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def ship_transfer(
        self, info: Info[Context, object], input: TransferIdInput
    ) -> TransferPayload:
        deps, caller = info.context.runtime.inventory, actor(info)
        return await mutate(
            TransferPayload,
            InventoryUserError,
            lambda: transfers.ship_transfer(
                deps, caller, decode_id(input.transfer_id, "StockTransfer", "transferId")
            ),
            _transfer,
        )

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def receive_transfer(
        self, info: Info[Context, object], input: ReceiveTransferInput
    ) -> TransferPayload:
        deps, caller = info.context.runtime.inventory, actor(info)
        return await mutate(
            TransferPayload,
            InventoryUserError,
            lambda: transfers.receive_transfer(
                deps,
                caller,
                decode_id(input.transfer_id, "StockTransfer", "transferId"),
                _lines(input.lines) if input.lines is not None else None,
            ),
            _transfer,
        )

    @strawberry.mutation(
        permission_classes=[CanRecordSales],
        description="Till sales: idempotent per posTransactionId, never refused.",
    )
    async def record_pos_sales(
        self, info: Info[Context, object], input: RecordPosSalesInput
    ) -> RecordPosSalesPayload:
        deps, caller = info.context.runtime.inventory, actor(info)
        return await mutate(
            RecordPosSalesPayload,
            InventoryUserError,
            lambda: stock.record_pos_sale(
                deps,
                caller,
                decode_id(input.location_id, "Location", "locationId"),
                input.pos_transaction_id,
                _till_lines(input.lines),
                decode_id(input.member_id, "Member", "memberId") if input.member_id else None,
                member_code=input.member_code,
                points_to_redeem=input.points_to_redeem,
            ),
            _pos_sales,
        )

    @strawberry.mutation(
        permission_classes=[IsStockSyncer],
        description="ERP sync: absolute on-hand values by codes, at most 500 rows a call.",
    )
    async def inventory_bulk_set(
        self, info: Info[Context, object], input: InventoryBulkSetInput
    ) -> InventoryBulkSetPayload:
        deps, caller = info.context.runtime.inventory, actor(info)
        rows = [stock.BulkRow(r.location_code, r.variant_code, r.on_hand) for r in input.rows]
        return await mutate(
            InventoryBulkSetPayload,
            InventoryUserError,
            lambda: stock.bulk_set(deps, caller, rows),
            lambda outcomes: InventoryBulkSetPayload(
                results=[
                    StockRowResult(index=o.index, status=o.status, on_hand=o.on_hand)
                    for o in outcomes
                ]
            ),
        )
