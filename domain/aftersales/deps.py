"""What the after-sales services are given: the member codes at the till."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from domain.clock import Clock
from domain.identity.ports import RateLimiter
from domain.ordering.ports import CodeSigner
from domain.uow import UnitOfWorkFactory


@dataclass(frozen=True)
class MemberCodePolicy:
    ttl: timedelta = timedelta(seconds=60)  # the mini-program shows a new code every 60 s
    lookups_per_device: int = 30  # wrong codes per device per window
    lookup_window_seconds: int = 60


@dataclass(frozen=True)
class MemberCodeDeps:
    uow: UnitOfWorkFactory
    clock: Clock
    signer: CodeSigner
    limiter: RateLimiter
    policy: MemberCodePolicy = field(default_factory=MemberCodePolicy)
