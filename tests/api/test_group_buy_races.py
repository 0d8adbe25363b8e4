"""Group-buy joins raced across two API processes on PostgreSQL and Redis (issue 18): half of
the crowd joins through this process, half through a second `omnishelf serve`, all at once.
Only the database's conditional update of the group's seats decides, so the group holds
exactly its size and the refused joins reserved nothing."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from domain.catalog.model import Variant
from infra.runtime import Runtime
from tests.support import is_postgres
from tests.support.api import Api
from tests.support.group_buys import JOIN, created, group_of, members, open_group, pickup, terms
from tests.support.orders import level, make_variants, receive
from tests.support.processes import second_api
from tests.support.shoppers import Shopper


@pytest.fixture
async def peach(runtime: Runtime, stores: dict[str, Any]) -> Variant:
    [variant] = await make_variants(runtime, ("P-2", "2kg", 5900))
    await receive(runtime, stores["SH-A"].id, variant, 20)
    return variant


async def test_joins_of_one_group_from_two_processes_take_exactly_its_seats(
    admin: Api, api: Api, runtime: Runtime, stores: dict[str, Any], peach: Variant
) -> None:
    if not is_postgres(runtime.settings.database_url) or not runtime.settings.redis_url:
        pytest.skip("two API processes share PostgreSQL and Redis")
    campaign = await created(admin, terms(runtime, stores, peach, size=5, units=30))
    [leader] = await members(api, 1, "leader")
    crowd = await members(api, 16, "crowd")
    group_id = (await open_group(leader, campaign, stores))["group"]["id"]
    variables = {"input": {"groupId": group_id, "fulfilment": pickup(stores)}}

    async with second_api(runtime.settings) as other:

        async def there(who: Shopper) -> dict[str, Any]:
            response = await other.post(
                "/graphql",
                json={"query": JOIN, "variables": variables},
                headers={"Authorization": f"Bearer {who.api.token}"},
            )
            body: dict[str, Any] = response.json()
            return body

        bodies = await asyncio.gather(
            *(there(m) if n % 2 else m.api(JOIN, variables) for n, m in enumerate(crowd))
        )

    payloads = [b["data"]["joinGroup"] for b in bodies]
    answers = Counter("SEAT" if p["order"] else p["errors"][0]["code"] for p in payloads)
    assert answers == {"SEAT": 4, "GROUP_FULL": 12}
    seen = await group_of(api, group_id)
    assert (seen["seatsTaken"], len(seen["members"]), seen["status"]) == (5, 5, "OPEN")
    assert await level(runtime, stores["SH-A"].id, peach) == (20, 5)  # refused joins: nothing
