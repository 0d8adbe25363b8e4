"""What the identity services are given: ports and the sign-in policy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from domain.clock import Clock
from domain.identity.ports import AccessTokens, PasswordHasher, RateLimiter
from domain.uow import UnitOfWorkFactory


@dataclass(frozen=True)
class AuthPolicy:
    refresh_ttl: timedelta = timedelta(days=30)
    login_limit_per_username: int = 10
    login_limit_per_address: int = 30
    login_window_seconds: int = 300


@dataclass(frozen=True)
class AuthDeps:
    uow: UnitOfWorkFactory
    clock: Clock
    hasher: PasswordHasher
    tokens: AccessTokens
    limiter: RateLimiter
    policy: AuthPolicy
    # Repositories without a transaction, for the single reads of every request's
    # authentication (no BEGIN/COMMIT round trips); None: `uow`.
    reads: UnitOfWorkFactory | None = None
