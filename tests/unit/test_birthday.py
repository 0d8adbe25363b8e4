"""Birthdays: real dates only, and Feb 29 falls on Feb 28 in a year without one."""

from __future__ import annotations

from datetime import date

import pytest

from domain.errors import MemberError
from domain.members.birthday import clean_birthday
from domain.members.model import Birthday, birthdays_falling_on

TODAY = date(2026, 12, 6)


def test_feb_29_is_a_birthday_with_a_leap_year_or_none() -> None:
    assert clean_birthday(2, 29, None, TODAY) == Birthday(2, 29)
    assert clean_birthday(2, 29, 2000, TODAY) == Birthday(2, 29, 2000)
    with pytest.raises(MemberError) as refused:
        clean_birthday(2, 29, 1900, TODAY)  # divisible by 100, not by 400
    assert refused.value.field == ["input", "day"]


@pytest.mark.parametrize(
    ("month", "day", "year", "field"),
    [(13, 1, None, "month"), (6, 31, None, "day"), (1, 1, 1899, "year"), (12, 7, 2026, "day")],
)
def test_what_is_refused_names_its_field(
    month: int, day: int, year: int | None, field: str
) -> None:
    with pytest.raises(MemberError) as refused:
        clean_birthday(month, day, year, TODAY)
    assert refused.value.field == ["input", field]


@pytest.mark.parametrize(
    ("day", "falls"),
    [
        (date(2027, 2, 28), True),  # no Feb 29 in 2027
        (date(2028, 2, 28), False),  # 2028 has one
        (date(2028, 2, 29), True),
        (date(2100, 2, 28), True),  # 2100 is not a leap year
        (date(2027, 3, 1), False),
    ],
)
def test_feb_29_falls_on_feb_28_in_a_common_year(day: date, falls: bool) -> None:
    assert Birthday(2, 29).falls_on(day) is falls
    assert ("02-29" in birthdays_falling_on(day)) is falls


def test_the_stored_days_of_a_date_agree_with_falls_on() -> None:
    day = date(2027, 1, 1)
    while day.year == 2027:
        for stored in birthdays_falling_on(day):
            assert Birthday.parse(stored, None).falls_on(day)
        day = date.fromordinal(day.toordinal() + 1)
    assert birthdays_falling_on(date(2027, 2, 28)) == ("02-28", "02-29")
    assert Birthday(7, 3).month_day == "07-03"
