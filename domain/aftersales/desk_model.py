"""What the customer-service desk keeps: internal notes on members and orders, and e-invoice
requests (发票). Plain data and the rules on their input."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from domain.errors import AfterSaleError, AfterSaleErrorCode

NOTE_MAX = 2000
TITLE_MAX = 100
EMAIL_MAX = 254
# 统一社会信用代码 (18) and the older tax registration numbers (15 or 20), letters and digits.
TAX_ID = re.compile(r"[0-9A-Z]{15,20}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class NoteSubject(StrEnum):
    MEMBER = "MEMBER"
    ORDER = "ORDER"


@dataclass(frozen=True)
class Note:
    """Staff only: never shown to the member."""

    id: UUID
    subject: NoteSubject
    subject_id: UUID
    author: str  # the principal's label, "STAFF:<id>"
    text: str
    created_at: datetime


class InvoiceStatus(StrEnum):
    REQUESTED = "REQUESTED"
    ISSUED = "ISSUED"


@dataclass(frozen=True)
class InvoiceDetails:
    """What goes on the invoice; personal data, stored encrypted."""

    title: str
    tax_id: str | None
    email: str


@dataclass
class InvoiceRequest:
    id: UUID
    order_id: UUID
    member_id: UUID
    status: InvoiceStatus
    data_key: str  # a key of its own, wrapped by the master key
    sealed: str  # InvoiceDetails, encrypted under data_key
    requested_at: datetime
    invoice_number: str | None = None
    issued_at: datetime | None = None
    issued_by: str | None = None


def clean_note(text: str) -> str:
    cleaned = text.strip()
    if not 1 <= len(cleaned) <= NOTE_MAX:
        raise AfterSaleError(
            AfterSaleErrorCode.INVALID_INPUT,
            f"A note is 1-{NOTE_MAX} characters.",
            ["input", "text"],
        )
    return cleaned


def clean_invoice(title: str, tax_id: str | None, email: str) -> InvoiceDetails:
    """The invoice title (a person's name or a company's), the buyer's tax id for a company
    (15-20 letters and digits), the e-mail address the e-invoice is sent to."""
    name = title.strip()
    if not 1 <= len(name) <= TITLE_MAX:
        raise AfterSaleError(
            AfterSaleErrorCode.INVALID_INPUT,
            f"The invoice title is 1-{TITLE_MAX} characters.",
            ["input", "title"],
        )
    code = (tax_id or "").strip().upper() or None
    if code is not None and not TAX_ID.fullmatch(code):
        raise AfterSaleError(
            AfterSaleErrorCode.INVALID_TAX_ID,
            "A tax id is 15 to 20 letters and digits (统一社会信用代码: 18).",
            ["input", "taxId"],
        )
    address = email.strip()
    if len(address) > EMAIL_MAX or not EMAIL.fullmatch(address):
        raise AfterSaleError(
            AfterSaleErrorCode.INVALID_EMAIL,
            "Give the e-mail address the e-invoice is sent to (name@example.com).",
            ["input", "email"],
        )
    return InvoiceDetails(title=name, tax_id=code, email=address)


def clean_invoice_number(number: str) -> str:
    cleaned = number.strip()
    if not 1 <= len(cleaned) <= 40 or not cleaned.isalnum():
        raise AfterSaleError(
            AfterSaleErrorCode.INVALID_INPUT,
            "The invoice number is 1-40 letters and digits.",
            ["input", "invoiceNumber"],
        )
    return cleaned


def actor_kind(label: str) -> tuple[str, UUID | None]:
    """`STAFF:<uuid>` -> ("STAFF", uuid); `SYSTEM` -> ("SYSTEM", None); what audit records
    name actors with (Principal.label)."""
    kind, _, rest = label.partition(":")
    try:
        return kind, UUID(rest) if rest else None
    except ValueError:
        return kind, None
