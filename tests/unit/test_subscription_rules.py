"""Subscription rules as pure functions (no database): the calendar arithmetic of intervals,
the limits an interval, a fulfilment choice and the renewal policy hold to, and the upcoming
deliveries a member is shown."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import (
    LocationError,
    LocationErrorCode,
    SubscriptionError,
    SubscriptionErrorCode,
)
from domain.inventory.model import StockLine
from domain.subscriptions.model import (
    MAX_LINE_QUANTITY,
    Interval,
    IntervalUnit,
    RenewalPolicy,
    Subscription,
    SubscriptionLine,
    SubscriptionStatus,
    clean_signup_lines,
)
from domain.subscriptions.services import _check_fulfilment, _roll_forward, upcoming

DAY, WEEK, MONTH = IntervalUnit.DAY, IntervalUnit.WEEK, IntervalUnit.MONTH
LIMITS = {DAY: 90, WEEK: 12, MONTH: 12}
E = SubscriptionErrorCode


# --------------------------------------------------------------------------- Interval.after


def test_zero_cycles_is_the_anchor_itself() -> None:
    for unit in IntervalUnit:
        assert Interval(unit, 1).after(date(2027, 1, 31), 0) == date(2027, 1, 31)


@pytest.mark.parametrize(
    ("interval", "anchor", "expected"),
    [
        # days and weeks count calendar days, whatever the month
        (Interval(DAY, 1), date(2027, 1, 31), [date(2027, 2, 1), date(2027, 2, 2)]),
        (Interval(DAY, 10), date(2027, 2, 25), [date(2027, 3, 7), date(2027, 3, 17)]),
        (Interval(DAY, 1), date(2028, 2, 28), [date(2028, 2, 29), date(2028, 3, 1)]),
        (Interval(DAY, 1), date(2027, 12, 31), [date(2028, 1, 1), date(2028, 1, 2)]),
        (Interval(WEEK, 1), date(2027, 1, 29), [date(2027, 2, 5), date(2027, 2, 12)]),
        (Interval(WEEK, 1), date(2028, 2, 26), [date(2028, 3, 4), date(2028, 3, 11)]),
        (Interval(WEEK, 2), date(2027, 12, 24), [date(2028, 1, 7), date(2028, 1, 21)]),
        (Interval(WEEK, 12), date(2027, 1, 1), [date(2027, 3, 26), date(2027, 6, 18)]),
        # months keep the anchor's day where the month has it
        (
            Interval(MONTH, 1),
            date(2028, 1, 31),
            [date(2028, 2, 29), date(2028, 3, 31), date(2028, 4, 30), date(2028, 5, 31)],
        ),
        (
            Interval(MONTH, 1),
            date(2027, 1, 31),
            [date(2027, 2, 28), date(2027, 3, 31), date(2027, 4, 30), date(2027, 5, 31)],
        ),
        (Interval(MONTH, 1), date(2027, 1, 30), [date(2027, 2, 28), date(2027, 3, 30)]),
        (Interval(MONTH, 1), date(2027, 1, 29), [date(2027, 2, 28), date(2027, 3, 29)]),
        (Interval(MONTH, 1), date(2028, 1, 29), [date(2028, 2, 29), date(2028, 3, 29)]),
        (Interval(MONTH, 1), date(2027, 1, 15), [date(2027, 2, 15), date(2027, 3, 15)]),
        (Interval(MONTH, 1), date(2027, 12, 31), [date(2028, 1, 31), date(2028, 2, 29)]),
        (Interval(MONTH, 1), date(2027, 11, 30), [date(2027, 12, 30), date(2028, 1, 30)]),
        (Interval(MONTH, 2), date(2027, 12, 31), [date(2028, 2, 29), date(2028, 4, 30)]),
        (Interval(MONTH, 3), date(2027, 11, 30), [date(2028, 2, 29), date(2028, 5, 30)]),
        (Interval(MONTH, 12), date(2028, 2, 29), [date(2029, 2, 28), date(2030, 2, 28)]),
        (Interval(MONTH, 6), date(2027, 8, 31), [date(2028, 2, 29), date(2028, 8, 31)]),
    ],
)
def test_after_counts_from_the_anchor(
    interval: Interval, anchor: date, expected: list[date]
) -> None:
    assert [interval.after(anchor, n) for n in range(1, len(expected) + 1)] == expected


def test_months_never_drift_from_the_anchor_day() -> None:
    """Counting from the anchor, a short month does not pull every later date to the 28th."""
    monthly = Interval(MONTH, 1)
    dates = [monthly.after(date(2027, 1, 31), n) for n in range(24)]
    assert [d.day for d in dates] == [
        calendar.monthrange(d.year, d.month)[1] for d in dates
    ]  # always the month's last day
    assert dates[13] == date(2028, 2, 29) and dates[1] == date(2027, 2, 28)
    assert dates[-1] == date(2028, 12, 31)


def test_leap_years() -> None:
    yearly = Interval(MONTH, 12)
    assert yearly.after(date(2024, 2, 29), 1) == date(2025, 2, 28)
    assert yearly.after(date(2024, 2, 29), 4) == date(2028, 2, 29)
    assert yearly.after(date(2096, 2, 29), 4) == date(2100, 2, 28)  # 2100 is not a leap year
    assert yearly.after(date(1996, 2, 29), 4) == date(2000, 2, 29)  # 2000 is
    assert Interval(WEEK, 1).after(date(2028, 2, 22), 1) == date(2028, 2, 29)
    assert Interval(DAY, 1).after(date(2027, 2, 28), 1) == date(2027, 3, 1)


@given(
    anchor=st.dates(min_value=date(2000, 1, 1), max_value=date(2200, 12, 31)),
    count=st.integers(1, 90),
    cycles=st.integers(0, 200),
)
def test_days_are_plain_day_arithmetic(anchor: date, count: int, cycles: int) -> None:
    assert (Interval(DAY, count).after(anchor, cycles) - anchor).days == count * cycles


@given(
    anchor=st.dates(min_value=date(2000, 1, 1), max_value=date(2200, 12, 31)),
    count=st.integers(1, 12),
    cycles=st.integers(0, 100),
)
def test_weeks_are_seven_days_and_keep_the_weekday(anchor: date, count: int, cycles: int) -> None:
    found = Interval(WEEK, count).after(anchor, cycles)
    assert (found - anchor).days == 7 * count * cycles
    assert found.weekday() == anchor.weekday()


@given(
    anchor=st.dates(min_value=date(2000, 1, 1), max_value=date(2200, 12, 31)),
    count=st.integers(1, 12),
    cycles=st.integers(0, 100),
)
def test_months_move_whole_months_and_clamp_the_day(anchor: date, count: int, cycles: int) -> None:
    found = Interval(MONTH, count).after(anchor, cycles)
    months = (found.year - anchor.year) * 12 + found.month - anchor.month
    assert months == count * cycles
    assert found.day == min(anchor.day, calendar.monthrange(found.year, found.month)[1])


@given(
    anchor=st.dates(min_value=date(2000, 1, 1), max_value=date(2200, 12, 31)),
    unit=st.sampled_from(list(IntervalUnit)),
    count=st.integers(1, 12),
    cycles=st.integers(0, 60),
)
def test_dates_strictly_increase(anchor: date, unit: IntervalUnit, count: int, cycles: int) -> None:
    interval = Interval(unit, count)
    assert interval.after(anchor, cycles) < interval.after(anchor, cycles + 1)


# --------------------------------------------------------------------------- limits


@pytest.mark.parametrize("unit", list(IntervalUnit))
def test_interval_counts_are_one_to_the_unit_limit(unit: IntervalUnit) -> None:
    assert Interval(unit, 1).count == 1
    assert Interval(unit, LIMITS[unit]).count == LIMITS[unit]
    for bad in (0, -1, LIMITS[unit] + 1, 1000):
        with pytest.raises(SubscriptionError) as refused:
            Interval(unit, bad)
        assert refused.value.code is E.INVALID_INPUT
        assert refused.value.field == ["interval"]


def test_the_renewal_policy_defaults() -> None:
    policy = RenewalPolicy()
    assert policy.lead_time == timedelta(days=2)
    assert policy.reminder_before > policy.lead_time  # told before anything is charged
    assert policy.reschedule_window_days == 3
    assert policy.retry_delays == (timedelta(hours=1), timedelta(days=1), timedelta(days=3))
    assert policy.max_lines == 20


LOCATION = uuid4()


@pytest.mark.parametrize(
    ("pickup", "address", "lat", "lon"),
    [
        (LOCATION, None, None, None),
        (None, "88 Nanjing Rd, Shanghai", 31.23, 121.47),
        (None, "12345", 0.0, 0.0),
        (None, "x" * 300, -89.9, 179.9),
    ],
)
def test_exactly_one_fulfilment_is_accepted(
    pickup: UUID | None, address: str | None, lat: float | None, lon: float | None
) -> None:
    _check_fulfilment(pickup, address, lat, lon)


@pytest.mark.parametrize(
    ("pickup", "address", "lat", "lon", "field"),
    [
        (None, None, None, None, ["fulfilment"]),  # neither
        (LOCATION, "88 Nanjing Rd", 31.2, 121.4, ["fulfilment"]),  # both
        (None, "1234", 31.2, 121.4, ["fulfilment", "delivery", "address"]),
        (None, "     1234     ", 31.2, 121.4, ["fulfilment", "delivery", "address"]),
        (None, "x" * 301, 31.2, 121.4, ["fulfilment", "delivery", "address"]),
        (None, "88 Nanjing Rd", None, 121.4, ["fulfilment", "delivery"]),
        (None, "88 Nanjing Rd", 31.2, None, ["fulfilment", "delivery"]),
    ],
)
def test_bad_fulfilments_are_refused(
    pickup: UUID | None,
    address: str | None,
    lat: float | None,
    lon: float | None,
    field: list[str],
) -> None:
    with pytest.raises(SubscriptionError) as refused:
        _check_fulfilment(pickup, address, lat, lon)
    assert refused.value.code is E.INVALID_INPUT
    assert refused.value.field == field


@pytest.mark.parametrize(("lat", "lon"), [(91.0, 121.4), (31.2, 181.0), (-90.5, 0.0)])
def test_delivery_coordinates_must_be_on_the_globe(lat: float, lon: float) -> None:
    with pytest.raises(LocationError) as refused:
        _check_fulfilment(None, "88 Nanjing Rd", lat, lon)
    assert refused.value.code is LocationErrorCode.INVALID_COORDINATES


# --------------------------------------------------------------------------- upcoming


def subscription(
    interval: Interval,
    anchor: date,
    *,
    cycles_done: int = 0,
    next_date: date | None = None,
    status: SubscriptionStatus = SubscriptionStatus.ACTIVE,
) -> Subscription:
    now = datetime(2027, 1, 1, tzinfo=UTC)
    return Subscription(
        id=uuid4(),
        member_id=uuid4(),
        plan_id=uuid4(),
        lines=[SubscriptionLine(uuid4(), 2, 4500), SubscriptionLine(uuid4(), 1, 990)],
        interval=interval,
        anchor_date=anchor,
        next_date=next_date or interval.after(anchor, cycles_done),
        cycles_done=cycles_done,
        sequence=cycles_done,
        status=status,
        pickup_location_id=LOCATION,
        delivery_address=None,
        delivery_latitude=None,
        delivery_longitude=None,
        payment_agreement="agreement",
        timezone="Asia/Shanghai",
        created_at=now,
        updated_at=now,
    )


def test_upcoming_lists_the_next_four_deliveries() -> None:
    weekly = subscription(Interval(WEEK, 1), date(2027, 1, 29))
    assert upcoming(weekly) == [
        date(2027, 1, 29),
        date(2027, 2, 5),
        date(2027, 2, 12),
        date(2027, 2, 19),
    ]
    assert upcoming(weekly, 2) == [date(2027, 1, 29), date(2027, 2, 5)]
    assert upcoming(weekly, 1) == [date(2027, 1, 29)]
    assert weekly.total == 2 * 4500 + 990


def test_upcoming_counts_from_the_schedule_position() -> None:
    monthly = subscription(Interval(MONTH, 1), date(2028, 1, 31), cycles_done=1)
    assert upcoming(monthly) == [
        date(2028, 2, 29),
        date(2028, 3, 31),
        date(2028, 4, 30),
        date(2028, 5, 31),
    ]


def test_upcoming_shows_a_rescheduled_delivery_then_the_regular_schedule() -> None:
    moved = subscription(Interval(WEEK, 1), date(2027, 1, 29), next_date=date(2027, 2, 1))
    assert upcoming(moved) == [
        date(2027, 2, 1),
        date(2027, 2, 5),
        date(2027, 2, 12),
        date(2027, 2, 19),
    ]


@pytest.mark.parametrize("status", [SubscriptionStatus.PAUSED, SubscriptionStatus.CANCELLED])
def test_nothing_is_upcoming_while_paused_or_after_cancelling(
    status: SubscriptionStatus,
) -> None:
    assert upcoming(subscription(Interval(WEEK, 1), date(2027, 1, 29), status=status)) == []


def test_a_past_due_subscription_still_shows_its_deliveries() -> None:
    late = subscription(Interval(WEEK, 1), date(2027, 1, 29), status=SubscriptionStatus.PAST_DUE)
    assert upcoming(late)[0] == date(2027, 1, 29)


# --------------------------------------------------------------------------- resuming


def test_resuming_rolls_the_next_date_past_today_on_the_schedule() -> None:
    weekly = subscription(Interval(WEEK, 1), date(2027, 1, 29))
    _roll_forward(weekly, date(2027, 2, 9))
    assert weekly.next_date == date(2027, 2, 12)
    assert (weekly.cycles_done, weekly.sequence) == (2, 2)


def test_resuming_on_a_delivery_day_moves_to_the_next_one() -> None:
    weekly = subscription(Interval(WEEK, 1), date(2027, 1, 29))
    _roll_forward(weekly, date(2027, 1, 29))
    assert weekly.next_date == date(2027, 2, 5)


def test_resuming_before_the_next_date_keeps_it() -> None:
    monthly = subscription(Interval(MONTH, 1), date(2028, 1, 31))
    _roll_forward(monthly, date(2028, 1, 30))
    assert (monthly.next_date, monthly.cycles_done) == (date(2028, 1, 31), 0)
    _roll_forward(monthly, date(2028, 3, 1))
    assert (monthly.next_date, monthly.cycles_done) == (date(2028, 3, 31), 2)


# --------------------------------------------------------------------------- sign-up lines


def _line_refusal(lines: list[StockLine], max_lines: int = 20) -> tuple[E, list[str] | None]:
    with pytest.raises(SubscriptionError) as refused:
        clean_signup_lines(lines, max_lines)
    return refused.value.code, refused.value.field


def test_sign_up_lines_are_checked_by_the_use_case_with_one_code_each() -> None:
    """The resolver only decodes: the count, the quantities and duplicates are the domain's
    (the resolver once answered TOO_MANY_ITEMS before the domain's INVALID_INPUT was reached)."""
    a, b = uuid4(), uuid4()
    assert clean_signup_lines([StockLine(a, 1), StockLine(b, MAX_LINE_QUANTITY)], 2) == {
        a: 1,
        b: MAX_LINE_QUANTITY,
    }
    assert _line_refusal([]) == (E.INVALID_INPUT, ["lines"])
    too_many = [StockLine(uuid4(), 1) for _ in range(3)]
    assert _line_refusal(too_many, max_lines=2) == (E.TOO_MANY_ITEMS, ["lines"])
    for quantity in (0, -1, MAX_LINE_QUANTITY + 1):
        lines = [StockLine(a, 1), StockLine(b, quantity)]
        assert _line_refusal(lines) == (E.INVALID_INPUT, ["lines", "1", "quantity"])
    twice = [StockLine(a, 1), StockLine(b, 1), StockLine(a, 2)]
    assert _line_refusal(twice) == (E.INVALID_INPUT, ["lines", "2", "variantId"])
