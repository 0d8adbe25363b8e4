"""Normalising and masking identifiers: one spelling per identifier, so one lookup hash."""

from __future__ import annotations

import re

import phonenumbers

from domain.errors import MemberError, MemberErrorCode
from domain.members.model import IdentityKind

DEFAULT_REGION = "CN"
CARD_RE = re.compile(r"^[A-Za-z0-9-]{4,32}$")
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,}$")
OPAQUE_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def normalise_phone(raw: str) -> str:
    """E.164, mainland China by default: '138 0013 8000' -> '+8613800138000'."""
    text = raw.strip()
    try:
        number = phonenumbers.parse(text, DEFAULT_REGION) if 0 < len(text) <= 32 else None
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise MemberError(
            MemberErrorCode.INVALID_PHONE,
            "Not a valid phone number; use a mainland mobile (13800138000) or +<country><number>.",
            ["phone"],
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise(kind: IdentityKind, raw: str) -> str:
    value = raw.strip()
    if kind is IdentityKind.PHONE:
        return normalise_phone(value)
    if kind is IdentityKind.EMAIL:
        value = value.lower()
        ok = bool(EMAIL_RE.fullmatch(value))
    elif kind is IdentityKind.POS_CARD:
        value = value.upper()
        ok = bool(CARD_RE.fullmatch(value))
    else:
        ok = bool(OPAQUE_RE.fullmatch(value))
    if not ok:
        raise MemberError(
            MemberErrorCode.INVALID_IDENTIFIER,
            f"{value[:40]!r} is not a valid {kind.value.lower().replace('_', ' ')}.",
            [_field(kind)],
        )
    return value


def _field(kind: IdentityKind) -> str:
    return {IdentityKind.POS_CARD: "posCard", IdentityKind.EMAIL: "email"}.get(kind, "value")


def mask(kind: IdentityKind, value: str) -> str:
    """What staff see without PII permission: 138****5678, ****1234, a***@example.com."""
    if kind is IdentityKind.PHONE:
        national = value.removeprefix("+86") if value.startswith("+86") else value
        return f"{national[:3]}****{national[-4:]}"
    if kind is IdentityKind.EMAIL:
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"
    if kind is IdentityKind.POS_CARD:
        return f"****{value[-4:]}"
    return f"{value[:4]}****{value[-3:]}" if len(value) > 8 else "****"


def lookup_namespace(kind: IdentityKind, app_id: str) -> str:
    return f"identity:{kind.value}:{app_id}"


PHONE_SUFFIX_NAMESPACE = "identity:PHONE:last4"


def phone_suffix(value: str) -> str:
    """What CS searches by: the last 4 digits of a normalised phone (a keyed hash of them is
    the index; on their own they identify nobody)."""
    return value[-4:]
