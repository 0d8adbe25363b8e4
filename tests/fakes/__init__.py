"""In-memory fakes of the domain's ports, for unit tests of the use cases without a database.

Each fake subclasses the real Protocol, so mypy checks every signature, and a port method a
fake does not implement makes it abstract: a port that grows breaks here at type-check time,
not in a puzzling test (the assignments at the bottom spell it out). Rows are copied in and
out, as a database would, so a service that changes an entity without saving it changes
nothing; conditional updates keep the SQL repositories' conditions.

- `tables`: `Tables`, everything the database would hold.
- `database`: `FakeDatabase` (a unit-of-work factory) and `FakeUnitOfWork` (rollback on error).
- `members`, `catalog`, `inventory`, `ordering`, `loyalty`, `records`: the repositories.
- `deps`: each context's deps over one `FakeDatabase`.

What the fakes cannot show (locks between transactions, SQL, the real schema) is what
tests/integration runs on PostgreSQL and SQLite.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.fakes.database import FakeDatabase, FakeUnitOfWork
from tests.fakes.tables import Tables

__all__ = ["FakeDatabase", "FakeUnitOfWork", "Tables"]

if TYPE_CHECKING:
    from domain.aftersales.ports import AfterSaleRepository
    from domain.catalog.ports import CatalogRepository
    from domain.clock import FrozenClock
    from domain.idempotency import IdempotencyStore
    from domain.identity.ports import (
        AccessTokens,
        PasswordHasher,
        SessionRepository,
        StaffRepository,
    )
    from domain.inventory.ports import InventoryRepository
    from domain.locations.ports import LocationRepository
    from domain.loyalty.ports import LoyaltyRepository
    from domain.members.ports import MemberRepository, PiiVault
    from domain.ordering.ports import OrderRepository
    from domain.outbox import OutboxRepository
    from domain.uow import UnitOfWork
    from tests.fakes.aftersales import FakeAfterSales
    from tests.fakes.catalog import FakeCatalog, FakeLocations
    from tests.fakes.inventory import FakeInventory
    from tests.fakes.loyalty import FakeLoyalty
    from tests.fakes.members import (
        FakeAccessTokens,
        FakeMemberRepository,
        FakePasswordHasher,
        FakePiiVault,
        FakeSessionRepository,
        FakeStaffRepository,
    )
    from tests.fakes.ordering import FakeOrders
    from tests.fakes.records import FakeIdempotency, FakeOutbox

    # The fakes are the ports, structurally too: mypy checks these assignments.
    _t = Tables()
    _inventory: InventoryRepository = FakeInventory(_t)
    _orders: OrderRepository = FakeOrders(_t)
    _loyalty: LoyaltyRepository = FakeLoyalty(_t)
    _catalog: CatalogRepository = FakeCatalog(_t)
    _locations: LocationRepository = FakeLocations(_t)
    _idempotency: IdempotencyStore = FakeIdempotency(_t)
    _outbox: OutboxRepository = FakeOutbox(_t)
    _aftersales: AfterSaleRepository = FakeAfterSales(_t)
    _members: MemberRepository = FakeMemberRepository(_t)
    _sessions: SessionRepository = FakeSessionRepository(_t)
    _staff: StaffRepository = FakeStaffRepository(_t)
    _uow: UnitOfWork = FakeUnitOfWork(FakeDatabase())
    _vault: PiiVault = FakePiiVault()
    _tokens: AccessTokens = FakeAccessTokens(FrozenClock())
    _hasher: PasswordHasher = FakePasswordHasher()
