"""Every timeline names its actors readably through one loader (issue 16): the staff username
or device name, `member`, `system`, not `STAFF:<uuid>`; order events, the points ledger and merges
are covered in test_cs_desk.py, after-sale events, subscription changes, the staff action log
and the PII access log here, each read in a number of statements that does not grow with the
page."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from domain.identity.model import StaffRole
from infra.runtime import Runtime
from tests.support import count_sql
from tests.support.api import Api, staff_api
from tests.support.orders import Story
from tests.support.world import World, principals, weekly_subscription

# One query per timeline: within one request the loader reads each name once, so names met
# first by another timeline would hide a per-item read.
TIMELINES = {
    "afterSales": "{ afterSales(first: 20) { nodes { timeline { actor actorName } } } }",
    "staffActions": "{ staffActions(first: 20) { nodes { actor actorName } } }",
    "piiAccessLog": "{ piiAccessLog(first: 20) { nodes { actor actorName } } }",
    "subscriptions": """query($m: ID!) { member(id: $m) {
      subscriptions(first: 20) { nodes { history { actor actorName } } } } }""",
}

LINES = "query($id: ID!) { order(id: $id) { lines { id } } }"

REQUEST = """
mutation($input: RequestAfterSaleInput!) {
  requestAfterSale(input: $input) { afterSale { id } errors { code } }
}"""

APPROVE = """
mutation($id: ID!) { approveAfterSale(input: {afterSaleId: $id}) { errors { code } } }"""

REVEAL = """
mutation($m: ID!) {
  revealIdentifiers(input: {memberId: $m, reason: "ticket 42"}) { errors { code } }
}"""

PAUSE = """
mutation($m: ID!, $s: ID!) {
  pauseSubscriptionForMember(input: {memberId: $m, id: $s, reason: "travelling, ticket 3"}) {
    errors { code }
  }
}"""


@pytest.fixture
async def world(api: Api, runtime: Runtime, stores: dict[str, Any]) -> World:
    return await principals(api, runtime, stores)


def as_(world: World, who: str) -> Api:
    return world.api.as_(world.tokens[who])


async def returned(story: Story, world: World, decider: Api) -> None:
    """Member A asks to return a picked-up unit; `decider` approves."""
    order = await story.picked_up(world.member_a, 1)
    (line,) = (await world.member_a.api.data(LINES, {"id": order["id"]}))["order"]["lines"]
    asked = (
        await world.member_a.api.data(
            REQUEST,
            {
                "input": {
                    "orderId": order["id"],
                    "kind": "RETURN_AND_REFUND",
                    "lines": [{"orderLineId": line["id"], "quantity": 1}],
                    "reason": "not as described",
                }
            },
        )
    )["requestAfterSale"]
    assert asked["errors"] == [], asked
    approved = await decider.data(APPROVE, {"id": asked["afterSale"]["id"]})
    assert approved["approveAfterSale"]["errors"] == [], approved


async def paused(runtime: Runtime, world: World, store: str, agent: Api) -> None:
    """A subscription of member A's the agent pauses for them; the agent also reveals A's
    identifiers (the PII access log)."""
    subscription = await weekly_subscription(runtime, world, world.member_a, store)
    done = await agent.data(PAUSE, {"m": world.member_a.id, "s": subscription})
    assert done["pauseSubscriptionForMember"]["errors"] == [], done
    revealed = await agent.data(REVEAL, {"m": world.member_a.id})
    assert revealed["revealIdentifiers"]["errors"] == [], revealed


Read = dict[str, tuple[int, int, set[tuple[str, str]]]]


async def read(caller: Api, world: World) -> Read:
    """Each timeline: its statements, how many items it lists, its (kind of actor, readable
    name) pairs."""
    found: Read = {}
    for name, query in TIMELINES.items():
        with count_sql() as statements:
            data = await caller.data(query, {"m": world.member_a.id})
        if name == "afterSales":
            items = data["afterSales"]["nodes"]
            events = [e for n in items for e in n["timeline"]]
        elif name in ("staffActions", "piiAccessLog"):
            items = events = data[name]["nodes"]
        else:
            items = data["member"]["subscriptions"]["nodes"]
            events = [e for n in items for e in n["history"]]
        pairs = {(e["actor"].partition(":")[0], e["actorName"]) for e in events}
        found[name] = (len(statements), len(items), pairs)
    return found


async def test_after_sales_subscriptions_and_staff_actions_name_their_actors_in_constant_sql(
    api: Api, client: httpx.AsyncClient, runtime: Runtime, world: World
) -> None:
    admin, cs = as_(world, "admin"), as_(world, "cs_agent")
    story = Story(client, runtime, world.stores, world.mango, as_(world, "manager_a"))
    await returned(story, world, cs)
    await paused(runtime, world, "SH-A", cs)
    one = await read(admin, world)
    assert {name: (items, pairs) for name, (_, items, pairs) in one.items()} == {
        "afterSales": (1, {("MEMBER", "member"), ("STAFF", "cs-agent")}),
        "staffActions": (1, {("STAFF", "cs-agent")}),
        "piiAccessLog": (1, {("STAFF", "cs-agent")}),
        "subscriptions": (1, {("MEMBER", "member"), ("STAFF", "cs-agent")}),
    }

    other = await staff_api(api, runtime, "cs-two", StaffRole.CS_AGENT, [])
    for _ in range(2):
        await returned(story, world, as_(world, "manager_a"))
    await paused(runtime, world, "SH-B", other)
    more = await read(admin, world)
    assert {name: (items, pairs) for name, (_, items, pairs) in more.items()} == {
        "afterSales": (3, {("MEMBER", "member"), ("STAFF", "cs-agent"), ("STAFF", "manager-a")}),
        "staffActions": (2, {("STAFF", "cs-agent"), ("STAFF", "cs-two")}),
        "piiAccessLog": (2, {("STAFF", "cs-agent"), ("STAFF", "cs-two")}),
        "subscriptions": (2, {("MEMBER", "member"), ("STAFF", "cs-agent"), ("STAFF", "cs-two")}),
    }
    assert {n: s for n, (s, _, _) in more.items()} == {n: s for n, (s, _, _) in one.items()}
