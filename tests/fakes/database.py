"""The fake database: the tables, one repository per port over them, and units of work.

`FakeDatabase` is also the unit-of-work factory the services' deps take (`deps.uow()`). A
`FakeUnitOfWork` snapshots the tables when it starts and restores them when its block raises
(rollback); a normal exit keeps the writes (commit). Ports no fake stands for yet (devices,
API keys, subscriptions, reviews) raise when a use case reaches them, so a test cannot pass by
skipping a write."""

from __future__ import annotations

from types import TracebackType
from typing import NoReturn

from domain.ordering.ports import HotRowRepository, HotTake, HotTaken
from domain.uow import UnitOfWork
from tests.fakes.aftersales import FakeAfterSales
from tests.fakes.catalog import FakeCatalog, FakeLocations
from tests.fakes.group_buys import FakeGroupBuys
from tests.fakes.inventory import FakeInventory
from tests.fakes.loyalty import FakeLoyalty
from tests.fakes.members import FakeMemberRepository, FakeSessionRepository, FakeStaffRepository
from tests.fakes.ordering import FakeOrders
from tests.fakes.promotions import FakeFlashSales, FakeMemberPrices
from tests.fakes.records import FakeIdempotency, FakeMemberCodes, FakeOutbox
from tests.fakes.tables import Tables
from tests.fakes.till_returns import FakeTillReturns


class FakeHotRows(HotRowRepository):
    """Like SQLite: the checkout takes its hot rows one by one through the fakes above."""

    async def take_together(self, take: HotTake) -> HotTaken | None:
        return None


def _unfaked(port: str) -> AssertionError:
    return AssertionError(f"uow.{port} has no fake: test this use case in tests/integration")


class FakeUnitOfWork(UnitOfWork):
    """Commit on a normal exit; on an exception, put back the snapshot taken at the start."""

    def __init__(self, database: FakeDatabase):
        self._db = database
        self._snapshot: Tables | None = None

    @property
    def members(self) -> FakeMemberRepository:
        return self._db.members

    @property
    def sessions(self) -> FakeSessionRepository:
        return self._db.sessions

    @property
    def staff(self) -> FakeStaffRepository:
        return self._db.staff

    @property
    def catalog(self) -> FakeCatalog:
        return self._db.catalog

    @property
    def locations(self) -> FakeLocations:
        return self._db.locations

    @property
    def inventory(self) -> FakeInventory:
        return self._db.inventory

    @property
    def orders(self) -> FakeOrders:
        return self._db.orders

    @property
    def loyalty(self) -> FakeLoyalty:
        return self._db.loyalty

    @property
    def idempotency(self) -> FakeIdempotency:
        return self._db.idempotency

    @property
    def outbox(self) -> FakeOutbox:
        return self._db.outbox

    @property
    def member_codes(self) -> FakeMemberCodes:
        return self._db.member_codes

    @property
    def till_returns(self) -> FakeTillReturns:
        return self._db.till_returns

    @property
    def flash_sales(self) -> FakeFlashSales:
        return self._db.flash_sales

    @property
    def member_prices(self) -> FakeMemberPrices:
        return self._db.member_prices

    @property
    def group_buys(self) -> FakeGroupBuys:
        return self._db.group_buys

    @property
    def devices(self) -> NoReturn:
        raise _unfaked("devices")

    @property
    def api_keys(self) -> NoReturn:
        raise _unfaked("api_keys")

    @property
    def reconciliations(self) -> NoReturn:
        raise _unfaked("reconciliations")

    @property
    def subscriptions(self) -> NoReturn:
        raise _unfaked("subscriptions")

    @property
    def reviews(self) -> NoReturn:
        raise _unfaked("reviews")

    @property
    def coupons(self) -> NoReturn:
        raise _unfaked("coupons")

    @property
    def assists(self) -> NoReturn:
        raise _unfaked("assists")

    @property
    def desk(self) -> NoReturn:
        raise _unfaked("desk")

    @property
    def hot_rows(self) -> FakeHotRows:
        return self._db.hot_rows

    @property
    def referrals(self) -> NoReturn:
        raise _unfaked("referrals")

    @property
    def guides(self) -> NoReturn:
        raise _unfaked("guides")

    @property
    def tags(self) -> NoReturn:
        raise _unfaked("tags")

    @property
    def member_facts(self) -> NoReturn:
        raise _unfaked("member_facts")

    @property
    def metrics(self) -> NoReturn:
        raise _unfaked("metrics")

    @property
    def automations(self) -> NoReturn:
        raise _unfaked("automations")

    @property
    def segments(self) -> NoReturn:
        raise _unfaked("segments")

    @property
    def aftersales(self) -> FakeAfterSales:
        return self._db.aftersales

    async def __aenter__(self) -> FakeUnitOfWork:
        assert self._snapshot is None, "a unit of work is entered once"
        self._snapshot = self._db.tables.snapshot()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._snapshot is not None
        if exc_type is None:
            self._db.commits += 1
        else:
            self._db.tables.restore(self._snapshot)
            self._db.rollbacks += 1
        self._snapshot = None


class FakeDatabase:
    """The tables and their repositories; calling it opens a unit of work."""

    def __init__(self) -> None:
        self.tables = Tables()
        self.members = FakeMemberRepository(self.tables)
        self.sessions = FakeSessionRepository(self.tables)
        self.staff = FakeStaffRepository(self.tables)
        self.catalog = FakeCatalog(self.tables)
        self.locations = FakeLocations(self.tables)
        self.inventory = FakeInventory(self.tables)
        self.orders = FakeOrders(self.tables)
        self.loyalty = FakeLoyalty(self.tables)
        self.idempotency = FakeIdempotency(self.tables)
        self.outbox = FakeOutbox(self.tables)
        self.aftersales = FakeAfterSales(self.tables)
        self.member_codes = FakeMemberCodes(self.tables)
        self.till_returns = FakeTillReturns(self.tables)
        self.flash_sales = FakeFlashSales(self.tables)
        self.group_buys = FakeGroupBuys(self.tables)
        self.member_prices = FakeMemberPrices(self.tables)
        self.hot_rows = FakeHotRows()
        self.commits = 0
        self.rollbacks = 0

    def __call__(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self)
