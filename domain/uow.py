"""The unit of work: one application-service call is one transaction over these repositories."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Protocol

from domain.aftersales.desk_ports import DeskRepository
from domain.aftersales.member_code_ports import MemberCodeRepository
from domain.aftersales.ports import AfterSaleRepository
from domain.aftersales.review_ports import ReviewRepository
from domain.catalog.ports import CatalogRepository
from domain.engagement.automations_ports import AutomationRepository
from domain.engagement.facts_ports import MemberFactsRepository
from domain.engagement.metrics_ports import MetricsReadModel
from domain.engagement.segments_ports import SegmentRepository
from domain.engagement.tags_ports import TagRepository
from domain.growth.assists_ports import AssistRepository
from domain.growth.group_buys_ports import GroupBuyRepository
from domain.growth.guides_ports import GuideRepository
from domain.growth.referrals_ports import ReferralRepository
from domain.idempotency import IdempotencyStore
from domain.identity.ports import (
    ApiKeyRepository,
    DeviceRepository,
    SessionRepository,
    StaffRepository,
)
from domain.inventory.ports import InventoryRepository
from domain.inventory.till_ports import TillReturnRepository
from domain.locations.ports import LocationRepository
from domain.loyalty.ports import LoyaltyRepository
from domain.members.ports import MemberRepository
from domain.ordering.ports import HotRowRepository, OrderRepository
from domain.ordering.reconcile import ReconciliationRepository
from domain.outbox.ports import OutboxRepository
from domain.promotions.coupons_ports import CouponRepository
from domain.promotions.flash_sales_ports import FlashSaleRepository
from domain.promotions.member_prices_ports import MemberPriceRepository
from domain.subscriptions.ports import SubscriptionRepository


class Contended(Exception):
    """A row the use case must lock next is held by another transaction, and waiting for it
    would invert the lock order (docs/architecture.md, "Lock order"): the transaction gives
    up at once and the use case runs again (infra/db/retry.py), like a lost deadlock but
    without waiting for PostgreSQL to detect one."""


class UnitOfWork(Protocol):
    @property
    def staff(self) -> StaffRepository: ...
    @property
    def devices(self) -> DeviceRepository: ...
    @property
    def api_keys(self) -> ApiKeyRepository: ...
    @property
    def sessions(self) -> SessionRepository: ...
    @property
    def catalog(self) -> CatalogRepository: ...
    @property
    def locations(self) -> LocationRepository: ...
    @property
    def members(self) -> MemberRepository: ...
    @property
    def inventory(self) -> InventoryRepository: ...
    @property
    def orders(self) -> OrderRepository: ...
    @property
    def reconciliations(self) -> ReconciliationRepository: ...
    @property
    def loyalty(self) -> LoyaltyRepository: ...
    @property
    def subscriptions(self) -> SubscriptionRepository: ...
    @property
    def idempotency(self) -> IdempotencyStore: ...
    @property
    def outbox(self) -> OutboxRepository: ...
    @property
    def reviews(self) -> ReviewRepository: ...
    @property
    def desk(self) -> DeskRepository: ...
    @property
    def aftersales(self) -> AfterSaleRepository: ...
    @property
    def member_codes(self) -> MemberCodeRepository: ...
    @property
    def till_returns(self) -> TillReturnRepository: ...
    @property
    def flash_sales(self) -> FlashSaleRepository: ...
    @property
    def coupons(self) -> CouponRepository: ...
    @property
    def member_prices(self) -> MemberPriceRepository: ...
    @property
    def assists(self) -> AssistRepository: ...
    @property
    def group_buys(self) -> GroupBuyRepository: ...
    @property
    def hot_rows(self) -> HotRowRepository: ...
    @property
    def referrals(self) -> ReferralRepository: ...
    @property
    def guides(self) -> GuideRepository: ...
    @property
    def tags(self) -> TagRepository: ...
    @property
    def member_facts(self) -> MemberFactsRepository: ...
    @property
    def metrics(self) -> MetricsReadModel: ...
    @property
    def automations(self) -> AutomationRepository: ...
    @property
    def segments(self) -> SegmentRepository: ...

    async def __aenter__(self) -> UnitOfWork: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Commit when the block ends normally, roll back when it raises."""
        ...


UnitOfWorkFactory = Callable[[], UnitOfWork]
"""What every context's `Deps` holds: each call opens one transaction."""
