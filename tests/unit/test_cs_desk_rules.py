"""The CS desk's rules on their own: invoice details, notes, readable actor labels."""

from __future__ import annotations

from uuid import uuid4

import pytest

from domain.aftersales.desk import actor_ids, readable_actors
from domain.aftersales.desk_model import clean_invoice, clean_invoice_number, clean_note
from domain.errors import AfterSaleError, AfterSaleErrorCode


def test_invoice_details_are_trimmed_and_the_tax_id_upper_cased() -> None:
    details = clean_invoice("  Wang Fang ", " 91310000ma1fl0xx1x ", " f@example.com ")
    assert (details.title, details.tax_id, details.email) == (
        "Wang Fang",
        "91310000MA1FL0XX1X",
        "f@example.com",
    )
    assert clean_invoice("Wang Fang", "  ", "f@example.com").tax_id is None


@pytest.mark.parametrize(
    ("title", "tax_id", "email", "code", "field"),
    [
        ("", None, "f@example.com", AfterSaleErrorCode.INVALID_INPUT, "title"),
        ("x" * 101, None, "f@example.com", AfterSaleErrorCode.INVALID_INPUT, "title"),
        ("Wang", "1" * 14, "f@example.com", AfterSaleErrorCode.INVALID_TAX_ID, "taxId"),
        ("Wang", "1" * 21, "f@example.com", AfterSaleErrorCode.INVALID_TAX_ID, "taxId"),
        ("Wang", "91310000-A1FL0XX1", "f@example.com", AfterSaleErrorCode.INVALID_TAX_ID, "taxId"),
        ("Wang", None, "f@example", AfterSaleErrorCode.INVALID_EMAIL, "email"),
        ("Wang", None, "a b@example.com", AfterSaleErrorCode.INVALID_EMAIL, "email"),
        ("Wang", None, "f@" + "x" * 250 + ".com", AfterSaleErrorCode.INVALID_EMAIL, "email"),
    ],
)
def test_bad_invoice_details_are_refused_with_their_field(
    title: str, tax_id: str | None, email: str, code: AfterSaleErrorCode, field: str
) -> None:
    with pytest.raises(AfterSaleError) as raised:
        clean_invoice(title, tax_id, email)
    assert raised.value.code is code and raised.value.field == ["input", field]


def test_notes_and_invoice_numbers_have_bounds() -> None:
    assert clean_note("  call back ") == "call back"
    for bad in ("", "   ", "x" * 2001):
        with pytest.raises(AfterSaleError):
            clean_note(bad)
    assert clean_invoice_number(" 2431200000001 ") == "2431200000001"
    for number in ("", "12-34", "x" * 41):
        with pytest.raises(AfterSaleError):
            clean_invoice_number(number)


def test_actor_labels_read_as_names() -> None:
    staff, device, gone = uuid4(), uuid4(), uuid4()
    labels = [
        f"STAFF:{staff}",
        f"DEVICE:{device}",
        f"STAFF:{gone}",
        f"MEMBER:{uuid4()}",
        "SYSTEM",
        f"API_KEY:{uuid4()}",
        "PROVIDER:wechatpay",
    ]
    assert actor_ids(labels) == ([staff, gone], [device])
    assert readable_actors(labels, {staff: "li.na", device: "Till 2"}) == [
        "li.na",
        "Till 2",
        f"STAFF:{gone}",  # a name nobody knows any more: the label
        "member",
        "system",
        "integration",
        "payment provider wechatpay",
    ]
