"""A unit of work interrupted while it opens its transaction (GraphQL cancels the sibling
fields of one that failed: graphql-core 3.3) gives back what it took: on SQLite the one
connection's transaction lock, on PostgreSQL the pooled connection. Before, a cancel landing
in BEGIN left SQLite's lock held, and the next transaction waited forever."""

from __future__ import annotations

import asyncio

from infra.db import sql
from infra.runtime import Runtime

STEPS = 12  # event-loop turns to let the opening run before cancelling it: every await of it


async def opening(runtime: Runtime, opened: list[int]) -> None:
    async with runtime.ordering.uow():
        opened.append(1)
        await sql.fetch("SELECT 1 AS one")


async def next_transaction(runtime: Runtime) -> int:
    async with runtime.ordering.uow():
        rows = await sql.fetch("SELECT 2 AS two")
    return int(rows[0]["two"])


async def test_a_unit_of_work_cancelled_while_opening_leaves_the_database_usable(
    runtime: Runtime,
) -> None:
    cancelled_while_opening = 0
    for turns in range(STEPS):
        opened: list[int] = []
        task = asyncio.create_task(opening(runtime, opened))
        for _ in range(turns):
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        cancelled_while_opening += not opened
        # The next transaction opens and commits (it waited forever on SQLite).
        assert await asyncio.wait_for(next_transaction(runtime), 10) == 2, turns
    assert cancelled_while_opening >= 2  # the cancel did land inside the opening
