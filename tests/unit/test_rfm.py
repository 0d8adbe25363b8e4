"""RFM quintile scoring and the segment table (domain/engagement/rfm.py)."""

from __future__ import annotations

import pytest

from domain.engagement.rfm import RfmSegment, quintile_score, scores, segment_of


def test_quintiles_of_ten_distinct_values_pair_up() -> None:
    assert scores(list(range(10))) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


def test_equal_values_score_the_same_whatever_their_order() -> None:
    assert scores([7, 7, 7, 7]) == [1, 1, 1, 1]
    assert scores([5, 1, 5, 1, 9]) == [3, 1, 3, 1, 5]


def test_the_best_of_a_few_reaches_five_only_when_a_fifth_is_below() -> None:
    assert scores([1, 2]) == [1, 3]
    assert scores([10]) == [1]
    assert [quintile_score(b, 100) for b in (0, 19, 20, 79, 80, 99)] == [1, 1, 2, 4, 5, 5]


def test_below_must_be_inside_the_population() -> None:
    with pytest.raises(ValueError):
        quintile_score(3, 3)
    with pytest.raises(ValueError):
        quintile_score(0, 0)


@pytest.mark.parametrize(
    ("r", "f", "m", "segment"),
    [
        (5, 5, 5, RfmSegment.CHAMPIONS),
        (4, 4, 3, RfmSegment.LOYAL),
        (3, 5, 1, RfmSegment.LOYAL),
        (5, 1, 1, RfmSegment.POTENTIAL),
        (3, 3, 5, RfmSegment.POTENTIAL),
        (2, 5, 5, RfmSegment.AT_RISK),
        (1, 3, 1, RfmSegment.AT_RISK),
        (2, 2, 5, RfmSegment.HIBERNATING),
        (1, 2, 5, RfmSegment.LOST),
    ],
)
def test_segments_first_match_wins(r: int, f: int, m: int, segment: RfmSegment) -> None:
    assert segment_of(r, f, m) is segment


def test_every_score_triple_has_a_segment() -> None:
    for r in range(1, 6):
        for f in range(1, 6):
            for m in range(1, 6):
                segment_of(r, f, m)
