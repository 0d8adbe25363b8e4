"""Location rules, as pure functions: coordinates, distances, time zones, opening hours."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import pytest

from domain.errors import LocationError
from domain.locations.model import (
    EARTH_RADIUS_M,
    GeoPoint,
    OpeningHours,
    clean_opening_hours,
    clean_timezone,
    local_time_text,
)
from tests.support.locations import SHANGHAI, location

HANGZHOU = GeoPoint(30.2741, 120.1551)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# --------------------------------------------------------------------------- coordinates


@pytest.mark.parametrize(
    ("lat", "lon"), [(0, 0), (90, 180), (-90, -180), (31.2304, 121.4737), (-33.9, 18.4)]
)
def test_valid_coordinates(lat: float, lon: float) -> None:
    assert GeoPoint.of(lat, lon) == GeoPoint(lat, lon)


@pytest.mark.parametrize(
    ("lat", "lon", "field"),
    [
        (91, 0, "latitude"),
        (-90.0001, 0, "latitude"),
        (math.nan, 0, "latitude"),
        (math.inf, 0, "latitude"),
        (1e308, 0, "latitude"),
        (0, 180.5, "longitude"),
        (0, -181, "longitude"),
        (0, math.nan, "longitude"),
        (0, -math.inf, "longitude"),
    ],
)
def test_invalid_coordinates_name_the_field_at_fault(lat: float, lon: float, field: str) -> None:
    with pytest.raises(LocationError) as caught:
        GeoPoint.of(lat, lon)
    assert caught.value.code.value == "INVALID_COORDINATES"
    assert caught.value.field == [field]


def test_shanghai_to_hangzhou_is_about_165_km() -> None:
    distance = SHANGHAI.distance_to(HANGZHOU)
    assert abs(distance - 165_000) < 5_000, distance
    assert HANGZHOU.distance_to(SHANGHAI) == pytest.approx(distance)


def test_distance_edge_cases() -> None:
    assert SHANGHAI.distance_to(SHANGHAI) == 0
    # A quarter of a meridian, and half the equator (antipodes).
    assert GeoPoint(0, 0).distance_to(GeoPoint(90, 0)) == pytest.approx(
        math.pi / 2 * EARTH_RADIUS_M
    )
    assert GeoPoint(0, 0).distance_to(GeoPoint(0, 180)) == pytest.approx(math.pi * EARTH_RADIUS_M)
    # Across the antimeridian it is the short way round: 0.2° of the equator.
    assert GeoPoint(0, 179.9).distance_to(GeoPoint(0, -179.9)) == pytest.approx(
        math.radians(0.2) * EARTH_RADIUS_M
    )
    # One thousandth of a degree of latitude is about 111 m.
    assert GeoPoint(31.0, 121.0).distance_to(GeoPoint(31.001, 121.0)) == pytest.approx(
        111.2, abs=0.1
    )


# --------------------------------------------------------------------------- time zones


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "Europe/London", "UTC", "America/New_York"])
def test_valid_timezones(zone: str) -> None:
    assert clean_timezone(zone) == zone


@pytest.mark.parametrize(
    "zone",
    [
        "",
        "Mars/Olympus",
        "asia/shanghai",
        "Asia",  # a directory of zones, not a zone
        "Asia/Shanghai/",
        "../etc/passwd",
        "/etc/localtime",
        "zone.tab",  # a data file beside the zones
        "Asia/Shanghai\x00",
        "x" * 300,
        "Asia/" + "x" * 300,
    ],
)
def test_invalid_timezones(zone: str) -> None:
    with pytest.raises(LocationError) as caught:
        clean_timezone(zone)
    assert caught.value.code.value == "INVALID_TIMEZONE"
    assert caught.value.field == ["timezone"]


# --------------------------------------------------------------------------- opening hours


def test_opening_hours_are_sorted_and_adjacent_ranges_allowed() -> None:
    cleaned = clean_opening_hours(
        {
            "mon": [("14:00", "18:00"), ("09:00", "12:00")],
            "tue": [("09:00", "12:00"), ("12:00", "24:00")],
            "sun": [],
            "sat": [("00:00", "24:00")],
        }
    )
    assert cleaned == {
        "mon": [("09:00", "12:00"), ("14:00", "18:00")],
        "tue": [("09:00", "12:00"), ("12:00", "24:00")],
        "sun": [],
        "sat": [("00:00", "24:00")],
    }
    assert clean_opening_hours({}) == {}


@pytest.mark.parametrize(
    ("hours", "day"),
    [
        ({"mon": [("09:00", "13:00"), ("12:00", "18:00")]}, "mon"),  # overlap
        ({"mon": [("09:00", "18:00"), ("10:00", "11:00")]}, "mon"),  # one inside another
        ({"mon": [("09:00", "12:00"), ("09:00", "12:00")]}, "mon"),  # the same twice
        ({"tue": [("09:00", "25:00")]}, "tue"),
        ({"tue": [("24:00", "24:00")]}, "tue"),
        ({"tue": [("09:00", "24:01")]}, "tue"),
        ({"wed": [("9:00", "18:00")]}, "wed"),
        ({"wed": [("09:60", "18:00")]}, "wed"),
        ({"wed": [("0900", "1800")]}, "wed"),
        ({"wed": [("", "18:00")]}, "wed"),
        ({"wed": [("09:00 ", "18:00")]}, "wed"),
        ({"wed": [("0\u0669:00", "18:00")]}, "wed"),  # an Arabic-Indic nine
        ({"thu": [("18:00", "09:00")]}, "thu"),  # overnight ranges are not supported
        ({"thu": [("09:00", "09:00")]}, "thu"),
        ({"funday": [("09:00", "18:00")]}, "funday"),
        ({"Mon": [("09:00", "18:00")]}, "Mon"),
        ({"sat": [(f"{h:02d}:00", f"{h:02d}:30") for h in range(8, 13)]}, "sat"),  # 5 ranges
    ],
)
def test_invalid_opening_hours(hours: OpeningHours, day: str) -> None:
    with pytest.raises(LocationError) as caught:
        clean_opening_hours(hours)
    assert caught.value.code.value == "INVALID_OPENING_HOURS"
    assert caught.value.field == ["openingHours", day]


# --------------------------------------------------------------------------- is_open_at

# 2024-01-01 is a Monday.
STORE_HOURS: OpeningHours = {
    "mon": [("09:00", "12:00"), ("13:00", "22:00")],
    "sun": [("18:00", "24:00")],
}


@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        (utc(2024, 1, 1, 0, 59), False),  # 08:59 in Shanghai
        (utc(2024, 1, 1, 1, 0), True),  # 09:00 opens
        (utc(2024, 1, 1, 3, 59), True),  # 11:59
        (utc(2024, 1, 1, 4, 0), False),  # 12:00 lunch
        (utc(2024, 1, 1, 5, 0), True),  # 13:00
        (utc(2024, 1, 1, 13, 59), True),  # 21:59
        (utc(2024, 1, 1, 14, 0), False),  # 22:00 closes
        (utc(2023, 12, 31, 20, 0), False),  # Sunday 20:00 UTC is Monday 04:00 in Shanghai
        (utc(2023, 12, 31, 10, 0), True),  # Sunday 18:00 in Shanghai
        (utc(2023, 12, 31, 15, 59), True),  # Sunday 23:59 ("24:00" closes at midnight)
        (utc(2024, 1, 2, 3, 0), False),  # Tuesday: no hours at all
        (datetime(2024, 1, 1, 9, 30, tzinfo=timezone(timedelta(hours=8))), True),
        (datetime(2024, 1, 1, 9, 30, tzinfo=timezone(timedelta(hours=-5))), False),  # 22:30
    ],
)
def test_is_open_at_uses_the_location_time_zone(moment: datetime, is_open: bool) -> None:
    assert location(STORE_HOURS).is_open_at(moment) is is_open


def test_is_open_at_follows_daylight_saving_time() -> None:
    london = location({"mon": [("09:00", "17:00")]}, "Europe/London")
    # Winter: London is UTC+0; summer: UTC+1 (2024-07-01 is a Monday).
    assert london.is_open_at(utc(2024, 1, 1, 9, 0)) is True
    assert london.is_open_at(utc(2024, 1, 1, 16, 30)) is True
    assert london.is_open_at(utc(2024, 7, 1, 8, 0)) is True  # 09:00 BST
    assert london.is_open_at(utc(2024, 7, 1, 16, 30)) is False  # 17:30 BST
    assert london.is_open_at(utc(2024, 7, 1, 7, 59)) is False  # 08:59 BST


# --------------------------------------------------------------------------- customer time


def test_messages_show_the_stores_wall_clock_not_utc() -> None:
    late_evening_utc = utc(2027, 1, 4, 20, 5)  # already the 5th in Shanghai
    assert local_time_text(late_evening_utc, location({})) == "2027-01-05 04:05"
    assert local_time_text(late_evening_utc, None) == "2027-01-05 04:05"  # the default zone
    assert local_time_text(late_evening_utc, location({}, "Europe/London")) == "2027-01-04 20:05"
    summer = utc(2027, 7, 1, 23, 30)  # BST: London is an hour ahead of UTC, on the next day
    assert local_time_text(summer, location({}, "Europe/London")) == "2027-07-02 00:30"
    assert local_time_text(summer, location({}, "America/New_York")) == "2027-07-01 19:30"
