"""The points ledger's rules through its use cases, over the in-memory fakes: earning once per
purchase at the tier's rate, spending the soonest-expiring points first, refusing to overspend,
holds that keep points from expiring, and debts that later earnings pay first. (The books'
invariants on a real database, under concurrency, are tests/integration's job.)"""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from domain.errors import PointsError, PointsErrorCode
from domain.loyalty import ledger
from domain.loyalty.ledger import LoyaltyDeps
from domain.loyalty.model import EntryKind
from domain.loyalty.services import earn_for_purchase
from tests.fakes.deps import loyalty_deps
from tests.fakes.shop import FakeShop

DAY = timedelta(days=1)


@pytest.fixture
def shop() -> FakeShop:
    return FakeShop()


@pytest.fixture
def deps(shop: FakeShop) -> LoyaltyDeps:
    return loyalty_deps(shop.db, shop.clock)


@pytest.fixture
def alice(shop: FakeShop) -> UUID:
    return shop.member("Alice").id


async def gift(deps: LoyaltyDeps, member: UUID, points: int, key: str, days: int = 0) -> None:
    """CS credits points, expiring in `days` days (the policy's date if 0)."""
    expires = deps.clock.now() + days * DAY if days else None
    async with deps.uow() as uow:
        await ledger.credit(
            deps, uow, member, points, EntryKind.ADJUST, "cs", "CS", "gift", key, expires_at=expires
        )


async def spend(deps: LoyaltyDeps, member: UUID, points: int, **flags: bool) -> None:
    async with deps.uow() as uow:
        await ledger.debit(
            deps, uow, member, points, EntryKind.ADJUST, "cs", "CS", "fix", None, **flags
        )


def numbers(shop: FakeShop, member: UUID) -> tuple[int, int, int]:
    """(balance, held, debt)."""
    account = shop.db.tables.accounts[member]
    return account.balance, account.held, account.debt


def left(shop: FakeShop, member: UUID) -> list[tuple[int, int]]:
    """(remaining, held) of the member's lots, soonest expiry first."""
    lots = sorted(
        (lot for lot in shop.db.tables.lots.values() if lot.member_id == member),
        key=lambda lot: lot.expires_at,
    )
    return [(lot.remaining, lot.held) for lot in lots]


async def test_a_purchase_earns_at_the_tier_rate_once(
    shop: FakeShop, deps: LoyaltyDeps, alice: UUID
) -> None:
    async with deps.uow() as uow:
        first = await earn_for_purchase(deps, uow, alice, 12_345, "order:1")
    async with deps.uow() as uow:
        replay = await earn_for_purchase(deps, uow, alice, 12_345, "order:1")

    assert first is not None and replay is not None and replay.id == first.id
    assert first.amount == 123  # 1 point per whole yuan at the first tier (x1.0)
    assert numbers(shop, alice) == (123, 0, 0)
    assert len(shop.db.tables.growth) == 1  # the replay counted no growth either


async def test_spending_takes_the_soonest_expiring_points_first(
    shop: FakeShop, deps: LoyaltyDeps, alice: UUID
) -> None:
    await gift(deps, alice, 100, "late", days=200)
    await gift(deps, alice, 50, "soon", days=10)

    await spend(deps, alice, 70)

    assert left(shop, alice) == [(0, 0), (80, 0)]
    assert numbers(shop, alice) == (80, 0, 0)


async def test_overspending_is_refused_and_changes_nothing(
    shop: FakeShop, deps: LoyaltyDeps, alice: UUID
) -> None:
    await gift(deps, alice, 100, "gift")
    entries = list(shop.db.tables.entries)

    with pytest.raises(PointsError) as refused:
        await spend(deps, alice, 101)

    assert refused.value.code is PointsErrorCode.INSUFFICIENT_POINTS
    assert numbers(shop, alice) == (100, 0, 0) and left(shop, alice) == [(100, 0)]
    assert shop.db.tables.entries == entries


async def test_an_idempotency_key_credits_once(
    shop: FakeShop, deps: LoyaltyDeps, alice: UUID
) -> None:
    await gift(deps, alice, 100, "ticket-7")
    await gift(deps, alice, 100, "ticket-7")

    assert numbers(shop, alice) == (100, 0, 0)


async def test_held_points_do_not_expire_until_the_hold_is_released(
    shop: FakeShop, deps: LoyaltyDeps, alice: UUID
) -> None:
    await gift(deps, alice, 100, "gift", days=5)
    async with deps.uow() as uow:
        await ledger.hold(deps, uow, alice, 30, "order:1", "MEMBER")
    shop.clock.advance(6 * DAY)

    assert await ledger.expire_due(deps) == 70
    assert numbers(shop, alice) == (30, 30, 0)

    async with deps.uow() as uow:
        await ledger.release_hold(deps, uow, "order:1", "SYSTEM")
    assert numbers(shop, alice) == (30, 0, 0)  # back, but past its date
    assert await ledger.expire_due(deps) == 30
    assert numbers(shop, alice) == (0, 0, 0)
    kinds = [e.kind for e in shop.db.tables.entries]
    assert kinds == [
        EntryKind.ADJUST,
        EntryKind.HOLD,
        EntryKind.EXPIRE,
        EntryKind.RELEASE,
        EntryKind.EXPIRE,
    ]


async def test_a_debt_is_paid_by_the_next_earnings_first(
    shop: FakeShop, deps: LoyaltyDeps, alice: UUID
) -> None:
    await gift(deps, alice, 50, "gift")
    await spend(deps, alice, 80, allow_debt=True)  # a refund of points already spent
    assert numbers(shop, alice) == (-30, 0, 30)

    await gift(deps, alice, 100, "later")

    assert numbers(shop, alice) == (70, 0, 0)
    assert left(shop, alice) == [(0, 0), (70, 0)]  # only what the debt left makes a lot
