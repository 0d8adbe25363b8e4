"""Friend-assist (助力) over GraphQL: ADMIN's campaigns, a member's task and its share page,
helpers and their daily cap, thresholds paid once, the deadline, and assists racing across
two API processes (PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from api.relay import decode_id, encode_id
from domain.growth.assists import expire_tasks
from domain.members.merge import merge_members
from infra.db.models.assists import AssistRewardRow, AssistRow, AssistTaskRow
from infra.db.models.coupons import CouponRow
from infra.db.models.loyalty import PointsEntryRow
from infra.runtime import Runtime
from tests.support import MovableClock, count_sql, is_postgres
from tests.support.api import Api, relogin
from tests.support.assists import (
    ASSIST,
    CAMPAIGNS,
    CREATE,
    END,
    MINE,
    START,
    TASK,
    UPDATE,
    assist,
    create,
    helpers,
    start,
)
from tests.support.coupons import template as coupon_template
from tests.support.orders import ROOT
from tests.support.payloads import codes
from tests.support.processes import second_api
from tests.support.shoppers import Shopper, shopper


async def test_thresholds_pay_the_owner_once_and_helpers_their_reward(
    api: Api, admin: Api, runtime: Runtime
) -> None:
    sample = await coupon_template(runtime, name="小样券")
    campaign = await create(
        admin,
        thresholds=[
            {"helpers": 2, "reward": {"couponTemplateId": encode_id("CouponTemplate", sample.id)}},
            {"helpers": 3, "reward": {"points": 300}},
        ],
        helperReward={"points": 5},
    )
    assert [t["helpers"] for t in campaign["thresholds"]] == [2, 3]
    assert campaign["helperReward"] == {"couponTemplateId": None, "points": 5}
    owner = await shopper(api, "assist-owner")
    task = await start(owner, campaign)
    assert (task["status"], task["count"], task["nextThreshold"]) == ("OPEN", 0, 2)
    assert await start(owner, campaign) == task  # one open task per member and campaign

    first, second, third, late = await helpers(api, "assist-helper", 4)
    assert (await assist(first, task))["task"]["count"] == 1
    assert (await owner.api.data(MINE))["me"]["coupons"]["nodes"] == []
    reached = (await assist(second, task))["task"]
    assert (reached["count"], reached["nextThreshold"], reached["status"]) == (2, 3, "OPEN")
    assert (await owner.api.data(MINE))["me"]["coupons"]["nodes"] == [{"name": "小样券"}]
    done = (await assist(third, task, key="a-1"))["task"]
    assert (done["count"], done["nextThreshold"], done["status"]) == (3, None, "COMPLETED")
    assert [h["name"] for h in done["helpers"]] == ["王**", "王**", "王**"]
    assert (await assist(third, task, key="a-1"))["task"] == done  # a retry: the first answer
    assert codes(await assist(late, task)) == ["TASK_COMPLETED"]

    mine = (await owner.api.data(MINE))["me"]
    assert mine["points"]["balance"] == 300
    assert [t["id"] for t in mine["assistTasks"]] == [task["id"]]
    for helper in (first, second, third):
        assert (await helper.api.data(MINE))["me"]["points"]["balance"] == 5
    assert (await late.api.data(MINE))["me"]["points"]["balance"] == 0
    assert (await first.api.data(TASK, {"id": task["id"]}))["assistTask"] == done
    rewards = await AssistRewardRow.filter(member_id=owner.key).values_list("threshold", flat=True)
    assert sorted(rewards) == [2, 3]
    assert await AssistRewardRow.filter(threshold=0).count() == 3
    # Another task of the same campaign now: the first is COMPLETED.
    assert (await start(owner, campaign))["id"] != task["id"]


async def test_refusals_change_nothing(api: Api, admin: Api, clock: MovableClock) -> None:
    campaign = await create(admin)
    owners = [await shopper(api, f"cap-owner-{n}") for n in range(5)]
    tasks = [await start(owner, campaign) for owner in owners]
    helper = await shopper(api, "cap-helper")
    assert codes(await assist(owners[0], tasks[0])) == ["OWN_TASK"]
    assert (await assist(helper, tasks[0]))["task"]["count"] == 1
    assert codes(await assist(helper, tasks[0])) == ["ALREADY_ASSISTED"]
    for task in tasks[1:3]:
        assert (await assist(helper, task))["errors"] == []
    refused = await assist(helper, tasks[3])  # the fourth today, across all tasks
    assert codes(refused) == ["DAILY_LIMIT_REACHED"] and refused["task"] is None
    assert await AssistRow.filter(helper_id=helper.key).count() == 3
    assert (await helper.api.data(TASK, {"id": tasks[3]["id"]}))["assistTask"]["count"] == 0

    clock.put(clock.today() + timedelta(days=1), hour=0)  # the store's next day, at midnight
    try:
        helper = await shopper(api, "cap-helper")  # the old access token has expired
        assert (await assist(helper, tasks[3]))["task"]["count"] == 1
    finally:
        clock.reset()

    for changes, code, field in (
        ({"thresholds": []}, "INVALID_INPUT", ["thresholds"]),
        (
            {"thresholds": [{"helpers": 3, "reward": {"points": 1}}] * 2},
            "INVALID_INPUT",
            ["thresholds", "1", "helpers"],
        ),
        ({"thresholds": [{"helpers": 3, "reward": {}}]}, "INVALID_INPUT", ["thresholds", "0"]),
        (
            {"thresholds": [{"helpers": n, "reward": {"points": 1}} for n in range(1, 12)]},
            "TOO_MANY_ITEMS",
            ["thresholds"],
        ),
        ({"taskHours": 0}, "INVALID_INPUT", ["taskHours"]),
        (
            {"helperReward": {"couponTemplateId": encode_id("CouponTemplate", ROOT.id)}},
            "NOT_FOUND",
            ["helperReward", "couponTemplateId"],
        ),
        (
            {"helperReward": {"couponTemplateId": "nope"}},
            "INVALID_ID",
            ["helperReward", "couponTemplateId"],
        ),
    ):
        values = {
            "name": "bad",
            "thresholds": [{"helpers": 3, "reward": {"points": 1}}],
            "taskHours": 72,
            **changes,
        }
        payload = (await admin.data(CREATE, {"i": values}))["createAssistCampaign"]
        assert payload["campaign"] is None, changes
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)], changes
    listed = (await admin.data(CAMPAIGNS, {"s": "ACTIVE"}))["assistCampaigns"]["nodes"]
    assert [c["id"] for c in listed] == [campaign["id"]]


async def test_a_task_ends_at_its_deadline(
    api: Api, admin: Api, runtime: Runtime, clock: MovableClock
) -> None:
    campaign = await create(admin, taskHours=72)
    owner, helper = await shopper(api, "late-owner"), await shopper(api, "late-helper")
    task = await start(owner, campaign)
    clock.advance(timedelta(hours=72))
    try:
        # Access tokens live 15 minutes: everyone logs in again at the new time.
        owner, helper = await shopper(api, "late-owner"), await shopper(api, "late-helper")
        admin = await relogin(api, "admin")
        assert codes(await assist(helper, task)) == ["TASK_EXPIRED"]
        assert (await owner.api.data(TASK, {"id": task["id"]}))["assistTask"]["status"] == (
            "EXPIRED"
        )
        assert await expire_tasks(runtime.assists) == 1
        assert await expire_tasks(runtime.assists) == 0
        assert (await AssistTaskRow.get(id=_key(task))).status == "EXPIRED"
        again = await start(owner, campaign)
        assert again["id"] != task["id"] and again["status"] == "OPEN"
        # An ended campaign takes no new tasks; the open one runs to its deadline.
        ended = (await admin.data(END, {"c": campaign["id"]}))["endAssistCampaign"]
        assert ended["campaign"]["status"] == "ENDED"
        assert (await assist(helper, again))["task"]["count"] == 1
        other = await shopper(api, "late-other")
        assert codes((await other.api.data(START, {"c": campaign["id"]}))["startAssist"]) == [
            "CAMPAIGN_ENDED"
        ]
        edit = {"campaignId": campaign["id"], "campaign": {"name": "x", "taskHours": 1,
                "thresholds": [{"helpers": 1, "reward": {"points": 1}}]}}  # fmt: skip
        assert codes((await admin.data(UPDATE, {"i": edit}))["updateAssistCampaign"]) == [
            "CAMPAIGN_ENDED"
        ]
    finally:
        clock.reset()


def _key(task: dict[str, Any]) -> UUID:
    return decode_id(task["id"], "AssistTask")


async def test_new_helpers_only_and_merged_duplicates(
    api: Api, admin: Api, runtime: Runtime, clock: MovableClock
) -> None:
    campaign = await create(admin, newHelpersOnly=True)
    clock.advance(-timedelta(days=40))
    try:
        await shopper(api, "veteran-helper")  # a member for 40 days
    finally:
        clock.reset()
    veteran = await shopper(api, "veteran-helper")  # a token of now
    owner, newcomer = await shopper(api, "new-owner"), await shopper(api, "new-helper")
    task = await start(owner, campaign)
    assert codes(await assist(veteran, task)) == ["NOT_A_NEW_MEMBER"]
    assert (await assist(newcomer, task))["task"]["count"] == 1

    # The owner's duplicate account starts a task, then is merged into the owner: the owner
    # cannot assist it (it is their own); as the owner's own open task of the campaign has more
    # helpers, the duplicate's is MERGED and takes no more assists (tests/api/
    # test_growth_privacy.py has the merge rules).
    duplicate = await shopper(api, "new-owner-duplicate")
    theirs = await start(duplicate, campaign)
    await merge_members(runtime.members, ROOT, duplicate.key, owner.key, "same person")
    owner = await shopper(api, "new-owner")  # merges end sessions
    assert codes(await assist(owner, theirs)) == ["OWN_TASK"]
    assert codes(await assist(newcomer, theirs)) == ["TASK_EXPIRED"]
    mine = (await owner.api.data(MINE))["me"]["assistTasks"]
    assert {t["id"]: t["status"] for t in mine} == {task["id"]: "OPEN", theirs["id"]: "MERGED"}


async def test_a_helper_with_a_merged_duplicate_is_one_person(
    api: Api, admin: Api, runtime: Runtime
) -> None:
    """Assists made from an account later merged into the helper's count as the helper's: once
    per task, three a day."""
    campaign = await create(admin)
    tasks = [await start(await shopper(api, f"dup-owner-{n}"), campaign) for n in range(4)]
    helper, duplicate = await shopper(api, "dup-helper"), await shopper(api, "dup-helper-2")
    for task in tasks[:2]:
        assert (await assist(duplicate, task))["errors"] == []
    await merge_members(runtime.members, ROOT, duplicate.key, helper.key, "same person")
    assert codes(await assist(helper, tasks[0])) == ["ALREADY_ASSISTED"]
    assert (await assist(helper, tasks[2]))["errors"] == []  # the third today
    assert codes(await assist(helper, tasks[3])) == ["DAILY_LIMIT_REACHED"]


async def test_a_coupon_that_cannot_be_given_leaves_the_assist_counted(
    api: Api, admin: Api, runtime: Runtime
) -> None:
    last_one = await coupon_template(runtime, name="最后一张", total_quantity=1)
    reward = {"couponTemplateId": encode_id("CouponTemplate", last_one.id), "points": 10}
    campaign = await create(admin, thresholds=[{"helpers": 1, "reward": reward}])
    first, second = await shopper(api, "sold-owner-1"), await shopper(api, "sold-owner-2")
    helper = await shopper(api, "sold-helper")
    for owner in (first, second):
        done = (await assist(helper, await start(owner, campaign)))["task"]
        assert (done["count"], done["status"]) == (1, "COMPLETED")
    paid = {
        r.member_id: (r.coupon_id is not None, r.points, r.unpaid)
        for r in await AssistRewardRow.filter(member_id__in=[first.key, second.key])
    }
    assert paid == {
        first.key: (True, 10, None),
        second.key: (False, 10, "TEMPLATE_SOLD_OUT"),
    }
    assert (await second.api.data(MINE))["me"]["points"]["balance"] == 10


async def _race(
    runtime: Runtime, calls: list[tuple[Shopper, dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Every assist at once, half of them through a second API process."""
    async with second_api(runtime.settings) as other:

        async def there(helper: Shopper, task: dict[str, Any]) -> dict[str, Any]:
            response = await other.post(
                "/graphql",
                json={"query": ASSIST, "variables": {"t": task["id"]}},
                headers={"Authorization": f"Bearer {helper.api.token}"},
            )
            body: dict[str, Any] = response.json()
            return body

        bodies = await asyncio.gather(
            *(
                there(h, t) if n % 2 else h.api(ASSIST, {"t": t["id"]})
                for n, (h, t) in enumerate(calls)
            )
        )
    return [b["data"]["assist"] for b in bodies]


def _answers(payloads: list[dict[str, Any]]) -> Counter[str]:
    return Counter("ok" if p["task"] else p["errors"][0]["code"] for p in payloads)


async def test_one_helper_on_many_tasks_at_once_stays_within_the_daily_cap(
    api: Api, admin: Api, runtime: Runtime
) -> None:
    if not is_postgres(runtime.settings.database_url) or not runtime.settings.redis_url:
        pytest.skip("two API processes share PostgreSQL and Redis")
    campaign = await create(admin)
    owners = [await shopper(api, f"race-owner-{n}") for n in range(10)]
    tasks = [await start(owner, campaign) for owner in owners]
    helper = await shopper(api, "race-helper")
    answers = _answers(await _race(runtime, [(helper, t) for t in tasks]))
    assert answers == {"ok": 3, "DAILY_LIMIT_REACHED": 7}
    assert await AssistRow.filter(helper_id=helper.key).count() == 3
    counted = await AssistTaskRow.filter(campaign_id=_key_of(campaign)).values_list(
        "helpers", flat=True
    )
    assert sorted(counted) == [0] * 7 + [1] * 3


def _key_of(campaign: dict[str, Any]) -> UUID:
    return decode_id(campaign["id"], "AssistCampaign")


async def test_many_helpers_at_a_threshold_pay_it_once(
    api: Api, admin: Api, runtime: Runtime
) -> None:
    if not is_postgres(runtime.settings.database_url) or not runtime.settings.redis_url:
        pytest.skip("two API processes share PostgreSQL and Redis")
    sample = await coupon_template(runtime, name="正装券")
    campaign = await create(
        admin,
        thresholds=[
            {"helpers": 5, "reward": {"couponTemplateId": encode_id("CouponTemplate", sample.id)}},
            {"helpers": 10, "reward": {"points": 1000}},
        ],
    )
    owner = await shopper(api, "crowd-owner")
    task = await start(owner, campaign)
    crowd = await helpers(api, "crowd-helper", 16)
    answers = _answers(await _race(runtime, [(h, task) for h in crowd]))
    assert answers == {"ok": 10, "TASK_COMPLETED": 6}
    row = await AssistTaskRow.get(id=_key(task))
    assert (row.helpers, row.status) == (10, "COMPLETED")
    assert await AssistRow.filter(task_id=row.id).count() == 10
    assert await CouponRow.filter(member_id=owner.key).count() == 1
    rewards = await PointsEntryRow.filter(member_id=owner.key, kind="REWARD").values_list(
        "amount", flat=True
    )
    assert rewards == [1000]


async def test_my_tasks_cost_the_same_statements_for_one_or_many(api: Api, admin: Api) -> None:
    owner = await shopper(api, "many-owner")
    query = "{ me { assistTasks { id count helpers { name } campaign { name } } } }"

    async def statements() -> tuple[int, int]:
        with count_sql() as seen:
            mine = (await owner.api.data(query))["me"]["assistTasks"]
        return len(seen), len(mine)

    helper = await shopper(api, "many-helper")
    assert (await assist(helper, await start(owner, await create(admin))))["errors"] == []
    one = await statements()
    for n in range(3):
        task = await start(owner, await create(admin, name=f"助力 {n}"))
        for helper in await helpers(api, f"many-helper-{n}", 2):
            assert (await assist(helper, task))["errors"] == []
    many = await statements()
    assert (one[1], many[1]) == (1, 4)
    assert many[0] == one[0] >= 3  # the tasks, their campaigns, their helpers
