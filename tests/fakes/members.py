"""In-memory fakes of the member and identity ports: the repositories of members, sessions
and staff, and the vault, token and password adapters."""

from __future__ import annotations

import copy
import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from uuid import UUID

from domain.clock import Clock
from domain.errors import AuthError, AuthErrorCode, MemberError, MemberErrorCode
from domain.identity.model import (
    AuthSession,
    Principal,
    PrincipalKind,
    RefreshToken,
    StaffAction,
    StaffRole,
    StaffUser,
)
from domain.identity.ports import (
    AccessTokens,
    PasswordHasher,
    SessionRepository,
    StaffRepository,
)
from domain.members.model import (
    CandidateState,
    ConsentRecord,
    Identity,
    IdentityKind,
    Member,
    MemberMerge,
    MemberStatus,
    MergeCandidate,
    PhoneCode,
    PiiAccess,
)
from domain.members.ports import MemberRepository, PiiVault
from domain.pagination import Page, PageRequest
from tests.fakes.tables import Tables, page_of

WECHAT_APPS = ("wx-demo", "wx-shop")
ACCESS_TTL = timedelta(minutes=15)


class FakeMemberRepository(MemberRepository):
    def __init__(self, tables: Tables):
        self._t = tables
        self.locked: list[list[UUID]] = []  # the ids of every lock() call, in lock order

    async def get(self, member_id: UUID) -> Member | None:
        member = self._t.members.get(member_id)
        return replace(member) if member else None

    async def get_many(self, ids: Sequence[UUID]) -> list[Member]:
        return [replace(self._t.members[i]) for i in ids if i in self._t.members]

    async def lock(self, ids: Sequence[UUID]) -> list[Member]:
        ordered = sorted(set(ids))
        self.locked.append(ordered)
        return [replace(self._t.members[i]) for i in ordered if i in self._t.members]

    async def add(self, member: Member) -> None:
        assert member.id not in self._t.members, "duplicate primary key"
        self._t.members[member.id] = replace(member)

    async def save(self, member: Member) -> None:
        self._t.members[member.id] = replace(member)
        # Path compression, as the Tortoise repository does it.
        if member.merged_into is not None:
            for other in self._t.members.values():
                if other.merged_into == member.id:
                    other.merged_into = member.merged_into

    async def search_by_name(self, fragment: str, page: PageRequest) -> Page[Member]:
        found = sorted(
            (
                m
                for m in self._t.members.values()
                if m.status is MemberStatus.ACTIVE
                and fragment.lower() in m.display_name.lower()
                and (page.after is None or str(m.id) > page.after)
            ),
            key=lambda m: m.id,
        )[: page.first + 1]
        return Page.from_rows([replace(m) for m in found], [str(m.id) for m in found], page)

    async def identity_by_hash(self, lookup_hash: str) -> Identity | None:
        for identity in self._t.identities.values():
            if identity.lookup_hash == lookup_hash:
                return replace(identity)
        return None

    async def identities_of(self, member_ids: Sequence[UUID]) -> list[Identity]:
        wanted = set(member_ids)
        found = [i for i in self._t.identities.values() if i.member_id in wanted]
        return [replace(i) for i in sorted(found, key=lambda i: i.linked_at)]

    async def add_identity(self, identity: Identity) -> None:
        if any(i.lookup_hash == identity.lookup_hash for i in self._t.identities.values()):
            raise MemberError(
                MemberErrorCode.IDENTIFIER_TAKEN,
                f"{identity.masked} was just linked to another member; try again.",
            )
        self._t.identities[identity.id] = replace(identity)

    async def save_identity(self, identity: Identity) -> None:
        stored = self._t.identities[identity.id]
        stored.member_id, stored.ciphertext = identity.member_id, identity.ciphertext
        stored.masked, stored.verified = identity.masked, identity.verified
        stored.verified_by, stored.suffix_hash = identity.verified_by, identity.suffix_hash

    async def by_phone_suffix(self, suffix_hash: str, limit: int) -> list[Member]:
        ids = sorted(
            {
                i.member_id
                for i in self._t.identities.values()
                if i.kind is IdentityKind.PHONE and i.suffix_hash == suffix_hash
            }
        )[:limit]
        found = (self._t.members.get(k) for k in ids)
        return [
            copy.deepcopy(m) for m in found if m is not None and m.status is MemberStatus.ACTIVE
        ]

    async def phones_without_suffix(self, limit: int) -> list[Identity]:
        found = [
            replace(i)
            for i in self._t.identities.values()
            if i.kind is IdentityKind.PHONE and i.suffix_hash is None
        ]
        return found[:limit]

    async def delete_identities(self, member_id: UUID) -> int:
        doomed = [i.id for i in self._t.identities.values() if i.member_id == member_id]
        for identity_id in doomed:
            del self._t.identities[identity_id]
        return len(doomed)

    async def delete_identity(self, identity_id: UUID) -> None:
        self._t.identities.pop(identity_id, None)

    async def open_merge_candidate(
        self, claimant_id: UUID, holder_id: UUID, identity_hash: str
    ) -> MergeCandidate | None:
        for c in self._t.merge_candidates.values():
            if (c.claimant_id, c.holder_id, c.identity_hash, c.state) == (
                claimant_id,
                holder_id,
                identity_hash,
                CandidateState.OPEN,
            ):
                return replace(c)
        return None

    async def add_merge_candidate(self, candidate: MergeCandidate) -> None:
        self._t.merge_candidates[candidate.id] = replace(candidate)

    async def get_merge_candidate(
        self, candidate_id: UUID, *, lock: bool = False
    ) -> MergeCandidate | None:
        found = self._t.merge_candidates.get(candidate_id)
        return replace(found) if found else None

    async def save_merge_candidate(self, candidate: MergeCandidate) -> None:
        self._t.merge_candidates[candidate.id] = replace(candidate)

    async def merge_candidates(
        self, state: CandidateState | None, page: PageRequest
    ) -> Page[MergeCandidate]:
        found = [
            replace(c)
            for c in self._t.merge_candidates.values()
            if state is None or c.state is state
        ]
        return page_of(found, lambda c: str(c.id), page)

    async def consents_of(self, member_ids: Sequence[UUID]) -> list[ConsentRecord]:
        wanted = set(member_ids)
        found = [c for c in self._t.consents.values() if c.member_id in wanted]
        return sorted(found, key=lambda c: (c.recorded_at, c.id))

    async def add_consents(self, records: Sequence[ConsentRecord]) -> None:
        for record in records:
            self._t.consents[record.id] = record  # frozen: no copy needed

    async def move_consents(self, source: UUID, target: UUID) -> int:
        moving = [c for c in self._t.consents.values() if c.member_id == source]
        for record in moving:
            self._t.consents[record.id] = replace(record, member_id=target)
        return len(moving)

    async def add_merge(self, merge: MemberMerge) -> None:
        if any(m.source_member_id == merge.source_member_id for m in self._t.merges.values()):
            raise MemberError(
                MemberErrorCode.MEMBER_MERGED,
                "The source member was merged by a concurrent request.",
                ["sourceMemberId"],
            )
        self._t.merges[merge.id] = copy.deepcopy(merge)

    async def merges_of(self, member_id: UUID) -> list[MemberMerge]:
        by_time = sorted(self._t.merges.values(), key=lambda m: (m.created_at, m.id))
        as_source = [m for m in by_time if m.source_member_id == member_id]
        as_target = [m for m in by_time if m.target_member_id == member_id]
        return copy.deepcopy(as_source + as_target)

    async def add_phone_code(self, code: PhoneCode) -> None:
        self._t.phone_codes[code.id] = replace(code)

    async def latest_phone_code(self, phone_hash: str) -> PhoneCode | None:
        sent = [c for c in self._t.phone_codes.values() if c.phone_hash == phone_hash]
        latest = max(sent, key=lambda c: (c.created_at, c.id), default=None)
        return replace(latest) if latest else None

    async def claim_code_attempt(self, code_id: UUID, max_attempts: int) -> bool:
        code = self._t.phone_codes[code_id]
        if code.consumed_at is not None or code.attempts >= max_attempts:
            return False
        code.attempts += 1
        return True

    async def delete_phone_codes_before(self, before: datetime) -> int:
        doomed = [c.id for c in self._t.phone_codes.values() if c.expires_at < before]
        for code_id in doomed:
            del self._t.phone_codes[code_id]
        return len(doomed)

    async def consume_phone_code(self, code_id: UUID, at: datetime) -> bool:
        code = self._t.phone_codes[code_id]
        if code.consumed_at is not None:
            return False
        code.consumed_at = at
        return True

    async def add_pii_access(self, *entries: PiiAccess) -> None:
        for entry in entries:
            self._t.pii_access[entry.id] = entry

    async def list_pii_access(self, page: PageRequest, actor: str | None = None) -> Page[PiiAccess]:
        entries = sorted(
            (e for e in self._t.pii_access.values() if actor is None or e.actor == actor),
            key=lambda e: e.id,
            reverse=True,
        )
        if page.after is not None:
            entries = [e for e in entries if str(e.id) < page.after]
        rows = entries[: page.first + 1]
        return Page.from_rows(rows, [str(e.id) for e in rows], page)


class FakeSessionRepository(SessionRepository):
    def __init__(self, tables: Tables):
        self._t = tables

    async def add_session(self, session: AuthSession) -> None:
        self._t.sessions[session.id] = replace(session)

    async def get_session(self, session_id: UUID) -> AuthSession | None:
        session = self._t.sessions.get(session_id)
        return replace(session) if session else None

    async def add_token(self, token: RefreshToken) -> None:
        self._t.refresh_tokens[token.id] = replace(token)

    async def get_token_by_hash(self, token_hash: str) -> RefreshToken | None:
        for token in self._t.refresh_tokens.values():
            if token.token_hash == token_hash:
                return replace(token)
        return None

    async def mark_used(self, token_id: UUID, at: datetime) -> bool:
        token = self._t.refresh_tokens[token_id]
        if token.used_at is not None:
            return False
        token.used_at = at
        return True

    async def revoke_session(self, session_id: UUID, at: datetime, reason: str) -> None:
        session = self._t.sessions.get(session_id)
        if session is not None and session.revoked_at is None:
            session.revoked_at, session.revoked_reason = at, reason

    async def revoke_sessions_of(
        self, kind: PrincipalKind, principal_id: UUID, at: datetime, reason: str
    ) -> int:
        live = [
            s
            for s in self._t.sessions.values()
            if s.principal_kind is kind and s.principal_id == principal_id and s.revoked_at is None
        ]
        for session in live:
            session.revoked_at, session.revoked_reason = at, reason
        return len(live)

    async def delete_expired(self, before: datetime) -> int:
        doomed = [t.id for t in self._t.refresh_tokens.values() if t.expires_at < before]
        for token_id in doomed:
            del self._t.refresh_tokens[token_id]
        return len(doomed)


class FakeStaffRepository(StaffRepository):
    def __init__(self, tables: Tables):
        self._t = tables

    async def get(self, staff_id: UUID) -> StaffUser | None:
        staff = self._t.staff.get(staff_id)
        return copy.deepcopy(staff) if staff else None

    async def get_many(self, staff_ids: Sequence[UUID]) -> list[StaffUser]:
        return [copy.deepcopy(self._t.staff[i]) for i in staff_ids if i in self._t.staff]

    async def get_by_username(self, username: str) -> StaffUser | None:
        for staff in self._t.staff.values():
            if staff.username == username:
                return copy.deepcopy(staff)
        return None

    async def add(self, staff: StaffUser) -> None:
        self._t.staff[staff.id] = copy.deepcopy(staff)

    async def add_action(self, action: StaffAction) -> None:
        self._t.staff_actions.append(action)

    async def actions(self, page: PageRequest) -> Page[StaffAction]:
        return page_of(self._t.staff_actions, lambda a: str(a.id), page, newest_first=True)


class FakePiiVault(PiiVault):
    """Reversible on purpose: "enc:<key>:<plaintext>", so a test sees which key sealed what.
    Decrypting under another key fails, as AES-GCM does."""

    def __init__(self) -> None:
        self._keys = itertools.count(1)

    def new_member_key(self) -> str:
        return f"key-{next(self._keys)}"

    def encrypt(self, wrapped_key: str, plaintext: str) -> str:
        return f"enc:{wrapped_key}:{plaintext}"

    def decrypt(self, wrapped_key: str, ciphertext: str) -> str:
        prefix = f"enc:{wrapped_key}:"
        if not ciphertext.startswith(prefix):
            raise ValueError(f"{ciphertext!r} was not sealed with {wrapped_key!r}")
        return ciphertext.removeprefix(prefix)

    def lookup_hash(self, namespace: str, value: str) -> str:
        return hashlib.sha256(f"{namespace}\x00{value}".encode()).hexdigest()


class FakeAccessTokens(AccessTokens):
    """Readable tokens "access:<kind>:<id>:<session id>:<role>"; unknown text is refused."""

    def __init__(self, clock: Clock):
        self._clock = clock

    def issue(self, principal: Principal) -> tuple[str, datetime]:
        role = principal.role.value if principal.role else ""
        token = f"access:{principal.kind.value}:{principal.id}:{principal.session_id or ''}:{role}"
        return token, self._clock.now() + ACCESS_TTL

    def verify(self, token: str) -> Principal:
        try:
            prefix, kind, principal_id, session_id, role = token.split(":")
            assert prefix == "access"
            return Principal(
                kind=PrincipalKind(kind),
                id=UUID(principal_id),
                role=StaffRole(role) if role else None,
                session_id=UUID(session_id) if session_id else None,
            )
        except (AssertionError, ValueError):
            raise AuthError(AuthErrorCode.UNAUTHENTICATED, "Not a fake access token.") from None


class FakePasswordHasher(PasswordHasher):
    def hash(self, password: str) -> str:
        return f"plain:{password}"

    def verify(self, password_hash: str, password: str) -> bool:
        return password_hash == f"plain:{password}"
