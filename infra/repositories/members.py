from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

from domain.errors import MemberError, MemberErrorCode
from domain.members.model import (
    Birthday,
    CandidateState,
    Channel,
    ConsentRecord,
    Identity,
    IdentityKind,
    Member,
    MemberMerge,
    MemberStatus,
    MergeCandidate,
    PhoneCode,
    PiiAccess,
    VerifiedBy,
)
from domain.pagination import Page, PageRequest
from infra.db import sql
from infra.db.models.members import (
    ConsentRecordRow,
    MemberIdentityRow,
    MemberMergeRow,
    MemberRow,
    MergeCandidateRow,
    PhoneCodeRow,
    PiiAccessRow,
)
from infra.repositories.paging import after_uuid


def _member(row: MemberRow) -> Member:
    return Member(
        id=row.id,
        status=row.status,
        display_name=row.display_name,
        created_channel=row.created_channel,
        created_at=row.created_at,
        updated_at=row.updated_at,
        data_key=row.data_key,
        merged_into=row.merged_into_id,
        erased_at=row.erased_at,
        birthday=_birthday(row.birthday, row.birthday_year),
    )


def _birthday(month_day: str | None, year: int | None) -> Birthday | None:
    return Birthday.parse(month_day, year) if month_day else None


MEMBER_COLUMNS = (
    "id",
    "status",
    "display_name",
    "created_channel",
    "merged_into_id",
    "data_key",
    "created_at",
    "updated_at",
    "erased_at",
    "birthday",
    "birthday_year",
)
SELECT_MEMBERS = f"SELECT {', '.join(MEMBER_COLUMNS)} FROM member"


def _member_of(row: dict[str, Any]) -> Member:
    """`_member` of a row of `SELECT_MEMBERS` (its columns are the model's)."""
    return Member(
        id=sql.as_uuid(row["id"]),
        status=MemberStatus(row["status"]),
        display_name=row["display_name"],
        created_channel=Channel(row["created_channel"]),
        created_at=sql.as_datetime(row["created_at"]),
        updated_at=sql.as_datetime(row["updated_at"]),
        data_key=row["data_key"],
        merged_into=sql.as_optional_uuid(row["merged_into_id"]),
        erased_at=sql.as_optional_datetime(row["erased_at"]),
        birthday=_birthday(row["birthday"], row["birthday_year"]),
    )


def _identity(row: MemberIdentityRow) -> Identity:
    return Identity(
        id=row.id,
        member_id=row.member_id,
        kind=row.kind,
        app_id=row.app_id,
        lookup_hash=row.lookup_hash,
        ciphertext=row.ciphertext,
        masked=row.masked,
        verified=row.verified,
        verified_by=row.verified_by,
        linked_at=row.linked_at,
        suffix_hash=row.suffix_hash,
    )


def _consent(row: ConsentRecordRow) -> ConsentRecord:
    return ConsentRecord(
        id=row.id,
        member_id=row.member_id,
        purpose=row.purpose,
        granted=row.granted,
        policy_version=row.policy_version,
        channel=row.channel,
        recorded_at=row.recorded_at,
    )


def _merge(row: MemberMergeRow) -> MemberMerge:
    return MemberMerge(
        id=row.id,
        source_member_id=row.source_member_id,
        target_member_id=row.target_member_id,
        reason=row.reason,
        actor=row.actor,
        moved=dict(row.moved),
        created_at=row.created_at,
    )


def _birthday_fields(member: Member) -> dict[str, Any]:
    found = member.birthday
    return {
        "birthday": found.month_day if found else None,
        "birthday_year": found.year if found else None,
    }


class TortoiseMemberRepository:
    async def get(self, member_id: UUID) -> Member | None:
        # prebuilt SQL: every `me` and every use case reads a member, and building the
        # statement through the ORM cost more CPU than the round trip
        rows = await sql.fetch(f"{SELECT_MEMBERS} WHERE id = $1", member_id)
        return _member_of(rows[0]) if rows else None

    async def get_many(self, ids: Sequence[UUID]) -> list[Member]:
        keys = list(ids)
        if not keys:
            return []
        rows = await sql.fetch(
            f"{SELECT_MEMBERS} WHERE id IN ({sql.placeholders(len(keys))})", *keys
        )
        return [_member_of(r) for r in rows]

    async def lock(self, ids: Sequence[UUID]) -> list[Member]:
        # FOR UPDATE in id order; SQLite ignores it and serialises writers itself.
        rows = await MemberRow.filter(id__in=list(ids)).order_by("id").select_for_update()
        return [_member(r) for r in rows]

    async def add(self, member: Member) -> None:
        await MemberRow.create(
            id=member.id,
            status=member.status,
            display_name=member.display_name,
            created_channel=member.created_channel,
            merged_into_id=member.merged_into,
            data_key=member.data_key,
            created_at=member.created_at,
            updated_at=member.updated_at,
            erased_at=member.erased_at,
            **_birthday_fields(member),
        )

    async def save(self, member: Member) -> None:
        await MemberRow.filter(id=member.id).update(
            status=member.status,
            display_name=member.display_name,
            merged_into_id=member.merged_into,
            data_key=member.data_key,
            updated_at=member.updated_at,
            erased_at=member.erased_at,
            **_birthday_fields(member),
        )
        # Path compression: members absorbed earlier by this one now point at its survivor.
        if member.merged_into is not None:
            await MemberRow.filter(merged_into_id=member.id).update(
                merged_into_id=member.merged_into
            )

    async def search_by_name(self, fragment: str, page: PageRequest) -> Page[Member]:
        query = MemberRow.filter(status="ACTIVE", display_name__icontains=fragment)
        if page.after is not None:
            query = query.filter(id__gt=after_uuid(page.after))
        rows = await query.order_by("id").limit(page.first + 1)
        return Page.from_rows([_member(r) for r in rows], [str(r.id) for r in rows], page)

    async def identity_by_hash(self, lookup_hash: str) -> Identity | None:
        row = await MemberIdentityRow.get_or_none(lookup_hash=lookup_hash)
        return _identity(row) if row else None

    async def identities_of(self, member_ids: Sequence[UUID]) -> list[Identity]:
        rows = await MemberIdentityRow.filter(member_id__in=list(member_ids)).order_by("linked_at")
        return [_identity(r) for r in rows]

    async def add_identity(self, identity: Identity) -> None:
        try:
            await MemberIdentityRow.create(
                id=identity.id,
                member_id=identity.member_id,
                kind=identity.kind,
                app_id=identity.app_id,
                lookup_hash=identity.lookup_hash,
                ciphertext=identity.ciphertext,
                masked=identity.masked,
                verified=identity.verified,
                verified_by=identity.verified_by,
                linked_at=identity.linked_at,
                suffix_hash=identity.suffix_hash,
            )
        except IntegrityError:
            raise MemberError(
                MemberErrorCode.IDENTIFIER_TAKEN,
                f"{identity.masked} was just linked to another member; try again.",
            ) from None

    async def save_identity(self, identity: Identity) -> None:
        await MemberIdentityRow.filter(id=identity.id).update(
            member_id=identity.member_id,
            ciphertext=identity.ciphertext,
            masked=identity.masked,
            verified=identity.verified,
            verified_by=identity.verified_by,
            suffix_hash=identity.suffix_hash,
        )

    async def by_phone_suffix(self, suffix_hash: str, limit: int) -> list[Member]:
        ids = await (
            MemberIdentityRow.filter(suffix_hash=suffix_hash, kind=IdentityKind.PHONE)
            .order_by("member_id")
            .limit(limit)
            .values_list("member_id", flat=True)
        )
        rows = await MemberRow.filter(id__in=list(ids), status="ACTIVE").order_by("id")
        return [_member(r) for r in rows]

    async def phones_without_suffix(self, limit: int) -> list[Identity]:
        rows = await MemberIdentityRow.filter(
            kind=IdentityKind.PHONE, suffix_hash__isnull=True
        ).limit(limit)
        return [_identity(r) for r in rows]

    async def delete_identities(self, member_id: UUID) -> int:
        return await MemberIdentityRow.filter(member_id=member_id).delete()

    async def delete_identity(self, identity_id: UUID) -> None:
        await MemberIdentityRow.filter(id=identity_id).delete()

    async def open_merge_candidate(
        self, claimant_id: UUID, holder_id: UUID, identity_hash: str
    ) -> MergeCandidate | None:
        row = await MergeCandidateRow.get_or_none(
            claimant_member_id=claimant_id,
            holder_member_id=holder_id,
            identity_hash=identity_hash,
            state=CandidateState.OPEN,
        )
        return _candidate(row) if row else None

    async def add_merge_candidate(self, candidate: MergeCandidate) -> None:
        await MergeCandidateRow.create(id=candidate.id, **_candidate_fields(candidate))

    async def get_merge_candidate(
        self, candidate_id: UUID, *, lock: bool = False
    ) -> MergeCandidate | None:
        query = MergeCandidateRow.filter(id=candidate_id)
        row = await (query.select_for_update() if lock else query).first()
        return _candidate(row) if row else None

    async def save_merge_candidate(self, candidate: MergeCandidate) -> None:
        await MergeCandidateRow.filter(id=candidate.id).update(**_candidate_fields(candidate))

    async def merge_candidates(
        self, state: CandidateState | None, page: PageRequest
    ) -> Page[MergeCandidate]:
        query = MergeCandidateRow.all()
        if state is not None:
            query = query.filter(state=state)
        if page.after is not None:
            query = query.filter(id__gt=after_uuid(page.after))
        rows = await query.order_by("id").limit(page.first + 1)
        return Page.from_rows([_candidate(r) for r in rows], [str(r.id) for r in rows], page)

    async def consents_of(self, member_ids: Sequence[UUID]) -> list[ConsentRecord]:
        rows = await ConsentRecordRow.filter(member_id__in=list(member_ids)).order_by(
            "recorded_at", "id"
        )
        return [_consent(r) for r in rows]

    async def add_consents(self, records: Sequence[ConsentRecord]) -> None:
        await ConsentRecordRow.bulk_create(
            [
                ConsentRecordRow(
                    id=r.id,
                    member_id=r.member_id,
                    purpose=r.purpose,
                    granted=r.granted,
                    policy_version=r.policy_version,
                    channel=r.channel,
                    recorded_at=r.recorded_at,
                )
                for r in records
            ]
        )

    async def move_consents(self, source: UUID, target: UUID) -> int:
        return await ConsentRecordRow.filter(member_id=source).update(member_id=target)

    async def add_merge(self, merge: MemberMerge) -> None:
        try:
            await MemberMergeRow.create(
                id=merge.id,
                source_member_id=merge.source_member_id,
                target_member_id=merge.target_member_id,
                reason=merge.reason,
                actor=merge.actor,
                moved=merge.moved,
                created_at=merge.created_at,
            )
        except IntegrityError:
            raise MemberError(
                MemberErrorCode.MEMBER_MERGED,
                "The source member was merged by a concurrent request.",
                ["sourceMemberId"],
            ) from None

    async def merges_of(self, member_id: UUID) -> list[MemberMerge]:
        rows = await MemberMergeRow.filter(source_member_id=member_id).order_by("created_at")
        rows += await MemberMergeRow.filter(target_member_id=member_id).order_by("created_at")
        return [_merge(r) for r in rows]

    async def add_phone_code(self, code: PhoneCode) -> None:
        await PhoneCodeRow.create(
            id=code.id,
            phone_hash=code.phone_hash,
            code_hash=code.code_hash,
            expires_at=code.expires_at,
            attempts=code.attempts,
            created_at=code.created_at,
        )

    async def latest_phone_code(self, phone_hash: str) -> PhoneCode | None:
        row = (
            await PhoneCodeRow.filter(phone_hash=phone_hash).order_by("-created_at", "-id").first()
        )
        if row is None:
            return None
        return PhoneCode(
            id=row.id,
            phone_hash=row.phone_hash,
            code_hash=row.code_hash,
            expires_at=row.expires_at,
            attempts=row.attempts,
            created_at=row.created_at,
            consumed_at=row.consumed_at,
        )

    async def claim_code_attempt(self, code_id: UUID, max_attempts: int) -> bool:
        count = await PhoneCodeRow.filter(
            id=code_id, consumed_at__isnull=True, attempts__lt=max_attempts
        ).update(attempts=F("attempts") + 1)
        return bool(count)

    async def delete_phone_codes_before(self, before: datetime) -> int:
        return await PhoneCodeRow.filter(expires_at__lt=before).delete()

    async def consume_phone_code(self, code_id: UUID, at: datetime) -> bool:
        count = await PhoneCodeRow.filter(id=code_id, consumed_at__isnull=True).update(
            consumed_at=at
        )
        return bool(count)

    async def add_pii_access(self, *entries: PiiAccess) -> None:
        await PiiAccessRow.bulk_create(
            [
                PiiAccessRow(
                    id=entry.id,
                    actor=entry.actor,
                    member_id=entry.member_id,
                    kinds=entry.kinds,
                    reason=entry.reason,
                    created_at=entry.created_at,
                )
                for entry in entries
            ]
        )

    async def list_pii_access(self, page: PageRequest, actor: str | None = None) -> Page[PiiAccess]:
        query = PiiAccessRow.all() if actor is None else PiiAccessRow.filter(actor=actor)
        if page.after is not None:
            query = query.filter(id__lt=after_uuid(page.after))
        rows = await query.order_by("-id").limit(page.first + 1)
        entries = [
            PiiAccess(
                id=r.id,
                actor=r.actor,
                member_id=r.member_id,
                kinds=list(r.kinds),
                reason=r.reason,
                created_at=r.created_at,
            )
            for r in rows
        ]
        return Page.from_rows(entries, [str(r.id) for r in rows], page)


def _candidate_fields(c: MergeCandidate) -> dict[str, Any]:
    return {
        "claimant_member_id": c.claimant_id,
        "holder_member_id": c.holder_id,
        "identity_hash": c.identity_hash,
        "masked": c.masked,
        "verified_by": c.verified_by,
        "state": c.state,
        "created_at": c.created_at,
        "decided_by": c.decided_by,
        "decided_at": c.decided_at,
        "reason": c.reason,
    }


def _candidate(row: MergeCandidateRow) -> MergeCandidate:
    return MergeCandidate(
        id=row.id,
        claimant_id=row.claimant_member_id,
        holder_id=row.holder_member_id,
        identity_hash=row.identity_hash,
        masked=row.masked,
        verified_by=VerifiedBy(row.verified_by),
        state=CandidateState(row.state),
        created_at=row.created_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        reason=row.reason,
    )
