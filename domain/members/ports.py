"""What the members context needs from the outside world."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol
from uuid import UUID

from domain.members.model import (
    CandidateState,
    ConsentRecord,
    Identity,
    Member,
    MemberMerge,
    MergeCandidate,
    PhoneCode,
    PiiAccess,
)
from domain.pagination import Page, PageRequest


@dataclass(frozen=True)
class WeChatSession:
    openid: str
    unionid: str | None
    session_key: str


class WeChatGateway(Protocol):
    """The mini-program server APIs. Failures raise MemberError with a WECHAT_* or
    INVALID_WECHAT_CODE code; the adapter maps WeChat's errcodes onto ours."""

    def knows_app(self, app_id: str) -> bool: ...

    async def code_to_session(self, app_id: str, code: str) -> WeChatSession:
        """`jscode2session`: a wx.login() code for the openid (and unionid, when bound)."""
        ...

    async def phone_number(self, app_id: str, phone_code: str) -> str:
        """`getuserphonenumber`: the phone-number button's code for the number, with its
        country code (e.g. "+8613800138000")."""
        ...


class SmsKind(StrEnum):
    LOGIN_CODE = "LOGIN_CODE"  # params: the code, its lifetime in minutes
    # params: the text an automation sends (engagement's SEND_SMS, through the outbox); a
    # template is optional in the settings: without one such texts fail, logins do not
    MARKETING = "MARKETING"


@dataclass(frozen=True)
class SmsMessage:
    """A text from a template the SMS provider approved: `kind` picks the template (the
    provider's template id is a setting per kind), `params` fill its placeholders in order,
    `text` is how it reads (what a sender without templates, the development log, shows)."""

    kind: SmsKind
    params: tuple[str, ...]
    text: str


class SmsSender(Protocol):
    async def send(self, phone_e164: str, message: SmsMessage) -> None:
        """Send one text, or raise MemberError: TOO_MANY_REQUESTS (the provider throttles
        this number), INVALID_PHONE (it cannot receive texts), SMS_UNAVAILABLE (not
        configured, or the provider failed: the message says whether to try again)."""
        ...


class PiiVault(Protocol):
    """Encryption of personal data at rest, with one data key per member (crypto-shredding)."""

    def new_member_key(self) -> str:
        """A fresh data key, wrapped by the master key, to store on the member."""
        ...

    def encrypt(self, wrapped_key: str, plaintext: str) -> str: ...
    def decrypt(self, wrapped_key: str, ciphertext: str) -> str: ...

    def lookup_hash(self, namespace: str, value: str) -> str:
        """Keyed hash (HMAC) used as the lookup index of an identifier or a code."""
        ...


class MemberRepository(Protocol):
    async def get(self, member_id: UUID) -> Member | None: ...
    async def get_many(self, ids: Sequence[UUID]) -> list[Member]: ...
    async def lock(self, ids: Sequence[UUID]) -> list[Member]:
        """Read and lock the members, always in id order (no deadlocks between merges)."""
        ...

    async def add(self, member: Member) -> None: ...
    async def save(self, member: Member) -> None: ...
    async def search_by_name(self, fragment: str, page: PageRequest) -> Page[Member]: ...
    async def identity_by_hash(self, lookup_hash: str) -> Identity | None: ...
    async def identities_of(self, member_ids: Sequence[UUID]) -> list[Identity]: ...
    async def add_identity(self, identity: Identity) -> None:
        """Raises MemberError(IDENTIFIER_TAKEN) when another member won the unique key."""
        ...

    async def save_identity(self, identity: Identity) -> None: ...
    async def by_phone_suffix(self, suffix_hash: str, limit: int) -> list[Member]:
        """Active members with a phone whose last-4 hash is this, by id, at most `limit`."""
        ...

    async def phones_without_suffix(self, limit: int) -> list[Identity]:
        """Phones linked before the last-4 index existed (backfill)."""
        ...

    async def delete_identities(self, member_id: UUID) -> int: ...
    async def delete_identity(self, identity_id: UUID) -> None: ...
    async def open_merge_candidate(
        self, claimant_id: UUID, holder_id: UUID, identity_hash: str
    ) -> MergeCandidate | None: ...
    async def add_merge_candidate(self, candidate: MergeCandidate) -> None: ...
    async def get_merge_candidate(
        self, candidate_id: UUID, *, lock: bool = False
    ) -> MergeCandidate | None: ...
    async def save_merge_candidate(self, candidate: MergeCandidate) -> None: ...
    async def merge_candidates(
        self, state: CandidateState | None, page: PageRequest
    ) -> Page[MergeCandidate]:
        """Oldest first: the queue."""
        ...

    async def consents_of(self, member_ids: Sequence[UUID]) -> list[ConsentRecord]: ...
    async def add_consents(self, records: Sequence[ConsentRecord]) -> None: ...
    async def move_consents(self, source: UUID, target: UUID) -> int: ...
    async def add_merge(self, merge: MemberMerge) -> None: ...
    async def merges_of(self, member_id: UUID) -> list[MemberMerge]: ...
    async def add_phone_code(self, code: PhoneCode) -> None: ...
    async def latest_phone_code(self, phone_hash: str) -> PhoneCode | None: ...
    async def claim_code_attempt(self, code_id: UUID, max_attempts: int) -> bool:
        """Count one comparison against the code in one conditional update, only while it
        is unused and has fewer than `max_attempts`: False means no comparison is left, so
        concurrent guesses (any number, any process) make at most `max_attempts`."""
        ...

    async def delete_phone_codes_before(self, before: datetime) -> int: ...
    async def consume_phone_code(self, code_id: UUID, at: datetime) -> bool:
        """Mark the code used only if it is unused; False means somebody used it first."""
        ...

    async def add_pii_access(self, *entries: PiiAccess) -> None:
        """Write the entries in one statement."""
        ...

    async def list_pii_access(self, page: PageRequest, actor: str | None = None) -> Page[PiiAccess]:
        """Newest first; with `actor`, only that actor's reads."""
        ...
