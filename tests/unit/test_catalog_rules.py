"""Catalog field rules, as pure functions: barcodes, prices, SKU codes, slugs, ids, pages."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from domain.catalog.model import (
    MAX_PRICE_FEN,
    SLUG_RE,
    CatalogStatus,
    Money,
    Product,
    Variant,
    clean_barcode,
    clean_code,
    clean_name,
    clean_price,
    clean_slug,
    slugify,
)
from domain.catalog.services import sees_archived, visible
from domain.errors import CatalogError, CommonError
from domain.identity.model import ApiScope, Principal, PrincipalKind, StaffRole
from domain.ids import new_id
from domain.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page, PageRequest


def fails(action: object, *args: object) -> CatalogError:
    assert callable(action)
    with pytest.raises(CatalogError) as caught:
        action(*args)
    return caught.value


# --------------------------------------------------------------------------- barcodes


@pytest.mark.parametrize(
    "barcode",
    [
        "6901234567892",  # EAN-13
        "4006381333931",  # EAN-13
        "96385074",  # EAN-8
        "036000291452",  # UPC-A
        "00012345600012",  # GTIN-14
    ],
)
def test_valid_gtins(barcode: str) -> None:
    assert clean_barcode(barcode) == barcode
    assert clean_barcode(f"  {barcode}\n") == barcode


@pytest.mark.parametrize("blank", [None, "", "   "])
def test_no_barcode(blank: str | None) -> None:
    assert clean_barcode(blank) is None


@pytest.mark.parametrize(
    "barcode",
    [
        "6901234567893",  # EAN-13, check digit off by one
        "6901234567890",
        "96385075",  # EAN-8
        "036000291453",  # UPC-A
        "00012345600013",  # GTIN-14
    ],
)
def test_wrong_check_digit(barcode: str) -> None:
    error = fails(clean_barcode, barcode)
    assert error.code.value == "INVALID_BARCODE"
    assert error.field == ["barcode"]
    assert "check digit" in error.message


@pytest.mark.parametrize(
    "barcode",
    [
        "69012345678X2",  # a letter
        "ABCDEFGHIJKLM",
        "690123456789-",
        "6901 234567892",
        "1234567",  # 7 digits
        "123456789",  # 9 digits
        "1234567890",  # 10 digits
        "123456789012345",  # 15 digits
        "690123456789\u00b2",  # a superscript two: str.isdigit says it is a digit
        "".join(chr(0x0660 + int(d)) for d in "6901234567892"),  # Arabic-Indic digits
        "".join(chr(0xFF10 + int(d)) for d in "6901234567892"),  # full-width digits
    ],
)
def test_not_a_gtin(barcode: str) -> None:
    error = fails(clean_barcode, barcode)
    assert error.code.value == "INVALID_BARCODE"
    assert error.field == ["barcode"]


# --------------------------------------------------------------------------- prices


@pytest.mark.parametrize("amount", [0, 1, 1990, MAX_PRICE_FEN])
def test_prices_in_range(amount: int) -> None:
    assert clean_price(amount) == Money(amount, "CNY")


@pytest.mark.parametrize("amount", [-1, -1990, MAX_PRICE_FEN + 1, 2_000_000_000, 10**18])
def test_prices_out_of_range(amount: int) -> None:
    error = fails(clean_price, amount)
    assert error.code.value == "INVALID_PRICE"
    assert error.field == ["price"]


def test_max_price_is_ten_million_yuan() -> None:
    assert MAX_PRICE_FEN == 1_000_000_000


def test_currency_is_an_iso_code() -> None:
    assert clean_price(100, " usd ") == Money(100, "USD")
    for currency in ("", "US", "USDT", "U$D", "123", "ÄÖÜ", "ßa"):
        error = fails(clean_price, 100, currency)
        assert error.code.value == "INVALID_INPUT", currency
        assert error.field == ["currency"]


# --------------------------------------------------------------------------- codes and names


@pytest.mark.parametrize("code", ["A", "TEA-500", "tea.500_ml", "9", "X" * 64, "A-"])
def test_valid_sku_codes(code: str) -> None:
    assert clean_code(code) == code
    assert clean_code(f" {code} ") == code


@pytest.mark.parametrize(
    "code", ["", "   ", "-A", ".A", "_A", "A B", "A/B", "X" * 65, "茶-1", "ÄBC", "A\nB", "A\x00"]
)
def test_invalid_sku_codes(code: str) -> None:
    error = fails(clean_code, code)
    assert error.code.value == "INVALID_INPUT"
    assert error.field == ["code"]


def test_names_are_trimmed_and_bounded() -> None:
    assert clean_name("  Green Tea ") == "Green Tea"
    assert clean_name("x" * 200) == "x" * 200
    for bad in ("", "  ", "\t", "x" * 201, "Tea\x00"):  # PostgreSQL cannot store NUL
        assert fails(clean_name, bad).field == ["name"]
    assert fails(clean_name, "x" * 101, "title", 100).field == ["title"]


# --------------------------------------------------------------------------- slugs


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Green Tea 500ml", "green-tea-500ml-abc123"),
        ("  Hello,  World!! ", "hello-world-abc123"),
        ("Café au lait", "caf-au-lait-abc123"),
        ("绿茶", "abc123"),
        ("---", "abc123"),
        ("", "abc123"),
    ],
)
def test_slugify(name: str, slug: str) -> None:
    assert slugify(name, "abc123") == slug


@pytest.mark.parametrize(
    "name", ["x" * 500, "a" * 79 + " b", "a" * 79 + "!!" + "b" * 10, "Tea " * 40, "-" * 200]
)
def test_slugify_always_makes_a_valid_slug(name: str) -> None:
    slug = slugify(name, "abc123")
    assert SLUG_RE.fullmatch(slug), slug
    assert len(slug) <= 100
    assert clean_slug(slug) == slug


def test_clean_slug() -> None:
    assert clean_slug(" Fruit-Juice ") == "fruit-juice"
    for bad in ("", "a--b", "-a", "a-", "a b", "a_b", "x" * 101, "ä"):
        error = fails(clean_slug, bad)
        assert error.code.value == "INVALID_INPUT", bad
        assert error.field == ["slug"]


# --------------------------------------------------------------------------- ids and pages


def test_ids_made_one_after_another_sort_in_that_order() -> None:
    """Products list "oldest first" by id: ids made within one millisecond must still grow."""
    ids = [new_id() for _ in range(5000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert {i.version for i in ids} == {7}
    assert ids == sorted(ids, key=str)  # the text form (SQLite) sorts the same way


def test_page_request_bounds() -> None:
    assert PageRequest.of(None, None) == PageRequest(DEFAULT_PAGE_SIZE, None)
    assert DEFAULT_PAGE_SIZE == 20 and MAX_PAGE_SIZE == 100
    assert PageRequest.of(0, None).first == 0
    assert PageRequest.of(100, "key") == PageRequest(100, "key")
    for first in (-1, 101, 1000, -(2**31)):
        with pytest.raises(CommonError) as caught:
            PageRequest.of(first, None)
        assert caught.value.code.value == "INVALID_INPUT"
        assert caught.value.field == ["first"]


def test_page_from_rows_uses_the_extra_row_only_to_say_there_is_more() -> None:
    request = PageRequest(2, None)
    page = Page.from_rows(["a", "b", "c"], ["1", "2", "3"], request)
    assert (list(page.items), list(page.keys), page.has_next, page.has_previous) == (
        ["a", "b"],
        ["1", "2"],
        True,
        False,
    )
    last = Page.from_rows(["c"], ["3"], PageRequest(2, "2"))
    assert (list(last.items), last.has_next, last.has_previous) == (["c"], False, True)


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (1990, "CNY", "¥19.90"),
        (5, "CNY", "¥0.05"),
        (0, "CNY", "¥0.00"),
        (-150, "CNY", "-¥1.50"),  # was ¥-2.50
        (-5, "USD", "-USD 0.05"),
    ],
)
def test_money_is_formatted_with_its_sign(amount: int, currency: str, shown: str) -> None:
    assert Money(amount, currency).formatted == shown


# --------------------------------------------------------------------------- visibility


def test_archived_items_are_visible_to_admin_and_catalog_readers_only() -> None:
    """The catalog's visibility rule, which every read (node, product, variantByCode, the
    product list and the response cache's caller kind) asks."""
    now = datetime.now(UTC)
    product = Product(uuid4(), "Tea", "tea", "", None, CatalogStatus.ACTIVE, now, now)
    variant = Variant(
        uuid4(), product.id, "TEA-1", "Tea", Money(100), CatalogStatus.ARCHIVED, now, now
    )
    admin = Principal(PrincipalKind.STAFF, uuid4(), role=StaffRole.ADMIN)
    reader = Principal(PrincipalKind.API_KEY, uuid4(), scopes=frozenset({ApiScope.CATALOG_READ}))
    writer = Principal(PrincipalKind.API_KEY, uuid4(), scopes=frozenset({ApiScope.CATALOG_WRITE}))
    shopper = Principal(PrincipalKind.MEMBER, uuid4())
    clerk = Principal(PrincipalKind.STAFF, uuid4(), role=StaffRole.STORE_CLERK)
    for who in (admin, reader):
        assert sees_archived(who) and visible(variant, who) is variant
    for other in (None, shopper, clerk, writer):
        assert not sees_archived(other) and visible(variant, other) is None
        assert visible(product, other) is product  # ACTIVE: everyone
    assert visible(None, admin) is None
