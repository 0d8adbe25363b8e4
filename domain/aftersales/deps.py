"""What the after-sales services are given: `AfterSaleDeps` (returns and refunds),
`ReviewDeps` (reviews), `DeskDeps` (the CS desk)."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.aftersales.review_model import DEFAULT_BANNED_WORDS, clean_banned_words
from domain.clock import Clock
from domain.members.deps import MemberDeps
from domain.members.ports import PiiVault
from domain.ordering.deps import OrderingDeps
from domain.subscriptions.deps import SubscriptionDeps
from domain.uow import UnitOfWorkFactory


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
