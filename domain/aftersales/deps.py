"""What the after-sales services are given: `AfterSaleDeps` (returns and refunds),
`ReviewDeps` (reviews), `DeskDeps` (the CS desk), `MemberCodeDeps` (member codes at the till)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from domain.aftersales.review_model import DEFAULT_BANNED_WORDS, clean_banned_words
from domain.clock import Clock
from domain.identity.ports import RateLimiter
from domain.members.ports import PiiVault
from domain.ordering.ports import CodeSigner
from domain.uow import UnitOfWorkFactory

if TYPE_CHECKING:  # ordering's deps name the member codes': runtime imports would be a cycle
    from domain.members.deps import MemberDeps
    from domain.ordering.deps import OrderingDeps
    from domain.subscriptions.deps import SubscriptionDeps


@dataclass(frozen=True)
class AfterSaleDeps:
    uow: UnitOfWorkFactory
    clock: Clock
    ordering: OrderingDeps


@dataclass(frozen=True)
class ReviewPolicy:
    # REVIEW_BANNED_WORDS: a review holding one waits for CS (PENDING) instead of publishing.
    banned_words: tuple[str, ...] = field(
        default_factory=lambda: clean_banned_words(DEFAULT_BANNED_WORDS)
    )


@dataclass(frozen=True)
class ReviewDeps:
    uow: UnitOfWorkFactory
    clock: Clock
    policy: ReviewPolicy = field(default_factory=ReviewPolicy)


@dataclass(frozen=True)
class DeskDeps:
    """The customer-service desk: notes and invoice requests (invoice details are encrypted
    with the PII vault, under a key of each request's own), and acting for a member through
    the members' and subscriptions' own `*_in_uow` services."""

    uow: UnitOfWorkFactory
    clock: Clock
    vault: PiiVault
    members: MemberDeps
    subscriptions: SubscriptionDeps
    ordering: OrderingDeps  # an issued invoice is told to the member like the order's news


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
