"""A transaction that loses a deadlock runs again instead of failing its caller (issue 12,
item 8: under mixed load PostgreSQL's `deadlock detected` reached clients as
INTERNAL_SERVER_ERROR, and jobs failed)."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from domain.ids import new_id
from infra.db.models.loyalty import PointsAccountRow
from infra.db.retry import is_transient, retrying
from infra.runtime import Runtime
from tests.support import is_postgres

BUMP = "UPDATE points_account SET balance = balance + 1 WHERE member_id = $1"


async def test_two_transactions_locking_in_opposite_orders_both_complete(
    runtime: Runtime,
) -> None:
    a, b = new_id(), new_id()
    for member in (a, b):
        await PointsAccountRow.create(
            id=new_id(), member_id=member, balance=0, held=0, debt=0, growth_value=0, tier="M"
        )
    both_hold_one = asyncio.Barrier(2)
    tries = {"ab": 0, "ba": 0}

    async def bump(name: str, first: object, second: object) -> None:
        async def transaction() -> None:
            tries[name] += 1
            async with in_transaction() as conn:
                await conn.execute_query(_sql(runtime), [str(first)])
                if tries[name] == 1:  # the first time, wait until the other holds its row
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(both_hold_one.wait(), 1)
                await conn.execute_query(_sql(runtime), [str(second)])

        await retrying(transaction, name)

    await asyncio.gather(bump("ab", a, b), bump("ba", b, a))

    balances = {r.member_id: r.balance for r in await PointsAccountRow.all()}
    assert balances == {a: 2, b: 2}  # each transaction counted once, whatever the retries
    if is_postgres(runtime.settings.database_url):
        assert sorted(tries.values()) == [1, 2]  # PostgreSQL broke the deadlock: one ran again


def _sql(runtime: Runtime) -> str:
    return BUMP if is_postgres(runtime.settings.database_url) else BUMP.replace("$1", "?")


async def test_other_errors_are_not_retried(runtime: Runtime) -> None:
    calls = 0

    async def duplicate() -> None:
        nonlocal calls
        calls += 1
        member = new_id()
        fields = dict(member_id=member, balance=0, held=0, debt=0, growth_value=0, tier="M")
        await PointsAccountRow.create(id=new_id(), **fields)
        await PointsAccountRow.create(id=new_id(), **fields)  # unique member_id

    with pytest.raises(IntegrityError) as refused:
        await retrying(duplicate, "duplicate")
    assert calls == 1 and not is_transient(refused.value)
