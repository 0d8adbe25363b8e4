"""Catalog entities and the rules for their fields."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from domain.errors import CatalogError, CatalogErrorCode

MAX_PRICE_FEN = 1_000_000_000  # 10 million yuan: anything above is a typo
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_ATTRIBUTES = 20


class CatalogStatus(StrEnum):
    ACTIVE = "ACTIVE"
    ARCHIVED = "ARCHIVED"


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
    attributes: dict[str, str] = field(default_factory=dict)


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


def clean_attributes(attributes: dict[str, str]) -> dict[str, str]:
    if len(attributes) > MAX_ATTRIBUTES:
        raise CatalogError(
            CatalogErrorCode.TOO_MANY_ITEMS,
            f"At most {MAX_ATTRIBUTES} attributes per variant.",
            ["attributes"],
        )
    cleaned: dict[str, str] = {}
    for name, value in attributes.items():
        key, val = name.strip(), value.strip()
        if not key or len(key) > 50 or len(val) > 200 or "\x00" in key + val:
            raise CatalogError(
                CatalogErrorCode.INVALID_INPUT,
                "Attribute names are 1-50 characters and values at most 200.",
                ["attributes"],
            )
        cleaned[key] = val
    return cleaned
