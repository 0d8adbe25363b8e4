"""The Tortoise unit of work: one database transaction around one application-service call."""

from __future__ import annotations

from types import TracebackType

from tortoise.backends.base.client import TransactionContext
from tortoise.transactions import in_transaction

from infra.repositories.catalog import TortoiseCatalogRepository
from infra.repositories.identity import (
    TortoiseApiKeyRepository,
    TortoiseDeviceRepository,
    TortoiseSessionRepository,
    TortoiseStaffRepository,
)
from infra.repositories.inventory import TortoiseIdempotencyStore, TortoiseInventoryRepository
from infra.repositories.locations import TortoiseLocationRepository
from infra.repositories.loyalty import TortoiseLoyaltyRepository
from infra.repositories.members import TortoiseMemberRepository
from infra.repositories.orders import TortoiseOrderRepository
from infra.repositories.outbox import TortoiseOutboxRepository
from infra.repositories.subscriptions import TortoiseSubscriptionRepository


class Repositories:
    """The repositories without a transaction: for reads that need no atomicity."""

    def __init__(self) -> None:
        self.staff = TortoiseStaffRepository()
        self.devices = TortoiseDeviceRepository()
        self.api_keys = TortoiseApiKeyRepository()
        self.sessions = TortoiseSessionRepository()
        self.catalog = TortoiseCatalogRepository()
        self.locations = TortoiseLocationRepository()
        self.members = TortoiseMemberRepository()
        self.inventory = TortoiseInventoryRepository()
        self.orders = TortoiseOrderRepository()
        self.loyalty = TortoiseLoyaltyRepository()
        self.subscriptions = TortoiseSubscriptionRepository()
        self.idempotency = TortoiseIdempotencyStore()
        self.outbox = TortoiseOutboxRepository()


class TortoiseUnitOfWork(Repositories):
    def __init__(self) -> None:
        super().__init__()
        self._tx: TransactionContext | None = None

    async def __aenter__(self) -> TortoiseUnitOfWork:
        self._tx = in_transaction()
        await self._tx.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._tx is not None
        tx, self._tx = self._tx, None
        await tx.__aexit__(exc_type, exc, tb)
