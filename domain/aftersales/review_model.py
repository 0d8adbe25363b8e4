"""Reviews of handed-over order lines: what a member may write, and what moderation holds."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from uuid import UUID

from domain.catalog.model import clean_url
from domain.errors import AfterSaleError, AfterSaleErrorCode, CatalogError
from domain.live import mask_name
from domain.ordering.model import OrderStatus

MIN_RATING, MAX_RATING = 1, 5
MAX_TEXT_LENGTH = 1000
MAX_PHOTOS = 9  # what a mini-program's image picker offers at most
MAX_REASON_LENGTH = 200
ERASED = "account deleted"  # the moderation reason of an erased member's reviews
# The goods are the member's: picked up at the store or delivered.
HANDED_OVER = frozenset({OrderStatus.PICKED_UP, OrderStatus.DELIVERED})
# Absolute claims the Advertising Law (广告法 art. 9) forbids in what a shop publishes: a review
# shown on a product page is published by the shop, so CS reads these first.
DEFAULT_BANNED_WORDS = (
    "最",
    "第一",
    "全网最低",
    "国家级",
    "顶级",
    "极品",
    "史无前例",
    "万能",
)


class ReviewStatus(StrEnum):
    PENDING = "PENDING"  # held by moderation: CS publishes or hides it
    PUBLISHED = "PUBLISHED"
    HIDDEN = "HIDDEN"


# What each moderation step may start from.
MAY_PUBLISH = frozenset({ReviewStatus.PENDING, ReviewStatus.HIDDEN})
MAY_HIDE = frozenset({ReviewStatus.PENDING, ReviewStatus.PUBLISHED})


@dataclass(frozen=True)
class ReviewDraft:
    order_line_id: UUID
    rating: int
    text: str
    photo_urls: Sequence[str]


@dataclass
class Review:
    id: UUID
    member_id: UUID
    order_id: UUID
    order_line_id: UUID
    product_id: UUID
    variant_id: UUID
    rating: int
    text: str
    photo_urls: list[str]
    status: ReviewStatus
    held_for: list[str]  # the banned words that held it (PENDING), for CS
    created_at: datetime
    updated_at: datetime
    moderated_by: str | None = None
    moderation_reason: str | None = None


@dataclass(frozen=True)
class Rating:
    """A product's published reviews: their count and the sum of their stars, both integers
    (no float is stored or summed); the average is exact, rounded half up to one decimal."""

    count: int
    total: int

    @property
    def average(self) -> Decimal | None:
        if not self.count:
            return None
        return (Decimal(self.total) / self.count).quantize(Decimal("0.1"), ROUND_HALF_UP)


def _refuse(code: AfterSaleErrorCode, message: str, *field: str) -> AfterSaleError:
    return AfterSaleError(code, message, list(field))


def clean_rating(rating: int) -> int:
    if not MIN_RATING <= rating <= MAX_RATING:
        raise _refuse(
            AfterSaleErrorCode.INVALID_RATING,
            f"`rating` is {MIN_RATING} to {MAX_RATING} stars; got {rating}.",
            "rating",
        )
    return rating


def clean_text(text: str) -> str:
    cleaned = text.strip()
    if "\x00" in cleaned:  # PostgreSQL cannot store U+0000
        raise _refuse(AfterSaleErrorCode.INVALID_INPUT, "`text` may not hold NUL bytes.", "text")
    if len(cleaned) > MAX_TEXT_LENGTH:
        raise _refuse(
            AfterSaleErrorCode.TEXT_TOO_LONG,
            f"`text` is at most {MAX_TEXT_LENGTH} characters; got {len(cleaned)}.",
            "text",
        )
    return cleaned


def clean_photo_urls(urls: Sequence[str]) -> list[str]:
    if len(urls) > MAX_PHOTOS:
        raise _refuse(
            AfterSaleErrorCode.TOO_MANY_ITEMS,
            f"A review has at most {MAX_PHOTOS} photos; got {len(urls)}.",
            "photoUrls",
        )
    cleaned = []
    for index, url in enumerate(urls):
        try:
            cleaned.append(clean_url(url))
        except CatalogError as error:
            message = error.message.replace("`url`", "A photo URL")
            raise _refuse(
                AfterSaleErrorCode.INVALID_PHOTO_URL, message, "photoUrls", str(index)
            ) from None
    return cleaned


def clean_reason(reason: str) -> str:
    cleaned = reason.strip()
    if not cleaned or len(cleaned) > MAX_REASON_LENGTH or "\x00" in cleaned:
        raise _refuse(
            AfterSaleErrorCode.INVALID_INPUT,
            f"`reason` is 1-{MAX_REASON_LENGTH} characters (and no NUL).",
            "reason",
        )
    return cleaned


def normalised(text: str) -> str:
    """What the banned words are matched against: full-width forms folded (NFKC), case folded,
    every space removed, so "第 一" or "全网 最低" are not a way around the list."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(c for c in folded if not c.isspace())


def clean_banned_words(words: Iterable[str]) -> tuple[str, ...]:
    """The configured list as it is matched: normalised, without blanks and repeats."""
    return tuple(dict.fromkeys(w for w in (normalised(word) for word in words) if w))


def banned_words_in(text: str, banned: Sequence[str]) -> list[str]:
    """The banned words the text holds (each as configured, normalised), in list order."""
    seen = normalised(text)
    return [word for word in banned if word in seen]


def status_after_moderation(held_for: Sequence[str]) -> ReviewStatus:
    return ReviewStatus.PENDING if held_for else ReviewStatus.PUBLISHED


def reviewer_label(display_name: str | None) -> str:
    """What the public sees of the reviewer: the name's first character (王**), or ** alone."""
    return mask_name(display_name) or "**"
