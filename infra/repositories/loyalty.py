from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from tortoise.functions import Sum

from domain.ids import new_id
from domain.loyalty.model import Account, Entry, EntryKind, Hold, Lot
from domain.pagination import Page, PageRequest
from infra.db import sql
from infra.db.models.loyalty import (
    GrowthRecordRow,
    PointsAccountRow,
    PointsEntryRow,
    PointsHoldRow,
    PointsLotRow,
    TierChangeRow,
)
from infra.repositories.paging import after_uuid


def _account(row: PointsAccountRow) -> Account:
    return Account(row.member_id, row.balance, row.held, row.debt, row.growth_value, row.tier)


def _entry(row: PointsEntryRow) -> Entry:
    return Entry(
        row.id,
        row.member_id,
        row.kind,
        row.amount,
        row.held_change,
        row.balance_after,
        row.held_after,
        row.source,
        row.actor,
        row.reason,
        row.idempotency_key,
        row.created_at,
    )


def _lot(row: PointsLotRow) -> Lot:
    return Lot(
        row.id,
        row.member_id,
        row.amount,
        row.remaining,
        row.held,
        row.earned_at,
        row.expires_at,
        row.source,
    )


def _hold(row: PointsHoldRow) -> Hold:
    return Hold(
        row.id,
        row.member_id,
        row.owner,
        row.amount,
        row.state,
        {UUID(k): int(v) for k, v in row.allocations.items()},
        row.created_at,
    )


class TortoiseLoyaltyRepository:
    async def lock_account(self, member_id: UUID, tier: str) -> Account:
        await sql.fetch(
            "INSERT INTO points_account (id, member_id, balance, held, debt, growth_value, tier) "
            "VALUES ($1, $2, 0, 0, 0, 0, $3) ON CONFLICT (member_id) DO NOTHING RETURNING id",
            new_id(),
            member_id,
            tier,
        )
        row = await PointsAccountRow.filter(member_id=member_id).select_for_update().first()
        assert row is not None
        return _account(row)

    async def get_account(self, member_id: UUID) -> Account | None:
        row = await PointsAccountRow.get_or_none(member_id=member_id)
        return _account(row) if row else None

    async def get_accounts(self, member_ids: Sequence[UUID]) -> list[Account]:
        return [_account(r) for r in await PointsAccountRow.filter(member_id__in=list(member_ids))]

    async def save_account(self, account: Account) -> None:
        await PointsAccountRow.filter(member_id=account.member_id).update(
            balance=account.balance,
            held=account.held,
            debt=account.debt,
            growth_value=account.growth_value,
            tier=account.tier,
        )

    async def entry_by_key(self, member_id: UUID, key: str) -> Entry | None:
        row = await PointsEntryRow.get_or_none(member_id=member_id, idempotency_key=key)
        return _entry(row) if row else None

    async def add_entries(self, entries: Sequence[Entry]) -> None:
        await PointsEntryRow.bulk_create(
            [
                PointsEntryRow(
                    id=e.id,
                    member_id=e.member_id,
                    kind=e.kind,
                    amount=e.amount,
                    held_change=e.held_change,
                    balance_after=e.balance_after,
                    held_after=e.held_after,
                    source=e.source[:100],
                    actor=e.actor,
                    reason=e.reason,
                    idempotency_key=e.idempotency_key,
                    created_at=e.created_at,
                )
                for e in entries
            ]
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
        rows = (
            await PointsLotRow.filter(member_id=member_id)
            .filter(remaining__gt=0)
            .order_by("expires_at", "id")
        )
        held = await PointsLotRow.filter(member_id=member_id, remaining=0, held__gt=0)
        return sorted([_lot(r) for r in [*rows, *held]], key=lambda lot: (lot.expires_at, lot.id))

    async def lot(self, lot_id: UUID) -> Lot | None:
        row = await PointsLotRow.get_or_none(id=lot_id)
        return _lot(row) if row else None

    async def add_lot(self, lot: Lot) -> None:
        await PointsLotRow.create(
            id=lot.id,
            member_id=lot.member_id,
            amount=lot.amount,
            remaining=lot.remaining,
            held=lot.held,
            earned_at=lot.earned_at,
            expires_at=lot.expires_at,
            source=lot.source[:100],
        )

    async def save_lots(self, lots: Sequence[Lot]) -> None:
        for lot in lots:
            await PointsLotRow.filter(id=lot.id).update(
                remaining=lot.remaining, held=lot.held, member_id=lot.member_id
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
        row = await PointsHoldRow.get_or_none(owner=owner)
        return _hold(row) if row else None

    async def add_hold(self, hold: Hold) -> None:
        await PointsHoldRow.create(
            id=hold.id,
            member_id=hold.member_id,
            owner=hold.owner,
            amount=hold.amount,
            state=hold.state,
            allocations={str(k): v for k, v in hold.allocations.items()},
            created_at=hold.created_at,
        )

    async def save_hold(self, hold: Hold) -> None:
        await PointsHoldRow.filter(id=hold.id).update(state=hold.state, member_id=hold.member_id)

    async def move_member(self, source: UUID, target: UUID) -> None:
        await PointsLotRow.filter(member_id=source).update(member_id=target)
        await PointsHoldRow.filter(member_id=source).update(member_id=target)
        await GrowthRecordRow.filter(member_id=source).update(member_id=target)

    async def add_growth(self, member_id: UUID, amount: int, at: datetime, reference: str) -> None:
        await GrowthRecordRow.create(
            id=new_id(), member_id=member_id, amount=amount, at=at, reference=reference[:100]
        )

    async def growth_since(self, member_ids: Sequence[UUID], since: datetime) -> dict[UUID, int]:
        rows = (
            await GrowthRecordRow.filter(member_id__in=list(member_ids), at__gte=since)
            .annotate(total=Sum("amount"))
            .group_by("member_id")
            .values("member_id", "total")
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
