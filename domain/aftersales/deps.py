"""What the after-sales services are given (reviews: `ReviewDeps`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.aftersales.review_model import DEFAULT_BANNED_WORDS, clean_banned_words
from domain.clock import Clock
from domain.uow import UnitOfWorkFactory


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
