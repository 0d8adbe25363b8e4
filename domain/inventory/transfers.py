"""Transfers between locations: created, shipped (leaves the source), received (arrives,
possibly short or over; the difference is a discrepancy at the destination)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from domain.errors import InventoryError, InventoryErrorCode
from domain.idempotency import once
from domain.identity.model import Principal
from domain.ids import new_id
from domain.inventory.deps import InventoryDeps
from domain.inventory.model import (
    Discrepancy,
    DiscrepancyKind,
    InsufficientStock,
    Movement,
    MovementKind,
    Shortage,
    StockLine,
    Transfer,
    TransferLine,
    TransferState,
    clean_counts,
    clean_lines,
    clean_quantity,
)
from domain.inventory.stock import authorize, check_exists
from domain.uow import UnitOfWork


def _movement(
    deps: InventoryDeps,
    transfer: Transfer,
    location_id: UUID,
    variant_id: UUID,
    kind: MovementKind,
    delta: int,
    actor: Principal,
) -> Movement:
    return Movement(
        id=new_id(),
        location_id=location_id,
        variant_id=variant_id,
        kind=kind,
        on_hand_delta=delta,
        reserved_delta=0,
        reason=f"transfer {kind.value.lower()}",
        reference=f"transfer:{transfer.id}",
        actor=actor.label,
        created_at=deps.clock.now(),
    )


async def create_transfer(
    deps: InventoryDeps,
    actor: Principal,
    from_location_id: UUID,
    to_location_id: UUID,
    lines: Sequence[StockLine],
    idempotency_key: str | None,
) -> Transfer:
    authorize(actor, from_location_id, "fromLocationId")
    if from_location_id == to_location_id:
        raise InventoryError(
            InventoryErrorCode.SAME_LOCATION,
            "A transfer goes between two different locations.",
            ["toLocationId"],
        )
    ordered = clean_lines(lines)
    async with deps.uow() as uow:

        async def run() -> dict[str, Any]:
            await check_exists(
                uow,
                from_location_id,
                [line.variant_id for line in lines],
                location_field="fromLocationId",
                lines_field="lines",
            )
            if await uow.locations.get(to_location_id) is None:
                raise InventoryError(
                    InventoryErrorCode.NOT_FOUND, "Unknown location.", ["toLocationId"]
                )
            transfer = Transfer(
                id=new_id(),
                from_location_id=from_location_id,
                to_location_id=to_location_id,
                state=TransferState.CREATED,
                lines=[TransferLine(x.variant_id, x.quantity) for x in ordered],
                created_at=deps.clock.now(),
                actor=actor.label,
            )
            await uow.inventory.add_transfer(transfer)
            return {"transfer_id": str(transfer.id)}

        payload = {
            "f": str(from_location_id),
            "t": str(to_location_id),
            "l": [[str(x.variant_id), x.quantity] for x in ordered],
        }
        result = await once(
            uow.idempotency,
            f"{actor.label}:inventoryTransfer",
            idempotency_key,
            payload,
            deps.clock.now(),
            run,
        )
        found = await uow.inventory.get_transfer(UUID(result["transfer_id"]))
    assert found is not None
    return found


async def _locked(uow: UnitOfWork, transfer_id: UUID) -> Transfer:
    transfer = await uow.inventory.get_transfer(transfer_id, lock=True)
    if transfer is None:
        raise InventoryError(InventoryErrorCode.NOT_FOUND, "Unknown transfer.", ["transferId"])
    return transfer


async def ship_transfer(deps: InventoryDeps, actor: Principal, transfer_id: UUID) -> Transfer:
    """The goods leave the source: only available units can ship."""
    async with deps.uow() as uow:
        transfer = await _locked(uow, transfer_id)
        authorize(actor, transfer.from_location_id, "transferId")
        if transfer.state is not TransferState.CREATED:
            raise InventoryError(
                InventoryErrorCode.TRANSFER_ALREADY_SHIPPED,
                "This transfer has shipped.",
                ["transferId"],
            )
        short = []
        for line in transfer.lines:
            moved = await uow.inventory.try_change_on_hand(
                transfer.from_location_id, line.variant_id, -line.quantity, keep_available=True
            )
            if moved is None:
                level = await uow.inventory.level(transfer.from_location_id, line.variant_id)
                short.append(
                    Shortage(line.variant_id, line.quantity, level.available if level else 0)
                )
        if short:
            raise InsufficientStock(short, transfer.from_location_id)
        await uow.inventory.add_movements(
            [
                _movement(
                    deps,
                    transfer,
                    transfer.from_location_id,
                    x.variant_id,
                    MovementKind.TRANSFER_OUT,
                    -x.quantity,
                    actor,
                )
                for x in transfer.lines
            ]
        )
        transfer.state, transfer.shipped_at = TransferState.SHIPPED, deps.clock.now()
        await uow.inventory.save_transfer(transfer)
    return transfer


async def receive_transfer(
    deps: InventoryDeps,
    actor: Principal,
    transfer_id: UUID,
    received: Sequence[StockLine] | Mapping[UUID, int] | None = None,
) -> Transfer:
    """The goods arrive. Quantities default to what shipped; differences are recorded.
    `received`: the counted lines (checked by `clean_counts`) or counts by variant."""
    if received is None or isinstance(received, Mapping):
        counted = dict(received or {})
        for variant_id, quantity in counted.items():
            clean_quantity(quantity, ["lines", str(variant_id), "quantity"], allow_zero=True)
    else:
        counted = clean_counts(received)
    async with deps.uow() as uow:
        transfer = await _locked(uow, transfer_id)
        authorize(actor, transfer.to_location_id, "transferId")
        if transfer.state is TransferState.CREATED:
            raise InventoryError(
                InventoryErrorCode.TRANSFER_NOT_SHIPPED,
                "Ship the transfer before receiving it.",
                ["transferId"],
            )
        if transfer.state is TransferState.RECEIVED:
            raise InventoryError(
                InventoryErrorCode.TRANSFER_ALREADY_RECEIVED,
                "This transfer was received.",
                ["transferId"],
            )
        unknown = set(counted) - {x.variant_id for x in transfer.lines}
        if unknown:
            raise InventoryError(
                InventoryErrorCode.INVALID_INPUT,
                "A received line is not on this transfer.",
                ["lines"],
            )
        movements, differences = [], []
        for line in transfer.lines:
            line.received = counted.get(line.variant_id, line.quantity)
            if line.received:
                await uow.inventory.ensure_level(transfer.to_location_id, line.variant_id)
                await uow.inventory.try_change_on_hand(
                    transfer.to_location_id, line.variant_id, line.received
                )
                movements.append(
                    _movement(
                        deps,
                        transfer,
                        transfer.to_location_id,
                        line.variant_id,
                        MovementKind.TRANSFER_IN,
                        line.received,
                        actor,
                    )
                )
            if line.received != line.quantity:
                kind = (
                    DiscrepancyKind.TRANSFER_SHORT
                    if line.received < line.quantity
                    else DiscrepancyKind.TRANSFER_OVER
                )
                differences.append(
                    Discrepancy(
                        new_id(),
                        transfer.to_location_id,
                        line.variant_id,
                        kind,
                        abs(line.quantity - line.received),
                        f"transfer:{transfer.id}",
                        deps.clock.now(),
                    )
                )
        await uow.inventory.add_movements(movements)
        await uow.inventory.add_discrepancies(differences)
        transfer.state, transfer.received_at = TransferState.RECEIVED, deps.clock.now()
        await uow.inventory.save_transfer(transfer)
    return transfer
