"""Shopping-guide codes and months (domain/growth/guides_model.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from domain.growth.guides_model import clean_code, guide_code, month_window, share_of


def test_a_guides_code_is_stable_per_store_and_reads_as_a_guides() -> None:
    key, staff, store = b"k" * 32, uuid4(), uuid4()
    code = guide_code(key, staff, store)
    assert code == guide_code(key, staff, store) and code.startswith("G") and len(code) == 9
    assert code != guide_code(key, staff, uuid4()) != guide_code(b"x" * 32, staff, store)
    assert not set(code[1:]) & set("01ILO")
    assert clean_code(f" {code.lower()[:4]}-{code.lower()[4:]} ") == code
    share = share_of(code)
    assert share.share_path.endswith(f"?guide={code}") and len(share.scene) <= 32


def test_a_month_is_read_on_the_stores_clock() -> None:
    window = month_window("2026-12")
    assert window is not None
    start, end = window
    # Shanghai is UTC+8: December starts at 16:00 UTC on 30 November.
    assert start.astimezone(UTC) == datetime(2026, 11, 30, 16, tzinfo=UTC)
    assert end.astimezone(UTC) == datetime(2026, 12, 31, 16, tzinfo=UTC)
    assert month_window("2027-01") is not None
    for bad in ("2026-13", "2026-1", "26-12", "", "2026-00", "december"):
        assert month_window(bad) is None, bad
