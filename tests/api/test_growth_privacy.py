"""Growth and personal-data rights (issue 18, follow-up), on PostgreSQL and SQLite: a member's
export holds their friend-assist tasks, the assists they gave and their group-buy seats (in
exportMyData, GET /me/export and CS's exportMemberData), never another member's; an erased
helper's name leaves the tasks they helped; a merge leaves one open task per campaign; a
referral's claw-back finds an invitee merged away; node(id) resolves group-buy campaigns and
groups as `groupBuyCampaigns` and `group(id)` show them."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from api.relay import decode_id, encode_id
from domain.catalog.model import Variant
from domain.events import OrderFullyRefunded
from domain.growth.referrals import claw_back_in_uow
from domain.identity.model import StaffRole
from domain.ids import new_id
from infra.db.models.assists import AssistRewardRow, AssistTaskRow
from infra.db.models.loyalty import PointsEntryRow
from infra.db.models.referrals import ReferralRow
from infra.runtime import Runtime
from tests.support import count_sql
from tests.support.aftersales import approve, asked, line_ids, request_input
from tests.support.api import Api, staff_api
from tests.support.assists import MINE, START, TASK, assist, create, helpers, start
from tests.support.coupons import template
from tests.support.group_buys import created, open_group, terms
from tests.support.orders import make_variants, pay_online, receive
from tests.support.payloads import codes
from tests.support.referrals import balance, code_of, create_program, handed_over, invited
from tests.support.shoppers import shopper

EXPORT = "mutation { exportMyData { document errors { code } } }"
CS_EXPORT = """mutation($m: ID!) {
  exportMemberData(input: {memberId: $m, reason: "ticket 9: asked in store"}) {
  document errors { code } } }"""
DELETE = "mutation { deleteMyAccount(input: {confirm: true}) { ok errors { code } } }"
MERGE = """mutation($s: ID!, $t: ID!) { mergeMembers(input: {sourceMemberId: $s,
  targetMemberId: $t, reason: "one person, two accounts"}) { errors { code } } }"""
COUPONS = "{ me { coupons(status: AVAILABLE) { nodes { id } } } }"
NODE = """query($id: ID!) { node(id: $id) { id
  ... on GroupBuyCampaign { groupSize unitsTaken }
  ... on GroupBuy { status size members { label leader } } } }"""
GROUP = "query($id: ID!) { group(id: $id) { id status size members { label leader } } }"
NUMBER = "query($id: ID!) { order(id: $id) { number } }"
CAMPAIGNS = "{ groupBuyCampaigns { id groupSize unitsTaken } }"


@pytest.fixture
async def peach(runtime: Runtime, stores: dict[str, Any]) -> Variant:
    [variant] = await make_variants(runtime, ("P-9", "2kg", 5900))
    await receive(runtime, stores["SH-A"].id, variant, 20)
    return variant


@pytest.fixture
async def cs(api: Api, runtime: Runtime) -> Api:
    return await staff_api(api, runtime, "growth-cs", StaffRole.CS_AGENT, [])


# ---------------------------------------------------------------- export


async def test_the_export_holds_tasks_assists_given_and_seats_and_nobody_elses(
    api: Api,
    admin: Api,
    client: httpx.AsyncClient,
    runtime: Runtime,
    stores: dict[str, Any],
    peach: Variant,
    cs: Api,
) -> None:
    campaign = await create(
        admin,
        name="两人助力",
        thresholds=[
            {"helpers": 1, "reward": {"points": 20}},
            {"helpers": 2, "reward": {"points": 30}},
        ],
        helperReward={"points": 5},
    )
    alice = await shopper(api, "exp-alice", name="Alice")
    bob = await shopper(api, "exp-bob", name="王小二")
    carol = await shopper(api, "exp-carol", name="Carol")
    task = await start(alice, campaign)
    assert (await assist(bob, task))["errors"] == []  # bob's assist on alice's task
    bobs = await start(bob, campaign)
    assert (await assist(alice, bobs))["errors"] == []  # alice's assist on bob's task
    assert (await assist(carol, bobs))["errors"] == []
    group_campaign = await created(admin, terms(runtime, stores, peach, size=2))
    opened = await open_group(alice, group_campaign, stores)
    assert opened["errors"] == [], opened
    await pay_online(client, runtime, alice, opened["order"])
    number = (await alice.api.data(NUMBER, {"id": opened["order"]["id"]}))["order"]["number"]

    async with client.stream(
        "GET", "/me/export", headers={"Authorization": f"Bearer {alice.api.token}"}
    ) as response:
        assert response.status_code == 200
        streamed = json.loads(await response.aread())
    document = (await alice.api.data(EXPORT))["exportMyData"]["document"]
    by_cs = (await cs.data(CS_EXPORT, {"m": alice.id}))["exportMemberData"]["document"]
    for export in (streamed, document, by_cs):
        [mine] = export["assistTasks"]
        assert (mine["campaign"], mine["status"], mine["helpers"]) == ("两人助力", "OPEN", 1)
        assert mine["thresholdsReached"] == [1]
        assert [h["name"] for h in mine["helpersShown"]] == ["王**"]
        assert [(r["threshold"], r["points"]) for r in mine["rewards"]] == [(1, 20)]
        [given] = export["assistsGiven"]
        assert (given["campaign"], given["taskStatus"]) == ("两人助力", "COMPLETED")
        assert given["reward"] == {"points": 5, "couponId": None}
        [seat] = export["groupBuySeats"]
        assert seat["orderNumber"] == number
        assert (seat["status"], seat["group"]["status"], seat["group"]["leader"]) == (
            "PAID",
            "OPEN",
            True,
        )
        assert seat["group"]["id"] == str(decode_id(opened["group"]["id"], "GroupBuy"))
        assert seat["paidAt"] is not None and seat["campaign"]["price"] == 3900
    # Bob's task, his assist and his reward are his: not in alice's export.
    bob_export = (await bob.api.data(EXPORT))["exportMyData"]["document"]
    [his] = bob_export["assistTasks"]
    assert (his["helpers"], his["status"], his["thresholdsReached"]) == (2, "COMPLETED", [1, 2])
    assert [(r["threshold"], r["points"]) for r in his["rewards"]] == [(1, 20), (2, 30)]
    assert [g["taskStatus"] for g in bob_export["assistsGiven"]] == ["OPEN"]
    assert bob_export["groupBuySeats"] == []
    assert json.dumps(document, ensure_ascii=False).count('"threshold": 2') == 0


# ---------------------------------------------------------------- erasure


async def test_an_erased_helper_leaves_the_task_as_two_stars_counts_and_rewards_unchanged(
    api: Api, admin: Api, cs: Api
) -> None:
    campaign = await create(
        admin,
        thresholds=[
            {"helpers": 1, "reward": {"points": 20}},
            {"helpers": 3, "reward": {"points": 30}},
        ],
        helperReward={"points": 5},
    )
    owner = await shopper(api, "erase-owner")
    [leaving, staying] = await helpers(api, "erase-helper", 2)
    task = await start(owner, campaign)
    for helper in (leaving, staying):
        assert (await assist(helper, task))["errors"] == []
    before = (await owner.api.data(TASK, {"id": task["id"]}))["assistTask"]
    assert [h["name"] for h in before["helpers"]] == ["王**", "王**"]
    # The leaving helper's duplicate account assisted another task, then was merged into
    # theirs: that assist is theirs too (in their export, and scrubbed with them).
    other = await start(await shopper(api, "erase-other-owner"), campaign)
    duplicate = await shopper(api, "erase-duplicate", name="李四")
    assert (await assist(duplicate, other))["errors"] == []
    assert (await cs.data(MERGE, {"s": duplicate.id, "t": leaving.id}))["mergeMembers"][
        "errors"
    ] == []
    given = (await leaving.api.data(EXPORT))["exportMyData"]["document"]["assistsGiven"]
    assert len(given) == 2
    paid = AssistRewardRow.all().order_by("member_id", "threshold")
    rewards = await paid.values_list("member_id", "threshold", "points")

    assert (await leaving.api.data(DELETE))["deleteMyAccount"]["errors"] == []
    after = (await owner.api.data(TASK, {"id": task["id"]}))["assistTask"]
    assert [h["name"] for h in after["helpers"]] == ["**", "王**"]
    assert [h["assistedAt"] for h in after["helpers"]] == [
        h["assistedAt"] for h in before["helpers"]
    ]
    assert (after["count"], after["status"], after["nextThreshold"]) == (2, "OPEN", 3)
    elsewhere = (await owner.api.data(TASK, {"id": other["id"]}))["assistTask"]
    assert ([h["name"] for h in elsewhere["helpers"]], elsewhere["count"]) == (["**"], 1)
    assert await paid.values_list("member_id", "threshold", "points") == rewards
    assert (await owner.api.data(MINE))["me"]["points"]["balance"] == 20


# ---------------------------------------------------------------- merges


def _task_key(task: dict[str, Any]) -> Any:
    return decode_id(task["id"], "AssistTask")


async def test_a_merge_leaves_one_open_task_per_campaign_the_one_with_more_helpers(
    api: Api, admin: Api, cs: Api
) -> None:
    two_then_three = [
        {"helpers": 2, "reward": {"points": 20}},
        {"helpers": 3, "reward": {"points": 30}},
    ]
    campaign = await create(admin, name="助力A", thresholds=two_then_three)
    tied = await create(admin, name="助力B", thresholds=two_then_three)
    survivor = await shopper(api, "merge-survivor")
    duplicate = await shopper(api, "merge-duplicate")
    crowd = await helpers(api, "merge-helper", 4)
    own, absorbed = await start(survivor, campaign), await start(duplicate, campaign)
    own_tied, absorbed_tied = await start(survivor, tied), await start(duplicate, tied)
    assert (await assist(crowd[0], own))["errors"] == []
    for helper in crowd[1:3]:  # the duplicate's task reaches 2 and is paid 20 points
        assert (await assist(helper, absorbed))["errors"] == []
    assert (await duplicate.api.data(MINE))["me"]["points"]["balance"] == 20

    merged = (await cs.data(MERGE, {"s": duplicate.id, "t": survivor.id}))["mergeMembers"]
    assert merged["errors"] == []  # no unique key refuses it
    mine = {t["id"]: t for t in (await survivor.api.data(MINE))["me"]["assistTasks"]}
    assert {k: (t["status"], t["count"]) for k, t in mine.items()} == {
        own["id"]: ("MERGED", 1),  # fewer helpers: closed, its helper stays on it
        absorbed["id"]: ("OPEN", 2),
        own_tied["id"]: ("OPEN", 0),  # a tie: the survivor's own stays open
        absorbed_tied["id"]: ("MERGED", 0),
    }
    # Starting again gives the task that stayed open; the closed one takes no assist.
    for started, kept in ((campaign, absorbed), (tied, own_tied)):
        payload = (await survivor.api.data(START, {"c": started["id"]}))["startAssist"]
        assert payload["task"]["id"] == kept["id"]
    assert codes(await assist(crowd[3], own)) == ["TASK_EXPIRED"]
    assert await AssistTaskRow.filter(id=_task_key(own)).values_list("helpers", flat=True) == [1]
    # The kept task goes on: its next threshold is paid once, the one paid before not again.
    done = (await assist(crowd[3], absorbed))["task"]
    assert (done["count"], done["status"]) == (3, "COMPLETED")
    paid = await AssistRewardRow.filter(task_id=_task_key(absorbed)).values_list(
        "threshold", flat=True
    )
    assert sorted(paid) == [2, 3]
    assert (await survivor.api.data(MINE))["me"]["points"]["balance"] == 20 + 30


async def test_a_referral_is_clawed_back_once_when_the_invitee_was_merged_away(
    api: Api,
    admin: Api,
    client: httpx.AsyncClient,
    runtime: Runtime,
    stores: dict[str, Any],
    peach: Variant,
    cs: Api,
) -> None:
    gift = await template(runtime, name="新人券")
    await create_program(
        admin,
        runtime,
        referrerPoints=500,
        inviteePoints=100,
        inviteeCouponTemplateId=encode_id("CouponTemplate", gift.id),
    )
    clerk = await staff_api(api, runtime, "cb-clerk", StaffRole.STORE_CLERK, [stores["SH-A"]])
    alice = await shopper(api, "cb-alice")
    bob, created_now = await invited(api, "cb-bob", await code_of(alice), device="cb-phone")
    assert created_now
    order = await handed_over(client, runtime, clerk, bob, stores, peach)
    assert await balance(alice) == 500
    bob_balance = await balance(bob)
    [coupon] = (await bob.api.data(COUPONS))["me"]["coupons"]["nodes"]

    dave = await shopper(api, "cb-dave")  # bob's other account, the older one
    assert (await cs.data(MERGE, {"s": bob.id, "t": dave.id}))["mergeMembers"]["errors"] == []
    assert await balance(dave) == bob_balance
    assert (await dave.api.data(COUPONS))["me"]["coupons"]["nodes"] == [coupon]

    [line] = await line_ids(dave.api, order)  # the order is dave's now
    after_sale = await asked(dave.api, request_input(order, [(line, 1)], "REFUND_ONLY"))
    assert (await approve(cs, after_sale))["errors"] == []
    assert await balance(alice) == 0
    assert (await dave.api.data(COUPONS))["me"]["coupons"]["nodes"] == []
    referral = await ReferralRow.get(invitee_id=bob.key)
    assert referral.status == "CLAWED_BACK"
    taken = PointsEntryRow.filter(source=f"referral:{referral.id}", kind="REVERSE")
    assert sorted((e.member_id, e.amount) for e in await taken) == sorted(
        [(alice.key, -500), (dave.key, -100)]
    )
    # Once: the same refund seen again takes nothing more.
    async with runtime.unit_of_work() as uow:
        again = OrderFullyRefunded(decode_id(order["id"], "Order"), dave.key)
        assert await claw_back_in_uow(runtime.referrals, uow, again) is None
    assert (
        await PointsEntryRow.filter(source=f"referral:{referral.id}", kind="REVERSE").count() == 2
    )


# ---------------------------------------------------------------- node(id)


async def test_node_resolves_group_buy_campaigns_and_groups_as_their_root_queries(
    api: Api, admin: Api, runtime: Runtime, stores: dict[str, Any], peach: Variant
) -> None:
    campaign = await created(admin, terms(runtime, stores, peach, size=2))
    leader = await shopper(api, "node-leader", name="Zhang")
    other = await shopper(api, "node-other")
    group_id = (await open_group(leader, campaign, stores))["group"]["id"]
    [listed] = (await api.data(CAMPAIGNS))["groupBuyCampaigns"]
    shown = (await api.data(GROUP, {"id": group_id}))["group"]
    assert shown["members"] == [{"label": "Z**", "leader": True}]
    for caller in (api, leader.api, other.api, admin):  # anonymous, member, another, ADMIN
        assert (await caller.data(NODE, {"id": campaign["id"]}))["node"] == listed
        assert (await caller.data(NODE, {"id": group_id}))["node"] == shown
        for kind in ("GroupBuy", "GroupBuyCampaign"):
            unknown = encode_id(kind, new_id())
            assert (await caller.data(NODE, {"id": unknown}))["node"] is None
    # An assist task is no Relay node: its share page is `assistTask(id)`, for members.
    task = encode_id("AssistTask", new_id())
    assert (await leader.api.data(NODE, {"id": task}))["node"] is None


async def test_the_growth_sections_cost_the_same_statements_for_one_item_or_many(
    api: Api,
    admin: Api,
    client: httpx.AsyncClient,
    runtime: Runtime,
    stores: dict[str, Any],
    peach: Variant,
) -> None:
    member = await shopper(api, "count-member")

    async def statements() -> tuple[int, list[int]]:
        with count_sql() as seen:
            document = (await member.api.data(EXPORT))["exportMyData"]["document"]
        return len(seen), [
            len(document[k]) for k in ("assistTasks", "assistsGiven", "groupBuySeats")
        ]

    async def one_more(n: int) -> None:
        """A task with a helper, an assist given and a paid seat, each of another campaign."""
        campaign = await create(admin, name=f"助力{n}")
        [helper] = await helpers(api, f"count-helper-{n}", 1)
        assert (await assist(helper, await start(member, campaign)))["errors"] == []
        other = await shopper(api, f"count-owner-{n}")
        assert (await assist(member, await start(other, campaign)))["errors"] == []
        opened = await open_group(
            member, await created(admin, terms(runtime, stores, peach, size=2)), stores
        )
        assert opened["errors"] == [], opened
        await pay_online(client, runtime, member, opened["order"])

    await one_more(0)
    one = await statements()
    for n in (1, 2):
        await one_more(n)
    many = await statements()
    assert (one[1], many[1]) == ([1, 1, 1], [3, 3, 3])
    assert many[0] == one[0]
