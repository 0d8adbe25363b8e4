"""A shop in the fake database, for unit tests of the use cases: stores, variants with stock,
members and staff, put straight into the tables (what earlier use cases would have left)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from domain.catalog.model import CatalogStatus, Money, Product, Variant
from domain.clock import FrozenClock
from domain.identity.model import Principal, PrincipalKind, StaffRole
from domain.ids import new_id
from domain.inventory.model import StockLevel
from domain.locations.model import GeoPoint, Location, LocationStatus, LocationType
from domain.members.model import Channel, Member, MemberStatus
from tests.fakes.database import FakeDatabase

START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a Monday


@dataclass
class FakeShop:
    db: FakeDatabase = field(default_factory=FakeDatabase)
    clock: FrozenClock = field(default_factory=lambda: FrozenClock(START))

    def store(
        self, code: str, lat: float, lon: float, *, pickup: bool = True, ships: bool = False
    ) -> Location:
        now = self.clock.now()
        location = Location(
            id=new_id(),
            code=code,
            name=f"Store {code}",
            type=LocationType.WAREHOUSE if ships and not pickup else LocationType.STORE,
            address="1 Test Rd",
            city="Shanghai",
            point=GeoPoint(lat, lon),
            timezone="Asia/Shanghai",
            opening_hours={},
            pickup_enabled=pickup,
            ships_online=ships,
            status=LocationStatus.ACTIVE,
            created_at=now,
            updated_at=now,
        )
        self.db.tables.locations[location.id] = location
        return location

    def variant(self, code: str, price: int, name: str = "1kg") -> Variant:
        now = self.clock.now()
        product = Product(
            new_id(), "Mango", f"mango-{code}", "", None, CatalogStatus.ACTIVE, now, now
        )
        variant = Variant(
            new_id(), product.id, code, name, Money(price), CatalogStatus.ACTIVE, now, now
        )
        self.db.tables.products[product.id] = product
        self.db.tables.variants[variant.id] = variant
        return variant

    def stock(self, location: Location, variant: Variant, on_hand: int, safety: int = 0) -> None:
        key = (location.id, variant.id)
        self.db.tables.levels[key] = StockLevel(location.id, variant.id, on_hand, 0, safety)

    def level(self, location: Location, variant: Variant) -> tuple[int, int]:
        """(on hand, reserved)."""
        found = self.db.tables.levels.get((location.id, variant.id))
        return (found.on_hand, found.reserved) if found else (0, 0)

    def member(self, name: str = "王小明") -> Principal:
        now = self.clock.now()
        member = Member(
            new_id(), MemberStatus.ACTIVE, name, Channel.MINI_PROGRAM, now, now, "key-1"
        )
        self.db.tables.members[member.id] = member
        return Principal(kind=PrincipalKind.MEMBER, id=member.id)

    def staff(self, *stores: Location, role: StaffRole = StaffRole.STORE_MANAGER) -> Principal:
        return Principal(
            kind=PrincipalKind.STAFF,
            id=new_id(),
            role=role,
            store_ids=frozenset(s.id for s in stores),
        )
