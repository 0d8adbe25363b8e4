"""Referrals (老带新): programs, codes, attributions and the rules that decide them."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from domain.locations.model import local_date

CODE_LENGTH = 8
SHARE_PAGE = "pages/index/index"
SCENE_PREFIX = "r="  # WeChat's `scene` of a mini-program code: at most 32 characters
MAX_SCENE = 32
MAX_POINTS_REWARD = 100_000
MAX_MONTHLY_CAP = 1_000
# Base32 without the letters and digits people confuse (0/O, 1/I/L): codes are read aloud.
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


class ProgramStatus(StrEnum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    ENDED = "ENDED"


class ReferralStatus(StrEnum):
    PENDING = "PENDING"  # attributed; waits for the invitee's first order to be handed over
    REWARDED = "REWARDED"
    CLAWED_BACK = "CLAWED_BACK"  # that first order was fully refunded
    REFUSED = "REFUSED"  # recorded with a reason, never an error on login


class RefusalReason(StrEnum):
    UNKNOWN_CODE = "UNKNOWN_CODE"
    NOT_NEW = "NOT_NEW"  # OneID knew this person already
    RETURNING = "RETURNING"  # an identifier of an erased member came back
    SELF_REFERRAL = "SELF_REFERRAL"  # the same member, device, or a merge joined the two
    SHARED_DEVICE = "SHARED_DEVICE"  # the device brought another invitee already (a ring)
    REFERRER_GONE = "REFERRER_GONE"  # the code's member is erased or merged
    NO_PROGRAM = "NO_PROGRAM"  # no program live at login
    MERGED = "MERGED"  # the invitee was merged into an older member: not new after all


@dataclass
class ReferralProgram:
    id: UUID
    name: str
    status: ProgramStatus
    starts_at: datetime
    ends_at: datetime
    referrer_points: int
    referrer_template_id: UUID | None
    invitee_points: int
    invitee_points_per_yuan: int  # "double points": extra points per yuan of the first order
    invitee_template_id: UUID | None
    monthly_cap: int  # rewarded referrals per referrer per calendar month (Asia/Shanghai)
    created_at: datetime
    updated_at: datetime

    def live(self, now: datetime) -> bool:
        return self.status is ProgramStatus.ACTIVE and self.starts_at <= now < self.ends_at

    def invitee_points_for(self, paid_fen: int) -> int:
        return self.invitee_points + paid_fen // 100 * self.invitee_points_per_yuan


@dataclass
class Referral:
    id: UUID
    invitee_id: UUID
    referrer_id: UUID | None  # None: the code named nobody
    code: str
    program_id: UUID | None
    status: ReferralStatus
    reason: RefusalReason | None
    device_hash: str | None
    order_id: UUID | None  # the first order handed over
    referrer_paid: bool  # False when the referrer's monthly cap was reached
    created_at: datetime
    referrer_points: int = 0  # points paid (taken back again by a claw-back)
    invitee_points: int = 0
    decided_at: datetime | None = None


@dataclass(frozen=True)
class ReferralCounts:
    invited: int
    rewarded: int
    pending: int


@dataclass(frozen=True)
class SharePayload:
    code: str
    share_path: str
    scene: str


def referral_code(key: bytes, member_id: UUID) -> str:
    """A member's code: stable (derived from the id with a server key), short, unguessable."""
    digest = hmac.new(key, b"referral:" + member_id.bytes, hashlib.sha256).digest()
    number = int.from_bytes(digest[:8], "big")
    chars = []
    for _ in range(CODE_LENGTH):
        number, index = divmod(number, len(_ALPHABET))
        chars.append(_ALPHABET[index])
    return "".join(chars)


def clean_code(code: str) -> str:
    return code.strip().upper().replace("-", "")[: CODE_LENGTH * 2]


def share_payload(code: str) -> SharePayload:
    scene = f"{SCENE_PREFIX}{code}"
    assert len(scene) <= MAX_SCENE
    return SharePayload(code, f"{SHARE_PAGE}?ref={code}", scene)


def device_hash(key: bytes, fingerprint: str | None) -> str | None:
    """A keyed hash of the client's device fingerprint: compared, never stored in clear."""
    clean = (fingerprint or "").strip()
    if not clean:
        return None
    return base64.b32encode(
        hmac.new(key, b"device:" + clean[:200].encode(), hashlib.sha256).digest()[:20]
    ).decode()


def reward_month(moment: datetime) -> str:
    """The calendar month a reward counts in, in the stores' time zone."""
    return local_date(moment, None).strftime("%Y-%m")
