"""Review rules as pure functions: moderation by banned words, input limits, the rating."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.aftersales.deps import ReviewPolicy
from domain.aftersales.review_model import (
    DEFAULT_BANNED_WORDS,
    MAX_PHOTOS,
    MAX_TEXT_LENGTH,
    Rating,
    ReviewStatus,
    banned_words_in,
    clean_banned_words,
    clean_photo_urls,
    clean_rating,
    clean_reason,
    clean_text,
    reviewer_label,
    status_after_moderation,
)
from domain.errors import AfterSaleError, AfterSaleErrorCode
from infra.settings import Settings

BANNED = clean_banned_words(DEFAULT_BANNED_WORDS)


def refused(call: object) -> tuple[AfterSaleErrorCode, list[str] | None]:
    assert callable(call)
    with pytest.raises(AfterSaleError) as caught:
        call()
    return caught.value.code, caught.value.field


@pytest.mark.parametrize(
    ("text", "held"),
    [
        ("Sweet and fresh, will buy again", []),
        ("甜\uff0c新鲜\uff0c还会再买", []),
        ("全网最低价!", ["最", "全网最低"]),
        ("全 网 最\u3000低", ["最", "全网最低"]),  # spaces (ideographic too) are no way round
        ("口感第一", ["第一"]),
        ("国家级品质", ["国家级"]),
        ("顶级芒果", ["顶级"]),
    ],
)
def test_a_review_holding_a_banned_word_waits_for_cs(text: str, held: list[str]) -> None:
    assert banned_words_in(text, BANNED) == held
    expected = ReviewStatus.PENDING if held else ReviewStatus.PUBLISHED
    assert status_after_moderation(banned_words_in(text, BANNED)) is expected


def test_the_list_is_configurable_and_matched_folded() -> None:
    words = clean_banned_words([" TOP ", "", "top", "\uff22\uff45\uff53\uff54"])
    assert words == ("top", "best")  # trimmed, blanks and repeats dropped, full-width folded
    assert banned_words_in("The \uff34\uff2f\uff30 mango, BEST ever", words) == ["top", "best"]
    assert banned_words_in("最好的", ()) == []  # an empty list holds nothing back
    assert ReviewPolicy().banned_words == BANNED


def test_settings_read_the_banned_words() -> None:
    assert Settings.from_env({}).review_banned_words == BANNED
    custom = Settings.from_env({"REVIEW_BANNED_WORDS": "最, 假货\uff0c山寨"})
    assert custom.review_banned_words == ("最", "假货", "山寨")
    assert Settings.from_env({"REVIEW_BANNED_WORDS": ""}).review_banned_words == ()


@pytest.mark.parametrize("rating", [1, 3, 5])
def test_ratings_are_one_to_five_stars(rating: int) -> None:
    assert clean_rating(rating) == rating


@pytest.mark.parametrize("rating", [0, 6, -1])
def test_other_ratings_are_refused(rating: int) -> None:
    assert refused(lambda: clean_rating(rating)) == (AfterSaleErrorCode.INVALID_RATING, ["rating"])


def test_text_is_trimmed_limited_and_without_nul() -> None:
    assert clean_text("  good  ") == "good"
    assert clean_text("好" * MAX_TEXT_LENGTH) == "好" * MAX_TEXT_LENGTH
    too_long = "好" * (MAX_TEXT_LENGTH + 1)
    assert refused(lambda: clean_text(too_long)) == (AfterSaleErrorCode.TEXT_TOO_LONG, ["text"])
    assert refused(lambda: clean_text("a\x00b")) == (AfterSaleErrorCode.INVALID_INPUT, ["text"])


def test_photos_are_few_https_urls() -> None:
    ok = [f"https://img.example.com/{n}.jpg" for n in range(MAX_PHOTOS)]
    assert clean_photo_urls(ok) == ok
    assert refused(lambda: clean_photo_urls([*ok, ok[0]])) == (
        AfterSaleErrorCode.TOO_MANY_ITEMS,
        ["photoUrls"],
    )
    for bad in ("http://img.example.com/a.jpg", "https://", "https://u:p@img.example.com/a"):
        assert refused(lambda bad=bad: clean_photo_urls([ok[0], bad])) == (
            AfterSaleErrorCode.INVALID_PHOTO_URL,
            ["photoUrls", "1"],
        )


def test_a_hiding_reason_is_required() -> None:
    assert clean_reason(" spam ") == "spam"
    for bad in ("", "   ", "x" * 201, "a\x00"):
        assert refused(lambda bad=bad: clean_reason(bad)) == (
            AfterSaleErrorCode.INVALID_INPUT,
            ["reason"],
        )


def test_the_average_is_exact_and_rounded_half_up() -> None:
    assert Rating(0, 0).average is None
    assert Rating(4, 15).average == Decimal("3.8")  # 3.75
    assert Rating(3, 14).average == Decimal("4.7")  # 4.666...
    assert Rating(2, 9).average == Decimal("4.5")


def test_the_reviewer_is_masked() -> None:
    assert reviewer_label("王小明") == "王**"
    assert reviewer_label("Alice") == "A**"
    assert reviewer_label("") == "**"  # an erased member
    assert reviewer_label(None) == "**"
