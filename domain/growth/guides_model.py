"""Shopping-guide attribution (导购): guides' codes, members' exclusive guides, the orders
attributed to them, and a store's monthly performance."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID
from zoneinfo import ZoneInfo

from domain.locations.model import DEFAULT_TIMEZONE

CODE_PREFIX = "G"  # a guide's code never reads as a member's referral code
CODE_LENGTH = 8  # after the prefix
SHARE_PAGE = "pages/index/index"
SCENE_PREFIX = "g="  # WeChat's `scene` of a mini-program code: at most 32 characters
MAX_REASON = 200
MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
# Base32 without the letters and digits people confuse (0/O, 1/I/L): codes are read aloud.
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


class BindingSource(StrEnum):
    SHARE = "SHARE"  # first touch: a login or bindGuide with the guide's code
    ASSIGNED = "ASSIGNED"  # set by the store's manager or CS, with a reason


@dataclass(frozen=True)
class GuideCode:
    code: str
    staff_id: UUID
    store_id: UUID  # the store the share was made for: bindings count there


@dataclass(frozen=True)
class GuideShare:
    code: str
    share_path: str
    scene: str


@dataclass(frozen=True)
class GuideBinding:
    """A member's one exclusive guide (a member without a row has none)."""

    member_id: UUID
    staff_id: UUID
    store_id: UUID
    source: BindingSource
    actor: str  # who bound: the member's label at first touch, the staff's when assigned
    reason: str
    bound_at: datetime


@dataclass(frozen=True)
class Guide:
    """A binding as it is shown: the guide's name, and for staff the guide and store."""

    binding: GuideBinding
    staff_name: str
    active: bool


@dataclass(frozen=True)
class GuideStats:
    staff_id: UUID | None  # None: the store's total
    staff_name: str
    orders: int = 0
    gmv: int = 0  # fen paid in money, less what was refunded
    new_members: int = 0
    repurchasing_members: int = 0


@dataclass(frozen=True)
class Performance:
    store_id: UUID
    month: str
    guides: list[GuideStats]
    total: GuideStats


def guide_code(key: bytes, staff_id: UUID, store_id: UUID) -> str:
    """A guide's code at one store: stable (derived with a server key), short, unguessable."""
    digest = hmac.new(key, b"guide:" + staff_id.bytes + store_id.bytes, hashlib.sha256).digest()
    number = int.from_bytes(digest[:8], "big")
    chars = []
    for _ in range(CODE_LENGTH):
        number, index = divmod(number, len(_ALPHABET))
        chars.append(_ALPHABET[index])
    return CODE_PREFIX + "".join(chars)


def clean_code(code: str) -> str:
    """The code as stored (upper case, no dashes), or "" for text that cannot be one (wrong
    length or characters: never looked up, so any text is refused as an unknown code)."""
    cleaned = code.strip().upper().replace("-", "")
    body = cleaned[len(CODE_PREFIX) :]
    if (
        not cleaned.startswith(CODE_PREFIX)
        or len(body) != CODE_LENGTH
        or any(c not in _ALPHABET for c in body)
    ):
        return ""
    return cleaned


def share_of(code: str) -> GuideShare:
    return GuideShare(code, f"{SHARE_PAGE}?guide={code}", f"{SCENE_PREFIX}{code}")


def month_window(month: str, timezone: str = DEFAULT_TIMEZONE) -> tuple[datetime, datetime] | None:
    """ "2026-12" -> [its first instant, the next month's) on the stores' wall clock; None when
    the text is not a month."""
    found = MONTH_RE.fullmatch(month.strip())
    if found is None:
        return None
    year, number = int(found[1]), int(found[2])
    zone = ZoneInfo(timezone)
    start = datetime(year, number, 1, tzinfo=zone)
    following = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=zone)
    return start, following
