from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from api.context import Context
from api.relay import Node, encode_id
from api.types.catalog import Variant
from api.types.locations import Location
from domain.inventory import model as m
from domain.inventory.model import (
    DiscrepancyKind,
    MovementKind,
    ReservationState,
    StockStatus,
    TransferState,
)

for _enum in (StockStatus, MovementKind, ReservationState, TransferState, DiscrepancyKind):
    strawberry.enum(_enum)


async def _location(info: Info[Context, Any], key: Any) -> Location:
    found = await info.context.loaders.location.load(key)
    assert found is not None, "stock rows reference existing locations"
    return Location.from_domain(found)


async def _variant(info: Info[Context, Any], key: Any) -> Variant:
    found = await info.context.loaders.variant.load(key)
    assert found is not None, "stock rows reference existing variants"
    return Variant.from_domain(found)


@strawberry.type
class _AtLevel:
    """Rows about one (location, variant) stock level resolve both through the loaders."""

    location_key: strawberry.Private[Any]
    variant_key: strawberry.Private[Any]

    @strawberry.field
    async def location(self, info: Info[Context, Any]) -> Location:
        return await _location(info, self.location_key)

    @strawberry.field
    async def variant(self, info: Info[Context, Any]) -> Variant:
        return await _variant(info, self.variant_key)


@strawberry.type(description="Stock of one variant at one location.")
class StockLevel(_AtLevel):
    on_hand: int = strawberry.field(description="Units physically there.")
    reserved: int = strawberry.field(description="Units held for orders not yet handed over.")
    safety_stock: int = strawberry.field(description="Units never offered online.")
    available: int = strawberry.field(description="on_hand - reserved - safety_stock, >= 0.")

    @classmethod
    def from_domain(cls, level: m.StockLevel) -> StockLevel:
        return cls(
            on_hand=level.on_hand,
            reserved=level.reserved,
            safety_stock=level.safety_stock,
            available=level.available,
            location_key=level.location_id,
            variant_key=level.variant_id,
        )


@strawberry.type(description="Whether a location has the variant; quantities for staff only.")
class LocationAvailability:
    location: Location
    status: StockStatus
    distance: float | None = strawberry.field(description="Metres from `near`, if given.")
    quantity: int | None = strawberry.field(
        description="Units available: staff and API keys only; null for shoppers."
    )


@strawberry.type(description="One line of the append-only stock ledger.")
class StockMovement(Node, _AtLevel):
    kind: MovementKind
    on_hand_delta: int
    reserved_delta: int
    reason: str
    reference: str
    actor: str
    created_at: datetime

    @classmethod
    def from_domain(cls, movement: m.Movement) -> StockMovement:
        return cls(
            id=encode_id("StockMovement", movement.id),
            kind=movement.kind,
            on_hand_delta=movement.on_hand_delta,
            reserved_delta=movement.reserved_delta,
            reason=movement.reason,
            reference=movement.reference,
            actor=movement.actor,
            created_at=movement.created_at,
            location_key=movement.location_id,
            variant_key=movement.variant_id,
        )


@strawberry.type
class TransferLine:
    quantity: int
    received: int | None
    variant_key: strawberry.Private[Any]

    @strawberry.field
    async def variant(self, info: Info[Context, Any]) -> Variant:
        return await _variant(info, self.variant_key)


@strawberry.type
class StockTransfer(Node):
    state: TransferState
    lines: list[TransferLine]
    created_at: datetime
    shipped_at: datetime | None
    received_at: datetime | None
    from_key: strawberry.Private[Any]
    to_key: strawberry.Private[Any]

    @classmethod
    def from_domain(cls, transfer: m.Transfer) -> StockTransfer:
        return cls(
            id=encode_id("StockTransfer", transfer.id),
            state=transfer.state,
            lines=[
                TransferLine(quantity=x.quantity, received=x.received, variant_key=x.variant_id)
                for x in transfer.lines
            ],
            created_at=transfer.created_at,
            shipped_at=transfer.shipped_at,
            received_at=transfer.received_at,
            from_key=transfer.from_location_id,
            to_key=transfer.to_location_id,
        )

    @strawberry.field
    async def from_location(self, info: Info[Context, Any]) -> Location:
        return await _location(info, self.from_key)

    @strawberry.field
    async def to_location(self, info: Info[Context, Any]) -> Location:
        return await _location(info, self.to_key)


@strawberry.type(description="Stock the system could not account for: the store should recount.")
class StockDiscrepancy(_AtLevel):
    kind: DiscrepancyKind
    quantity: int
    reference: str
    created_at: datetime

    @classmethod
    def from_domain(cls, item: m.Discrepancy) -> StockDiscrepancy:
        return cls(
            kind=item.kind,
            quantity=item.quantity,
            reference=item.reference,
            created_at=item.created_at,
            location_key=item.location_id,
            variant_key=item.variant_id,
        )
