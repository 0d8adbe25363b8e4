"""The member (OneID), its identifiers, consents and merges."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from uuid import UUID


class MemberStatus(StrEnum):
    ACTIVE = "ACTIVE"
    MERGED = "MERGED"
    ERASED = "ERASED"


class Channel(StrEnum):
    MINI_PROGRAM = "MINI_PROGRAM"
    H5 = "H5"
    KIOSK = "KIOSK"
    POS = "POS"
    CS = "CS"


class IdentityKind(StrEnum):
    WECHAT_OPENID = "WECHAT_OPENID"
    WECHAT_UNIONID = "WECHAT_UNIONID"
    PHONE = "PHONE"
    EMAIL = "EMAIL"
    POS_CARD = "POS_CARD"
    ALIPAY_USER_ID = "ALIPAY_USER_ID"
    DOUYIN_OPENID = "DOUYIN_OPENID"


class VerifiedBy(StrEnum):
    NONE = "NONE"
    WECHAT = "WECHAT"
    SMS = "SMS"
    CARD = "CARD"
    STAFF = "STAFF"


class ConsentPurpose(StrEnum):
    MARKETING_SMS = "MARKETING_SMS"
    MARKETING_WECHAT = "MARKETING_WECHAT"
    PERSONALISED_RECOMMENDATIONS = "PERSONALISED_RECOMMENDATIONS"
    PRECISE_LOCATION = "PRECISE_LOCATION"
    ANALYTICS = "ANALYTICS"

    @property
    def is_marketing(self) -> bool:
        return self in (ConsentPurpose.MARKETING_SMS, ConsentPurpose.MARKETING_WECHAT)


LEAP_YEAR = 2000  # a year in which every month-day that exists at all exists
FIRST_BIRTH_YEAR = 1900


@dataclass(frozen=True)
class Birthday:
    """A member's birthday: month and day, the year if they gave it. Personal data kept like
    the display name (plain: segments and the BIRTHDAY trigger compare it in SQL), erased with
    the member."""

    month: int
    day: int
    year: int | None = None

    @property
    def month_day(self) -> str:
        """ "MM-DD", as stored and as member facts keep it."""
        return f"{self.month:02d}-{self.day:02d}"

    @classmethod
    def parse(cls, month_day: str, year: int | None) -> Birthday:
        month, day = month_day.split("-")
        return cls(int(month), int(day), year)

    def falls_on(self, day: date) -> bool:
        """Whether `day` is the birthday; Feb 29 falls on Feb 28 in a year without a Feb 29."""
        if (self.month, self.day) == (day.month, day.day):
            return True
        return (
            (self.month, self.day) == (2, 29)
            and (day.month, day.day) == (2, 28)
            and (not _is_leap(day.year))
        )


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def birthdays_falling_on(day: date) -> tuple[str, ...]:
    """The stored "MM-DD" values whose birthday falls on `day` (Birthday.falls_on)."""
    found: tuple[str, ...] = (f"{day.month:02d}-{day.day:02d}",)
    if (day.month, day.day) == (2, 28) and not _is_leap(day.year):
        found += ("02-29",)
    return found


@dataclass
class Member:
    id: UUID
    status: MemberStatus
    display_name: str
    created_channel: Channel
    created_at: datetime
    updated_at: datetime
    data_key: str | None  # wrapped per-member key; None once erased (crypto-shredded)
    merged_into: UUID | None = None
    erased_at: datetime | None = None
    birthday: Birthday | None = None

    @property
    def is_active(self) -> bool:
        return self.status is MemberStatus.ACTIVE


@dataclass
class Identity:
    id: UUID
    member_id: UUID
    kind: IdentityKind
    app_id: str  # the WeChat/Douyin app an openid belongs to; "" for global identifiers
    lookup_hash: str
    ciphertext: str
    masked: str
    verified: bool
    verified_by: VerifiedBy
    linked_at: datetime
    suffix_hash: str | None = None  # a phone's: keyed hash of its last 4 digits (CS search)


@dataclass(frozen=True)
class ConsentRecord:
    id: UUID
    member_id: UUID
    purpose: ConsentPurpose
    granted: bool
    policy_version: str
    channel: Channel
    recorded_at: datetime


@dataclass
class MemberMerge:
    id: UUID
    source_member_id: UUID
    target_member_id: UUID
    reason: str
    actor: str  # "STAFF:<id>", "MEMBER:<id>" or "SYSTEM"
    moved: dict[str, int] = field(default_factory=dict)
    created_at: datetime | None = None


class CandidateState(StrEnum):
    OPEN = "OPEN"
    MERGED = "MERGED"  # one person: the holder was merged into the claimant
    PHONE_RELEASED = "PHONE_RELEASED"  # a recycled number: it moved to the claimant
    DISMISSED = "DISMISSED"  # nothing changes


@dataclass
class MergeCandidate:
    """A phone proven (by SMS or WeChat) by `claimant` but held by `holder`, an account with
    a platform-verified identity of its own (WeChat, Alipay, Douyin): perhaps the same
    person, perhaps a recycled number. Customer service decides; nothing merges by itself."""

    id: UUID
    claimant_id: UUID
    holder_id: UUID
    identity_hash: str  # the phone's lookup hash
    masked: str
    verified_by: VerifiedBy
    state: CandidateState
    created_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str = ""


@dataclass(frozen=True)
class PiiAccess:
    id: UUID
    actor: str
    member_id: UUID
    kinds: list[str]
    reason: str
    created_at: datetime


@dataclass
class PhoneCode:
    id: UUID
    phone_hash: str
    code_hash: str
    expires_at: datetime
    attempts: int
    created_at: datetime
    consumed_at: datetime | None = None


def current_consents(records: list[ConsentRecord]) -> dict[ConsentPurpose, ConsentRecord]:
    """The latest record per purpose: consent is append-only, the newest one counts."""
    latest: dict[ConsentPurpose, ConsentRecord] = {}
    for record in sorted(records, key=lambda r: (r.recorded_at, str(r.id))):
        latest[record.purpose] = record
    return latest


def can_contact(records: list[ConsentRecord], purpose: ConsentPurpose) -> bool:
    """Every marketing sender must ask this first. No record means no consent."""
    record = current_consents(records).get(purpose)
    return bool(record and record.granted)
