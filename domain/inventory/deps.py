"""What the inventory services (reservations, stock, transfers) are given."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.aftersales.deps import MemberCodeDeps
from domain.clock import Clock
from domain.events import EventHandlers
from domain.uow import UnitOfWorkFactory


@dataclass(frozen=True)
class InventoryDeps:
    uow: UnitOfWorkFactory
    clock: Clock
    member_codes: MemberCodeDeps  # a till sale with a member code may spend the member's points
    events: EventHandlers = field(default_factory=EventHandlers)
    till_price_ceiling_percent: int = 200  # a till line may charge up to this of catalog
