"""Each context's deps wired over one `FakeDatabase`, with the development adapters at the
external boundary (WeChat, SMS, payments) and the in-process ones (rate limiter, live events)."""

from __future__ import annotations

from domain.aftersales.deps import AfterSaleDeps, MemberCodeDeps
from domain.clock import Clock
from domain.events import DataExporters, EventHandlers
from domain.identity.deps import AuthDeps, AuthPolicy
from domain.inventory.deps import InventoryDeps
from domain.loyalty.deps import LoyaltyDeps
from domain.members.deps import MemberDeps
from domain.ordering.deps import OrderingDeps, OrderPolicy
from infra.live import InProcessLiveEvents
from infra.payments import DevPayProvider
from infra.security.ratelimit import MemoryRateLimiter
from infra.security.signing import HmacSigner
from infra.sms import FakeSmsSender
from infra.wechat import FakeWeChatGateway
from tests.fakes.database import FakeDatabase
from tests.fakes.members import (
    WECHAT_APPS,
    FakeAccessTokens,
    FakePasswordHasher,
    FakePiiVault,
)


def member_deps(clock: Clock, database: FakeDatabase | None = None) -> MemberDeps:
    """MemberDeps over the fakes, with the development WeChat and SMS adapters."""
    return MemberDeps(
        auth=AuthDeps(
            uow=database or FakeDatabase(),
            clock=clock,
            hasher=FakePasswordHasher(),
            tokens=FakeAccessTokens(clock),
            limiter=MemoryRateLimiter(),
            policy=AuthPolicy(),
        ),
        vault=FakePiiVault(),
        wechat=FakeWeChatGateway(WECHAT_APPS),
        sms=FakeSmsSender(clock),
        events=EventHandlers(),
        exporters=DataExporters(),
        default_wechat_app=WECHAT_APPS[0],
    )


def database_of(deps: MemberDeps) -> FakeDatabase:
    """The fake database behind `member_deps(...)`, to look at rows and count rollbacks."""
    assert isinstance(deps.auth.uow, FakeDatabase)
    return deps.auth.uow


def member_code_deps(database: FakeDatabase, clock: Clock) -> MemberCodeDeps:
    return MemberCodeDeps(
        uow=database, clock=clock, signer=HmacSigner(b"unit-test-key"), limiter=MemoryRateLimiter()
    )


def inventory_deps(database: FakeDatabase, clock: Clock) -> InventoryDeps:
    return InventoryDeps(uow=database, clock=clock, member_codes=member_code_deps(database, clock))


def loyalty_deps(database: FakeDatabase, clock: Clock) -> LoyaltyDeps:
    return LoyaltyDeps(uow=database, clock=clock)


def ordering_deps(
    database: FakeDatabase, clock: Clock, policy: OrderPolicy | None = None
) -> OrderingDeps:
    """Ordering over the fakes; payments and refunds through devpay."""
    devpay = DevPayProvider("unit-test-secret")
    return OrderingDeps(
        uow=database,
        clock=clock,
        inventory=inventory_deps(database, clock),
        payments={"devpay": devpay},
        refunds={"devpay": devpay},
        limiter=MemoryRateLimiter(),
        signer=HmacSigner(b"unit-test-key"),
        vault=FakePiiVault(),
        live=InProcessLiveEvents(),
        loyalty=loyalty_deps(database, clock),
        member_codes=member_code_deps(database, clock),
        policy=policy or OrderPolicy(),
    )


def after_sale_deps(database: FakeDatabase, clock: Clock) -> AfterSaleDeps:
    return AfterSaleDeps(uow=database, clock=clock, ordering=ordering_deps(database, clock))
