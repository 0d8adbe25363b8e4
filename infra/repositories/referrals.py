"""Referrals: programs, codes, one referral per invitee, the monthly counters of the cap."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from tortoise.exceptions import IntegrityError

from domain.errors import GrowthError, GrowthErrorCode
from domain.growth.referrals_model import (
    ProgramStatus,
    Referral,
    ReferralCounts,
    ReferralProgram,
    ReferralStatus,
)
from domain.growth.referrals_ports import ReferralRepository
from domain.ids import new_id
from infra.db import sql
from infra.db.models.referrals import (
    ReferralErasedIdentityRow,
    ReferralProgramRow,
    ReferralRow,
)

PROGRAM_FIELDS = (
    "name",
    "status",
    "starts_at",
    "ends_at",
    "referrer_points",
    "referrer_template_id",
    "invitee_points",
    "invitee_points_per_yuan",
    "invitee_template_id",
    "monthly_cap",
    "created_at",
    "updated_at",
)
REFERRAL_FIELDS = (
    "invitee_id",
    "referrer_id",
    "code",
    "program_id",
    "status",
    "reason",
    "device_hash",
    "order_id",
    "referrer_paid",
    "referrer_points",
    "invitee_points",
    "created_at",
    "decided_at",
)


def _program(row: ReferralProgramRow) -> ReferralProgram:
    return ReferralProgram(id=row.id, **{f: getattr(row, f) for f in PROGRAM_FIELDS})


def _slot(program: ReferralProgram) -> int | None:
    """The unique `active_slot`: two programs cannot both be ACTIVE, whatever the race."""
    return 1 if program.status is ProgramStatus.ACTIVE else None


def _referral(row: ReferralRow) -> Referral:
    return Referral(id=row.id, **{f: getattr(row, f) for f in REFERRAL_FIELDS})


def _another_active() -> GrowthError:
    """Two admins activated programs at once: the unique `active_slot` refused the later one
    (its transaction is rolled back with this error)."""
    return GrowthError(
        GrowthErrorCode.PROGRAM_ACTIVE,
        "Another program was made active just now; pause or end it first.",
        ["programId"],
    )


class TortoiseReferralRepository(ReferralRepository):
    async def add_program(self, program: ReferralProgram) -> None:
        try:
            await ReferralProgramRow.create(
                id=program.id,
                active_slot=_slot(program),
                **{f: getattr(program, f) for f in PROGRAM_FIELDS},
            )
        except IntegrityError:
            raise _another_active() from None

    async def get_program(self, program_id: UUID, *, lock: bool = False) -> ReferralProgram | None:
        query = ReferralProgramRow.filter(id=program_id)
        row = await (query.select_for_update() if lock else query).first()
        return _program(row) if row else None

    async def save_program(self, program: ReferralProgram) -> None:
        try:
            await ReferralProgramRow.filter(id=program.id).update(
                active_slot=_slot(program),
                **{f: getattr(program, f) for f in PROGRAM_FIELDS if f != "created_at"},
            )
        except IntegrityError:
            raise _another_active() from None

    async def active_program(self) -> ReferralProgram | None:
        row = await ReferralProgramRow.filter(status=ProgramStatus.ACTIVE).first()
        return _program(row) if row else None

    async def programs(self, limit: int) -> list[ReferralProgram]:
        rows = await ReferralProgramRow.all().order_by("-created_at", "-id").limit(limit)
        return [_program(r) for r in rows]

    async def put_code(self, member_id: UUID, code: str, at: datetime) -> None:
        await sql.fetch(
            "INSERT INTO referral_code (member_id, code, created_at) VALUES ($1, $2, $3) "
            "ON CONFLICT (member_id) DO NOTHING RETURNING member_id",
            member_id,
            code,
            at,
        )

    async def member_of_code(self, code: str) -> UUID | None:
        rows = await sql.fetch("SELECT member_id FROM referral_code WHERE code = $1", code)
        return sql.as_uuid(rows[0]["member_id"]) if rows else None

    async def add(self, referral: Referral) -> bool:
        # ON CONFLICT, not a caught IntegrityError: a failed insert aborts PostgreSQL's
        # transaction (the login's). Two first logins racing: the second keeps the first's.
        columns = ("id", *REFERRAL_FIELDS)
        values = [sql.as_driver_value(getattr(referral, c)) for c in columns]
        inserted = await sql.fetch(
            f"INSERT INTO referral ({', '.join(columns)}) "
            f"VALUES ({sql.placeholders(len(columns))}) "
            "ON CONFLICT (invitee_id) DO NOTHING RETURNING id",
            *values,
        )
        return bool(inserted)

    async def of_invitee(self, invitee_id: UUID, *, lock: bool = False) -> Referral | None:
        query = ReferralRow.filter(invitee_id=invitee_id)
        row = await (query.select_for_update() if lock else query).first()
        return _referral(row) if row else None

    async def save(self, referral: Referral) -> None:
        await ReferralRow.filter(id=referral.id).update(
            **{f: getattr(referral, f) for f in REFERRAL_FIELDS if f != "invitee_id"}
        )

    async def device_seen(self, device_hash: str) -> bool:
        return await ReferralRow.filter(device_hash=device_hash).exists()

    async def of_referrer(
        self, referrer_id: UUID, limit: int, statuses: Sequence[ReferralStatus] = ()
    ) -> list[Referral]:
        query = ReferralRow.filter(referrer_id=referrer_id)
        if statuses:
            query = query.filter(status__in=list(statuses))
        rows = await query.order_by("-created_at", "-id").limit(limit)
        return [_referral(r) for r in rows]

    async def counts(self, referrer_id: UUID) -> ReferralCounts:
        rows = await sql.fetch(
            "SELECT status, COUNT(*) AS n FROM referral WHERE referrer_id = $1 GROUP BY status",
            referrer_id,
        )
        by = {r["status"]: int(r["n"]) for r in rows}
        rewarded, pending = by.get("REWARDED", 0), by.get("PENDING", 0)
        return ReferralCounts(
            invited=rewarded + pending + by.get("CLAWED_BACK", 0),
            rewarded=rewarded,
            pending=pending,
        )

    async def take_month_slot(self, referrer_id: UUID, month: str, cap: int) -> bool:
        await sql.fetch(
            "INSERT INTO referral_month (id, referrer_id, month, rewarded) "
            "VALUES ($1, $2, $3, 0) ON CONFLICT (referrer_id, month) DO NOTHING RETURNING id",
            new_id(),
            referrer_id,
            month,
        )
        # Conditional: PostgreSQL re-reads the row after a concurrent writer commits, so N
        # hand-overs racing for the last slot leave the counter at the cap, never over.
        changed = await sql.execute(
            "UPDATE referral_month SET rewarded = rewarded + 1 "
            "WHERE referrer_id = $1 AND month = $2 AND rewarded < $3",
            referrer_id,
            month,
            cap,
        )
        return changed == 1

    async def remember_erased(self, identity_hashes: Sequence[str], at: datetime) -> None:
        for lookup_hash in dict.fromkeys(identity_hashes):
            await sql.fetch(
                "INSERT INTO referral_erased_identity (lookup_hash, erased_at) VALUES ($1, $2) "
                "ON CONFLICT (lookup_hash) DO NOTHING RETURNING lookup_hash",
                lookup_hash,
                at,
            )

    async def any_erased(self, identity_hashes: Sequence[str]) -> bool:
        if not identity_hashes:
            return False
        return await ReferralErasedIdentityRow.filter(
            lookup_hash__in=list(identity_hashes)
        ).exists()
