from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.ids import new_id
from domain.loyalty.model import (
    Account,
    ClaimState,
    Entry,
    EntryKind,
    Hold,
    HoldState,
    Lot,
    PointsClaim,
)
from domain.pagination import Page, PageRequest
from infra.db import sql
from infra.db.models.loyalty import (
    GrowthRecordRow,
    PointsAccountRow,
    PointsClaimRow,
    PointsEntryRow,
    PointsHoldRow,
    PointsLotRow,
    TierChangeRow,
)
from infra.repositories.paging import after_uuid

ACCOUNT_COLUMNS = "member_id, balance, held, debt, growth_value, tier"
ENTRY_COLUMNS = (
    "id",
    "member_id",
    "kind",
    "amount",
    "held_change",
    "balance_after",
    "held_after",
    "source",
    "actor",
    "reason",
    "idempotency_key",
    "created_at",
)
LOT_COLUMNS = (
    "id",
    "member_id",
    "amount",
    "remaining",
    "held",
    "earned_at",
    "expires_at",
    "source",
)
HOLD_COLUMNS = ("id", "member_id", "owner", "amount", "state", "allocations", "created_at")
SELECT_LOTS = f"SELECT {', '.join(LOT_COLUMNS)} FROM points_lot"
SELECT_HOLD = f"SELECT {', '.join(HOLD_COLUMNS)} FROM points_hold WHERE owner = $1"


def _account(row: Any) -> Account:
    if not isinstance(row, dict):  # an ORM row (the rarely used paths)
        return Account(row.member_id, row.balance, row.held, row.debt, row.growth_value, row.tier)
    return Account(
        sql.as_uuid(row["member_id"]),
        row["balance"],
        row["held"],
        row["debt"],
        row["growth_value"],
        row["tier"],
    )


def _entry(row: Any) -> Entry:
    if not isinstance(row, dict):
        row = {name: getattr(row, name) for name in ENTRY_COLUMNS}
    return Entry(
        sql.as_uuid(row["id"]),
        sql.as_uuid(row["member_id"]),
        EntryKind(row["kind"]),
        row["amount"],
        row["held_change"],
        row["balance_after"],
        row["held_after"],
        row["source"],
        row["actor"],
        row["reason"],
        row["idempotency_key"],
        sql.as_datetime(row["created_at"]),
    )


def _lot(row: dict[str, Any]) -> Lot:
    return Lot(
        sql.as_uuid(row["id"]),
        sql.as_uuid(row["member_id"]),
        row["amount"],
        row["remaining"],
        row["held"],
        sql.as_datetime(row["earned_at"]),
        sql.as_datetime(row["expires_at"]),
        row["source"],
    )


def _hold(row: dict[str, Any]) -> Hold:
    return Hold(
        sql.as_uuid(row["id"]),
        sql.as_uuid(row["member_id"]),
        row["owner"],
        row["amount"],
        HoldState(row["state"]),
        {UUID(k): int(v) for k, v in sql.as_json(row["allocations"]).items()},
        sql.as_datetime(row["created_at"]),
    )


class TortoiseLoyaltyRepository:
    """Every ledger operation's statements (the account lock, entries, lots, holds) through
    prebuilt SQL; reports and jobs through the ORM."""

    async def lock_account(self, member_id: UUID, tier: str) -> Account:
        """The account row, locked; made first if the member has none (one statement when
        it exists, which is every time but the first)."""
        lock = "" if sql.is_sqlite() else " FOR UPDATE"
        select = f"SELECT {ACCOUNT_COLUMNS} FROM points_account WHERE member_id = $1{lock}"
        rows = await sql.fetch(select, member_id)
        if not rows:
            await sql.fetch(
                "INSERT INTO points_account (id, member_id, balance, held, debt, growth_value, "
                "tier) VALUES ($1, $2, 0, 0, 0, 0, $3) ON CONFLICT (member_id) DO NOTHING "
                "RETURNING id",
                new_id(),
                member_id,
                tier,
            )
            rows = await sql.fetch(select, member_id)
        return _account(rows[0])

    async def get_account(self, member_id: UUID) -> Account | None:
        rows = await sql.fetch(
            f"SELECT {ACCOUNT_COLUMNS} FROM points_account WHERE member_id = $1", member_id
        )
        return _account(rows[0]) if rows else None

    async def get_accounts(self, member_ids: Sequence[UUID]) -> list[Account]:
        return [_account(r) for r in await PointsAccountRow.filter(member_id__in=list(member_ids))]

    async def save_account(self, account: Account) -> None:
        await sql.execute(
            "UPDATE points_account SET balance = $2, held = $3, debt = $4, growth_value = $5, "
            "tier = $6 WHERE member_id = $1",
            account.member_id,
            account.balance,
            account.held,
            account.debt,
            account.growth_value,
            account.tier,
        )

    async def entry_by_key(self, member_id: UUID, key: str) -> Entry | None:
        rows = await sql.fetch(
            f"SELECT {', '.join(ENTRY_COLUMNS)} FROM points_entry "
            "WHERE member_id = $1 AND idempotency_key = $2",
            member_id,
            key,
        )
        return _entry(rows[0]) if rows else None

    async def add_entries(self, entries: Sequence[Entry]) -> None:
        await sql.insert(
            "points_entry",
            ENTRY_COLUMNS,
            [
                (
                    e.id,
                    e.member_id,
                    e.kind.value,
                    e.amount,
                    e.held_change,
                    e.balance_after,
                    e.held_after,
                    e.source[:100],
                    e.actor,
                    e.reason,
                    e.idempotency_key,
                    e.created_at,
                )
                for e in entries
            ],
        )

    async def entries(
        self, member_id: UUID, kinds: Sequence[EntryKind], page: PageRequest
    ) -> Page[Entry]:
        query = PointsEntryRow.filter(member_id=member_id)
        if kinds:
            query = query.filter(kind__in=list(kinds))
        if page.after is not None:
            query = query.filter(id__lt=after_uuid(page.after))
        rows = await query.order_by("-id").limit(page.first + 1)
        return Page.from_rows([_entry(r) for r in rows], [str(r.id) for r in rows], page)

    async def lots(self, member_id: UUID) -> list[Lot]:
        """Lots with points left or held, soonest expiry first: one statement."""
        rows = await sql.fetch(
            f"{SELECT_LOTS} WHERE member_id = $1 AND (remaining > 0 OR held > 0) "
            "ORDER BY expires_at, id",
            member_id,
        )
        return [_lot(r) for r in rows]

    async def lot(self, lot_id: UUID) -> Lot | None:
        rows = await sql.fetch(f"{SELECT_LOTS} WHERE id = $1", lot_id)
        return _lot(rows[0]) if rows else None

    async def add_lot(self, lot: Lot) -> None:
        await sql.insert(
            "points_lot",
            LOT_COLUMNS,
            [
                (
                    lot.id,
                    lot.member_id,
                    lot.amount,
                    lot.remaining,
                    lot.held,
                    lot.earned_at,
                    lot.expires_at,
                    lot.source[:100],
                )
            ],
        )

    async def save_lots(self, lots: Sequence[Lot]) -> None:
        if not lots:
            return
        if sql.is_sqlite():  # no arrays: one statement per lot (SQLite runs in process)
            for lot in lots:
                await sql.execute(
                    "UPDATE points_lot SET remaining = $2, held = $3, member_id = $4 WHERE id = $1",
                    lot.id,
                    lot.remaining,
                    lot.held,
                    lot.member_id,
                )
            return
        await sql.execute(
            "UPDATE points_lot SET remaining = u.remaining, held = u.held, "
            "member_id = u.member_id FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], "
            "$4::uuid[]) AS u(id, remaining, held, member_id) WHERE points_lot.id = u.id",
            [lot.id for lot in lots],
            [lot.remaining for lot in lots],
            [lot.held for lot in lots],
            [lot.member_id for lot in lots],
        )

    async def members_with_expired_lots(
        self, now: datetime, limit: int, after: UUID | None = None
    ) -> list[UUID]:
        query = PointsLotRow.filter(expires_at__lte=now, remaining__gt=0)
        if after is not None:
            query = query.filter(member_id__gt=after)
        rows = (
            await query.order_by("member_id")
            .distinct()
            .limit(limit)
            .values_list("member_id", flat=True)
        )
        return [sql.as_uuid(r) for r in rows]

    async def hold_by_owner(self, owner: str) -> Hold | None:
        rows = await sql.fetch(SELECT_HOLD, owner)
        return _hold(rows[0]) if rows else None

    async def add_hold(self, hold: Hold) -> None:
        await sql.insert(
            "points_hold",
            HOLD_COLUMNS,
            [
                (
                    hold.id,
                    hold.member_id,
                    hold.owner,
                    hold.amount,
                    hold.state.value,
                    sql.as_json_text({str(k): v for k, v in hold.allocations.items()}),
                    hold.created_at,
                )
            ],
        )

    async def save_hold(self, hold: Hold) -> None:
        await sql.execute(
            "UPDATE points_hold SET state = $2, member_id = $3 WHERE id = $1",
            hold.id,
            hold.state.value,
            hold.member_id,
        )

    async def move_member(self, source: UUID, target: UUID) -> None:
        await PointsLotRow.filter(member_id=source).update(member_id=target)
        await PointsHoldRow.filter(member_id=source).update(member_id=target)
        await GrowthRecordRow.filter(member_id=source).update(member_id=target)
        await PointsClaimRow.filter(member_id=source).update(member_id=target)

    async def entry_by_key_of_any(self, member_ids: Sequence[UUID], key: str) -> Entry | None:
        if not member_ids:
            return None
        rows = await sql.fetch(
            f"SELECT {', '.join(ENTRY_COLUMNS)} FROM points_entry "
            f"WHERE idempotency_key = $1 AND member_id IN ({sql.placeholders(len(member_ids), 2)})",
            key,
            *member_ids,
        )
        return _entry(rows[0]) if rows else None

    async def add_growth(self, member_id: UUID, amount: int, at: datetime, reference: str) -> None:
        await sql.insert(
            "growth_record",
            ("id", "member_id", "amount", "at", "reference"),
            [(new_id(), member_id, amount, at, reference[:100])],
        )

    async def growth_since(self, member_ids: Sequence[UUID], since: datetime) -> dict[UUID, int]:
        if not member_ids:
            return {}
        keys = list(member_ids)
        rows = await sql.fetch(
            "SELECT member_id, SUM(amount) AS total FROM growth_record "
            f"WHERE member_id IN ({sql.placeholders(len(keys), 2)}) AND at >= $1 "
            "GROUP BY member_id",
            since,
            *keys,
        )
        return {sql.as_uuid(r["member_id"]): int(r["total"] or 0) for r in rows}

    async def add_tier_change(self, member_id: UUID, old: str, new: str, at: datetime) -> None:
        await TierChangeRow.create(
            id=new_id(), member_id=member_id, old_tier=old, new_tier=new, at=at
        )

    async def accounts_page(self, after: UUID | None, limit: int) -> list[Account]:
        query = PointsAccountRow.all()
        if after is not None:
            query = query.filter(member_id__gt=after)
        return [_account(r) for r in await query.order_by("member_id").limit(limit)]

    async def add_claim(self, claim: PointsClaim) -> None:
        await PointsClaimRow.create(**_claim_fields(claim))

    async def claim_by_reference(self, reference: str) -> PointsClaim | None:
        row = await PointsClaimRow.get_or_none(reference=reference)
        return _claim(row) if row else None

    async def get_claim(self, claim_id: UUID, *, lock: bool = False) -> PointsClaim | None:
        query = PointsClaimRow.filter(id=claim_id)
        if lock:
            query = query.select_for_update()
        row = await query.first()
        return _claim(row) if row else None

    async def save_claim(self, claim: PointsClaim) -> None:
        fields = _claim_fields(claim)
        del fields["id"]
        await PointsClaimRow.filter(id=claim.id).update(**fields)

    async def claims(
        self, location_ids: Sequence[UUID] | None, state: ClaimState | None, page: PageRequest
    ) -> Page[PointsClaim]:
        query = PointsClaimRow.all()
        if location_ids is not None:
            query = query.filter(location_id__in=list(location_ids))
        if state is not None:
            query = query.filter(state=state)
        if page.after is not None:
            query = query.filter(id__lt=after_uuid(page.after))
        rows = await query.order_by("-id").limit(page.first + 1)
        return Page.from_rows([_claim(r) for r in rows], [str(r.id) for r in rows], page)


def _claim_fields(claim: PointsClaim) -> dict[str, Any]:
    return {
        "id": claim.id,
        "member_id": claim.member_id,
        "location_id": claim.location_id,
        "reference": claim.reference,
        "paid": claim.paid,
        "points": claim.points,
        "state": claim.state,
        "created_at": claim.created_at,
        "decided_by": claim.decided_by,
        "decided_at": claim.decided_at,
        "reason": claim.reason,
    }


def _claim(row: PointsClaimRow) -> PointsClaim:
    return PointsClaim(
        id=row.id,
        member_id=row.member_id,
        location_id=row.location_id,
        reference=row.reference,
        paid=row.paid,
        points=row.points,
        state=ClaimState(row.state),
        created_at=row.created_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        reason=row.reason,
    )
