"""Catalog entities and the rules for their fields."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from urllib.parse import urlsplit
from uuid import UUID

from domain.errors import CatalogError, CatalogErrorCode

MAX_PRICE_FEN = 1_000_000_000  # 10 million yuan: anything above is a typo
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_ATTRIBUTES = 20


class CatalogStatus(StrEnum):
    ACTIVE = "ACTIVE"
    ARCHIVED = "ARCHIVED"


class Locale(StrEnum):
    """The languages a name can be given in. `name` itself is the display name (a Chinese
    brand's shelf: Chinese); `names` holds it per language for the clients that choose."""

    ZH_CN = "zh-CN"
    EN = "en"


LocalizedNames = dict[Locale, str]


@dataclass(frozen=True)
class Money:
    amount: int  # minor units (fen)
    currency: str = "CNY"

    @property
    def formatted(self) -> str:
        """¥19.90; a negative amount (a refund, a debt) is -¥1.50, not ¥-2.50."""
        symbol = "¥" if self.currency == "CNY" else f"{self.currency} "
        sign = "-" if self.amount < 0 else ""
        yuan, fen = divmod(abs(self.amount), 100)
        return f"{sign}{symbol}{yuan}.{fen:02d}"


@dataclass
class Category:
    id: UUID
    name: str
    slug: str
    parent_id: UUID | None = None
    # The return policy of its products where a product sets none (domain/aftersales
    # `ReturnPolicy`): None is the default.
    return_window_days: int | None = None
    refund_only_within_hours: int | None = None


@dataclass
class Product:
    id: UUID
    name: str
    slug: str
    description: str
    category_id: UUID | None
    status: CatalogStatus
    created_at: datetime
    updated_at: datetime
    names: LocalizedNames = field(default_factory=dict)
    # The return policy (domain/aftersales `ReturnPolicy`); None takes the category's.
    return_window_days: int | None = None
    refund_only_within_hours: int | None = None

    def name_in(self, locale: Locale) -> str:
        return self.names.get(locale, self.name)


@dataclass
class Variant:
    id: UUID
    product_id: UUID
    code: str
    name: str
    price: Money
    status: CatalogStatus
    created_at: datetime
    updated_at: datetime
    barcode: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)  # in the order given
    names: LocalizedNames = field(default_factory=dict)

    def name_in(self, locale: Locale) -> str:
        return self.names.get(locale, self.name)


MAX_MEDIA_PER_PRODUCT = 20
MAX_URL_LENGTH = 2048
MAX_ALT_LENGTH = 300


class MediaKind(StrEnum):
    IMAGE = "IMAGE"
    VIDEO = "VIDEO"


@dataclass
class ProductMedia:
    """A picture or video of a product: a link (the file lives on a CDN) and the text a screen
    reader says instead (`alt`, required)."""

    id: UUID
    product_id: UUID
    kind: MediaKind
    url: str
    alt: str
    position: int


def clean_url(value: str) -> str:
    """An absolute https URL with a host, at most MAX_URL_LENGTH characters, no spaces or
    control characters (a mini-program loads only https resources)."""
    url = value.strip()
    problem = None
    if len(url) > MAX_URL_LENGTH:
        problem = f"at most {MAX_URL_LENGTH} characters"
    elif any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        problem = "without spaces or control characters"
    else:
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError:
            parts, host = None, None
        if parts is None or parts.scheme != "https" or not host:
            problem = "an https:// address with a host"
        elif parts.username is not None:
            problem = "without a user name or password"
    if problem:
        raise CatalogError(CatalogErrorCode.INVALID_URL, f"`url` must be {problem}.", ["url"])
    return url


def clean_alt(value: str) -> str:
    return clean_name(value, "alt", MAX_ALT_LENGTH)


def clean_name(value: str, field_name: str = "name", limit: int = 200) -> str:
    name = value.strip()
    if not name or len(name) > limit or "\x00" in name:  # PostgreSQL cannot store U+0000
        raise CatalogError(
            CatalogErrorCode.INVALID_INPUT,
            f"`{field_name}` must be 1-{limit} characters (and no NUL).",
            [field_name],
        )
    return name


def clean_slug(value: str) -> str:
    slug = value.strip().lower()
    if not SLUG_RE.fullmatch(slug) or len(slug) > 100:
        raise CatalogError(
            CatalogErrorCode.INVALID_INPUT,
            "`slug` must be lowercase letters and digits joined by single hyphens (max 100).",
            ["slug"],
        )
    return slug


def slugify(name: str, suffix: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", name.lower())[:80].strip("-")
    return f"{base}-{suffix}" if base else suffix


def clean_code(value: str) -> str:
    code = value.strip()
    if not CODE_RE.fullmatch(code):
        raise CatalogError(
            CatalogErrorCode.INVALID_INPUT,
            "`code` (the SKU) must be 1-64 letters, digits, '.', '_' or '-'.",
            ["code"],
        )
    return code


def clean_barcode(value: str | None) -> str | None:
    """Barcodes are GTINs (EAN-8, UPC-A, EAN-13, GTIN-14) with a valid check digit."""
    if value is None:
        return None
    code = value.strip()
    if not code:
        return None
    if not (code.isascii() and code.isdigit()) or len(code) not in (8, 12, 13, 14):
        raise CatalogError(
            CatalogErrorCode.INVALID_BARCODE,
            "`barcode` must be an EAN-8, UPC-A, EAN-13 or GTIN-14 (8, 12, 13 or 14 digits).",
            ["barcode"],
        )
    digits = [int(c) for c in code]
    body, check = digits[:-1], digits[-1]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    if (10 - total % 10) % 10 != check:
        raise CatalogError(
            CatalogErrorCode.INVALID_BARCODE,
            f"`barcode` {code} has a wrong check digit.",
            ["barcode"],
        )
    return code


def clean_price(amount: int, currency: str = "CNY") -> Money:
    if amount < 0 or amount > MAX_PRICE_FEN:
        raise CatalogError(
            CatalogErrorCode.INVALID_PRICE,
            f"`price` is in fen and must be between 0 and {MAX_PRICE_FEN}.",
            ["price"],
        )
    cur = currency.strip()
    if len(cur) != 3 or not (cur.isascii() and cur.isalpha()):  # "ßa".upper() is "SSA"
        raise CatalogError(
            CatalogErrorCode.INVALID_INPUT, "`currency` must be an ISO 4217 code.", ["currency"]
        )
    cur = cur.upper()
    return Money(amount, cur)


def clean_names(names: Sequence[tuple[Locale, str]], limit: int = 200) -> LocalizedNames:
    """One name per language, each like `name` (1-`limit` characters)."""
    cleaned: LocalizedNames = {}
    for index, (locale, value) in enumerate(names):
        if locale in cleaned:
            raise CatalogError(
                CatalogErrorCode.INVALID_INPUT,
                f"Two names in {locale.value}.",
                ["names", str(index), "locale"],
            )
        try:
            cleaned[locale] = clean_name(value, "value", limit)
        except CatalogError as error:
            error.field = ["names", str(index), "value"]
            raise
    return cleaned


def clean_attributes(attributes: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Name-value pairs shown with a variant (规格: 500ml, 温度: 冰), in the order given; a
    name appears once (compared without case)."""
    if len(attributes) > MAX_ATTRIBUTES:
        raise CatalogError(
            CatalogErrorCode.TOO_MANY_ITEMS,
            f"At most {MAX_ATTRIBUTES} attributes per variant.",
            ["attributes"],
        )
    cleaned: dict[str, str] = {}
    seen: set[str] = set()
    for index, (name, value) in enumerate(attributes):
        key, val = name.strip(), value.strip()
        if not key or not val or len(key) > 50 or len(val) > 200 or "\x00" in key + val:
            raise CatalogError(
                CatalogErrorCode.INVALID_INPUT,
                "Attribute names are 1-50 characters and values 1-200.",
                ["attributes", str(index)],
            )
        if key.casefold() in seen:
            raise CatalogError(
                CatalogErrorCode.DUPLICATE_ATTRIBUTE,
                f"The attribute {key!r} is given twice.",
                ["attributes", str(index), "name"],
            )
        seen.add(key.casefold())
        cleaned[key] = val
    return cleaned
