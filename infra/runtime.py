"""Wiring in one place: the runtime builds every adapter from settings and starts/stops them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from redis.asyncio import Redis

from domain.catalog.services import CatalogDeps
from domain.clock import Clock, SystemClock
from domain.identity.ports import RateLimiter
from domain.identity.services import AuthDeps, AuthPolicy
from domain.locations.services import LocationDeps
from infra.db.connection import start_database, stop_database
from infra.db.uow import Repositories, TortoiseUnitOfWork
from infra.security.passwords import Argon2PasswordHasher
from infra.security.ratelimit import MemoryRateLimiter, RedisRateLimiter
from infra.security.tokens import JwtAccessTokens
from infra.settings import Settings


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
        self._rebuild_deps()

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
        if database:
            await stop_database()
        self.started = False
