"""Wiring in one place: the runtime builds every adapter from settings and starts/stops them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from redis.asyncio import Redis

from domain.catalog.services import CatalogDeps
from domain.clock import Clock, SystemClock
from domain.events import DataExporters, EventHandlers
from domain.identity.ports import RateLimiter
from domain.identity.services import AuthDeps, AuthPolicy
from domain.inventory.reservations import InventoryDeps
from domain.locations.services import LocationDeps
from domain.members.ports import SmsSender, WeChatGateway
from domain.members.services import MemberDeps
from infra.db.connection import start_database, stop_database
from infra.db.uow import Repositories, TortoiseUnitOfWork
from infra.security.passwords import Argon2PasswordHasher
from infra.security.pii import AesGcmVault
from infra.security.ratelimit import MemoryRateLimiter, RedisRateLimiter
from infra.security.tokens import JwtAccessTokens
from infra.settings import DEMO_WECHAT_APP, Settings
from infra.sms import DisabledSms, FakeSmsSender
from infra.wechat import FakeWeChatGateway, HttpWeChatGateway


@dataclass
class Runtime:
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    fast_password_hashing: bool = False
    redis: Redis | None = None
    limiter: RateLimiter = field(default_factory=MemoryRateLimiter)
    started: bool = False

    def __post_init__(self) -> None:
        s = self.settings
        self.repos = Repositories()
        self.tokens = JwtAccessTokens(
            clock=self.clock,
            secret=s.jwt_secret,
            kid=s.jwt_kid,
            previous_keys=s.jwt_previous_keys,
            issuer=s.jwt_issuer,
            audience=s.jwt_audience,
            ttl=timedelta(seconds=s.access_token_ttl),
        )
        self.hasher = Argon2PasswordHasher(fast=self.fast_password_hashing)
        self.vault = AesGcmVault(*s.pii_keys())
        self.wechat = self._wechat()
        self.sms: SmsSender = (
            FakeSmsSender(self.clock) if s.sms_provider == "fake" else DisabledSms()
        )
        self.events = EventHandlers()
        self.exporters = DataExporters()
        self._rebuild_deps()

    def _wechat(self) -> WeChatGateway:
        s = self.settings
        if s.wechat_fake:
            return FakeWeChatGateway({DEMO_WECHAT_APP, *s.wechat_apps})
        return HttpWeChatGateway(apps=s.wechat_apps, clock=self.clock)

    def _rebuild_deps(self) -> None:
        s = self.settings
        self.auth = AuthDeps(
            uow=TortoiseUnitOfWork,
            clock=self.clock,
            hasher=self.hasher,
            tokens=self.tokens,
            limiter=self.limiter,
            policy=AuthPolicy(
                refresh_ttl=timedelta(seconds=s.refresh_token_ttl),
                login_limit_per_username=s.login_limit_per_username,
                login_limit_per_address=s.login_limit_per_address,
                login_window_seconds=s.login_window_seconds,
            ),
        )
        self.catalog = CatalogDeps(uow=TortoiseUnitOfWork, clock=self.clock)
        self.locations = LocationDeps(uow=TortoiseUnitOfWork, clock=self.clock)
        self.inventory = InventoryDeps(uow=TortoiseUnitOfWork, clock=self.clock, events=self.events)
        apps = [DEMO_WECHAT_APP] if s.wechat_fake and not s.wechat_apps else list(s.wechat_apps)
        self.members = MemberDeps(
            auth=self.auth,
            vault=self.vault,
            wechat=self.wechat,
            sms=self.sms,
            events=self.events,
            exporters=self.exporters,
            default_wechat_app=apps[0] if len(apps) == 1 else None,
        )

    async def start(self, *, database: bool = True) -> None:
        """Connect the database and Redis; idempotent so tests and the lifespan can share it."""
        if self.started:
            return
        if database:
            await start_database(self.settings)
        if self.settings.redis_url:
            self.redis = Redis.from_url(self.settings.redis_url)
            self.limiter = RedisRateLimiter(self.redis)
            self._rebuild_deps()
        self.started = True

    async def stop(self, *, database: bool = True) -> None:
        if not self.started:
            return
        if self.redis is not None:
            await self.redis.aclose()
            self.redis = None
        if isinstance(self.wechat, HttpWeChatGateway):
            await self.wechat.aclose()
        if database:
            await stop_database()
        self.started = False
