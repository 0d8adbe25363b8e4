"""An in-memory `LoyaltyRepository`: entries are append-only and an idempotency key is used
once per member (the unique index of points_entry); lots are listed soonest expiry first."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from uuid import UUID

from domain.loyalty.model import Account, ClaimState, Entry, EntryKind, Hold, Lot, PointsClaim
from domain.loyalty.ports import LoyaltyRepository
from domain.pagination import Page, PageRequest
from tests.fakes.tables import Tables, page_of


class FakeLoyalty(LoyaltyRepository):
    def __init__(self, tables: Tables):
        self._t = tables

    async def lock_account(self, member_id: UUID, tier: str) -> Account:
        if member_id not in self._t.accounts:
            self._t.accounts[member_id] = Account(member_id, 0, 0, 0, 0, tier)
        return replace(self._t.accounts[member_id])

    async def get_account(self, member_id: UUID) -> Account | None:
        found = self._t.accounts.get(member_id)
        return replace(found) if found else None

    async def get_accounts(self, member_ids: Sequence[UUID]) -> list[Account]:
        return [replace(self._t.accounts[m]) for m in member_ids if m in self._t.accounts]

    async def save_account(self, account: Account) -> None:
        assert account.member_id in self._t.accounts, "save of an account never locked"
        self._t.accounts[account.member_id] = replace(account)

    async def entry_by_key(self, member_id: UUID, key: str) -> Entry | None:
        for entry in self._t.entries:
            if (entry.member_id, entry.idempotency_key) == (member_id, key):
                return entry
        return None

    async def entry_by_key_of_any(self, member_ids: Sequence[UUID], key: str) -> Entry | None:
        for entry in self._t.entries:
            if entry.member_id in member_ids and entry.idempotency_key == key:
                return entry
        return None

    async def add_entries(self, entries: Sequence[Entry]) -> None:
        used = {(e.member_id, e.idempotency_key) for e in self._t.entries}
        for entry in entries:
            key = (entry.member_id, entry.idempotency_key)
            assert key not in used, f"unique index: {entry.idempotency_key} used twice"
            used.add(key)
            self._t.entries.append(entry)  # frozen

    async def entries(
        self, member_id: UUID, kinds: Sequence[EntryKind], page: PageRequest
    ) -> Page[Entry]:
        mine = [e for e in self._t.entries if e.member_id == member_id]
        mine = [e for e in mine if not kinds or e.kind in kinds]
        return page_of(mine, lambda e: str(e.id), page, newest_first=True)

    async def lots(self, member_id: UUID) -> list[Lot]:
        mine = [
            lot
            for lot in self._t.lots.values()
            if lot.member_id == member_id and (lot.remaining > 0 or lot.held > 0)
        ]
        return [replace(lot) for lot in sorted(mine, key=lambda lot: (lot.expires_at, lot.id))]

    async def lot(self, lot_id: UUID) -> Lot | None:
        found = self._t.lots.get(lot_id)
        return replace(found) if found else None

    async def add_lot(self, lot: Lot) -> None:
        assert lot.id not in self._t.lots, "duplicate primary key"
        self._t.lots[lot.id] = replace(lot)

    async def save_lots(self, lots: Sequence[Lot]) -> None:
        for lot in lots:
            self._t.lots[lot.id] = replace(lot)

    async def members_with_expired_lots(
        self, now: datetime, limit: int, after: UUID | None = None
    ) -> list[UUID]:
        members = {
            lot.member_id
            for lot in self._t.lots.values()
            if lot.expires_at <= now and lot.remaining > 0
        }
        return sorted(m for m in members if after is None or m > after)[:limit]

    async def hold_by_owner(self, owner: str) -> Hold | None:
        for held in self._t.holds.values():
            if held.owner == owner:
                return copy.deepcopy(held)
        return None

    async def add_hold(self, hold: Hold) -> None:
        assert all(h.owner != hold.owner for h in self._t.holds.values()), "one hold per owner"
        self._t.holds[hold.id] = copy.deepcopy(hold)

    async def save_hold(self, hold: Hold) -> None:
        self._t.holds[hold.id] = copy.deepcopy(hold)

    async def move_member(self, source: UUID, target: UUID) -> None:
        for lot in self._t.lots.values():
            if lot.member_id == source:
                lot.member_id = target
        for held in self._t.holds.values():
            if held.member_id == source:
                held.member_id = target
        self._t.growth = [
            (target if m == source else m, amount, at, ref) for m, amount, at, ref in self._t.growth
        ]
        for claim in self._t.claims.values():
            if claim.member_id == source:
                claim.member_id = target

    async def add_growth(self, member_id: UUID, amount: int, at: datetime, reference: str) -> None:
        self._t.growth.append((member_id, amount, at, reference[:100]))

    async def growth_since(self, member_ids: Sequence[UUID], since: datetime) -> dict[UUID, int]:
        totals: dict[UUID, int] = {}
        for member_id, amount, at, _ in self._t.growth:
            if member_id in member_ids and at >= since:
                totals[member_id] = totals.get(member_id, 0) + amount
        return totals

    async def add_tier_change(self, member_id: UUID, old: str, new: str, at: datetime) -> None:
        self._t.tier_changes.append((member_id, old, new, at))

    async def accounts_page(self, after: UUID | None, limit: int) -> list[Account]:
        ids = sorted(m for m in self._t.accounts if after is None or m > after)[:limit]
        return [replace(self._t.accounts[m]) for m in ids]

    async def add_claim(self, claim: PointsClaim) -> None:
        assert all(c.reference != claim.reference for c in self._t.claims.values())
        self._t.claims[claim.id] = replace(claim)

    async def claim_by_reference(self, reference: str) -> PointsClaim | None:
        for claim in self._t.claims.values():
            if claim.reference == reference:
                return replace(claim)
        return None

    async def get_claim(self, claim_id: UUID, *, lock: bool = False) -> PointsClaim | None:
        found = self._t.claims.get(claim_id)
        return replace(found) if found else None

    async def save_claim(self, claim: PointsClaim) -> None:
        self._t.claims[claim.id] = replace(claim)

    async def claims(
        self, location_ids: Sequence[UUID] | None, state: ClaimState | None, page: PageRequest
    ) -> Page[PointsClaim]:
        found = [
            replace(c)
            for c in self._t.claims.values()
            if (location_ids is None or c.location_id in location_ids)
            and (state is None or c.state is state)
        ]
        return page_of(found, lambda c: str(c.id), page, newest_first=True)
