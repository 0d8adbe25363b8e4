"""The Tortoise unit of work: one database transaction around one application-service call."""

from __future__ import annotations

from contextlib import suppress
from contextvars import ContextVar, Token
from types import TracebackType

from tortoise.backends.base.client import TransactionContext
from tortoise.transactions import in_transaction

from infra.cache import Caches
from infra.repositories.aftersales import TortoiseAfterSaleRepository
from infra.repositories.assists import TortoiseAssistRepository
from infra.repositories.automations import TortoiseAutomationRepository
from infra.repositories.cached import (
    CachedApiKeyRepository,
    CachedCatalogRepository,
    CachedDeviceRepository,
    CachedLocationRepository,
    CachedSessionRepository,
)
from infra.repositories.catalog import TortoiseCatalogRepository
from infra.repositories.coupons import TortoiseCouponRepository
from infra.repositories.desk import TortoiseDeskRepository
from infra.repositories.facts import TortoiseMemberFactsRepository
from infra.repositories.group_buys import TortoiseGroupBuyRepository
from infra.repositories.guides import TortoiseGuideRepository
from infra.repositories.hot_rows import TortoiseHotRowRepository
from infra.repositories.identity import (
    TortoiseApiKeyRepository,
    TortoiseDeviceRepository,
    TortoiseSessionRepository,
    TortoiseStaffRepository,
)
from infra.repositories.inventory import TortoiseIdempotencyStore, TortoiseInventoryRepository
from infra.repositories.locations import TortoiseLocationRepository
from infra.repositories.loyalty import TortoiseLoyaltyRepository
from infra.repositories.member_codes import TortoiseMemberCodeRepository
from infra.repositories.member_prices import TortoiseMemberPriceRepository
from infra.repositories.members import TortoiseMemberRepository
from infra.repositories.metrics import SqlMetricsReadModel
from infra.repositories.orders import TortoiseOrderRepository
from infra.repositories.outbox import TortoiseOutboxRepository
from infra.repositories.promotions import TortoiseFlashSaleRepository
from infra.repositories.reconciliation import TortoiseReconciliationRepository
from infra.repositories.referrals import TortoiseReferralRepository
from infra.repositories.reviews import TortoiseReviewRepository
from infra.repositories.segments import TortoiseSegmentRepository
from infra.repositories.subscriptions import TortoiseSubscriptionRepository
from infra.repositories.tags import TortoiseTagRepository
from infra.repositories.till_returns import TortoiseTillReturnRepository


class Repositories:
    """The repositories without a transaction: for reads that need no atomicity. With
    `caches`, the catalog, the locations and the credentials are read through them."""

    def __init__(self, caches: Caches | None = None) -> None:
        self.staff = TortoiseStaffRepository()
        self.devices = (
            CachedDeviceRepository(caches.credentials) if caches else TortoiseDeviceRepository()
        )
        self.api_keys = (
            CachedApiKeyRepository(caches.credentials) if caches else TortoiseApiKeyRepository()
        )
        self.sessions = (
            CachedSessionRepository(caches.credentials) if caches else TortoiseSessionRepository()
        )
        self.catalog = (
            CachedCatalogRepository(caches.catalog) if caches else TortoiseCatalogRepository()
        )
        self.locations = (
            CachedLocationRepository(caches.locations) if caches else TortoiseLocationRepository()
        )
        self.members = TortoiseMemberRepository()
        self.inventory = TortoiseInventoryRepository()
        self.orders = TortoiseOrderRepository()
        self.reconciliations = TortoiseReconciliationRepository()
        self.loyalty = TortoiseLoyaltyRepository()
        self.subscriptions = TortoiseSubscriptionRepository()
        self.idempotency = TortoiseIdempotencyStore()
        self.outbox = TortoiseOutboxRepository()
        self.reviews = TortoiseReviewRepository()
        self.desk = TortoiseDeskRepository()
        self.aftersales = TortoiseAfterSaleRepository()
        self.member_codes = TortoiseMemberCodeRepository()
        self.till_returns = TortoiseTillReturnRepository()
        self.flash_sales = TortoiseFlashSaleRepository()
        self.coupons = TortoiseCouponRepository()
        self.hot_rows = TortoiseHotRowRepository()
        self.member_prices = TortoiseMemberPriceRepository()
        self.assists = TortoiseAssistRepository()
        self.group_buys = TortoiseGroupBuyRepository()
        self.referrals = TortoiseReferralRepository()
        self.guides = TortoiseGuideRepository()
        self.tags = TortoiseTagRepository()
        self.member_facts = TortoiseMemberFactsRepository()
        self.metrics = SqlMetricsReadModel()
        self.automations = TortoiseAutomationRepository()
        self.segments = TortoiseSegmentRepository()


class ReadUnitOfWork(Repositories):
    """The unit-of-work shape without a transaction: for use cases that make one read (each
    statement sees what was committed before it), with no BEGIN/COMMIT round trips. It holds
    no state: one instance may serve every call."""

    async def __aenter__(self) -> ReadUnitOfWork:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


async def _abandon(tx: TransactionContext, error: BaseException) -> None:
    """Give back what a transaction interrupted while opening took. graphql-core cancels the
    sibling fields of a field that failed; a cancel landing in BEGIN, after the transaction
    took SQLite's one lock (or a pooled PostgreSQL connection), left it taken: on SQLite the
    next transaction then waited forever. The context set its connection (`token`) right
    after taking it: from there on its own exit rolls back and gives it back."""
    if getattr(tx, "token", None) is None:
        return  # nothing was taken: the cancel came while waiting for the lock or pool
    with suppress(Exception):  # the connection broke mid-BEGIN: given back all the same
        await tx.__aexit__(type(error), error, error.__traceback__)


# The caches an open unit of work (and those nested in it) changed, told after the outermost
# one commits: telling them earlier would let a reader refill them with what is being replaced.
_changed: ContextVar[set[str] | None] = ContextVar("omnishelf_uow_changed", default=None)


class TortoiseUnitOfWork(Repositories):
    """One transaction. `caches`: told after the commit when the catalog, the locations or
    the credentials (revocations) were written."""

    def __init__(self, caches: Caches | None = None) -> None:
        super().__init__()
        self._caches = caches
        self._tx: TransactionContext | None = None
        self._outermost: Token[set[str] | None] | None = None

    async def __aenter__(self) -> TortoiseUnitOfWork:
        self._tx = in_transaction()
        try:
            await self._tx.__aenter__()
        except BaseException as error:  # interrupted while opening: a cancelled GraphQL field
            await _abandon(self._tx, error)
            self._tx = None
            raise
        if _changed.get() is None:
            self._outermost = _changed.set(set())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._tx is not None
        tx, self._tx = self._tx, None
        changed = _changed.get()
        if changed is not None:
            changed.update(
                name
                for name, repositories in (
                    ("catalog", (self.catalog,)),
                    ("locations", (self.locations,)),
                    ("credentials", (self.sessions, self.devices, self.api_keys)),
                )
                if any(repository.touched for repository in repositories)
            )
        outermost, self._outermost = self._outermost, None
        try:
            await tx.__aexit__(exc_type, exc, tb)
        finally:
            if outermost is not None:
                _changed.reset(outermost)
        if outermost is not None and exc_type is None and changed and self._caches is not None:
            await self._caches.changed(changed)
