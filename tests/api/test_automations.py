"""Automations (engagement, issue 19) over the API, on PostgreSQL and SQLite: ADMIN defines
trigger → conditions → action; the `run_automations` job acts. Each trigger fires for the
right members only; a message needs the purpose's consent (blocked and counted otherwise); the
frequency cap holds across automations; quiet hours defer to their end; a paused automation
does nothing; a dry run counts and changes nothing; a member is hit once per trigger period,
also when two runs race (PostgreSQL); the grant and the message name their automation and show
on the member's timeline for CS."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from api.relay import decode_id, encode_id
from domain.catalog.model import Variant
from domain.engagement.automations_run import run_automations
from domain.engagement.deps import AutomationPolicy
from domain.identity.model import Principal, PrincipalKind, StaffRole
from domain.inventory.model import StockLine
from domain.members.merge import merge_members
from domain.subscriptions import plans, services
from infra.db.models.automations import AutomationSendRow
from infra.db.models.coupons import CouponRow
from infra.runtime import Runtime
from tests.support import STORE_ZONE, MovableClock, count_sql
from tests.support.api import Api, relogin, staff_api
from tests.support.automations import (
    CREATE,
    DRY,
    SEND,
    automation_input,
    berlin_store,
    consent,
    create,
    detail,
    messages,
    move,
    run,
)
from tests.support.coupons import template
from tests.support.orders import (
    ROOT,
    complete,
    lid,
    order_input,
    pay_online,
    pickup_of,
    placed,
    receive,
    stepped,
)
from tests.support.referrals import balance, code_of, create_program, handed_over, invited
from tests.support.renewals import WEEKLY, open_shop
from tests.support.shoppers import Shopper, shopper

pytestmark = pytest.mark.usefixtures("store_morning")
LIST = "query($s: AutomationStatus) { automations(status: $s) { nodes { id name status } } }"
TIMELINE = f"""query($id: ID!) {{ node(id: $id) {{ ... on Member {{
  automationSends {{ nodes {{ {SEND} }} }} }} }} }}"""


@pytest.fixture
async def cs(api: Api, runtime: Runtime) -> Api:
    return await staff_api(api, runtime, "auto-cs", StaffRole.CS_AGENT, [])


async def test_first_order_handed_over_grants_a_coupon_and_a_message_linked_to_it(
    client: httpx.AsyncClient,
    api: Api,
    admin: Api,
    cs: Api,
    clerk_a: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    coupon = await template(runtime)
    made = await create(
        admin,
        action={
            "kind": "GRANT_COUPON",
            "couponTemplateId": encode_id("CouponTemplate", coupon.id),
            "channel": "WECHAT",
            "text": "首单礼券已到账",
        },
    )
    first, idle = await shopper(api, "auto-1"), await shopper(api, "auto-2")
    await consent(first)
    await consent(idle)
    await handed_over(client, runtime, clerk_a, first, stores, mango)
    assert await run(runtime) == 1
    [send] = (await detail(admin, made))["sends"]["nodes"]
    assert send["memberId"] == first.id and send["outcome"] == "DONE"
    assert send["automationId"] == made["id"] and send["periodKey"] == "first"
    [granted] = await CouponRow.filter(member_id=first.key)
    assert decode_id(send["couponId"], "Coupon") == granted.id
    assert granted.issue_key is not None and str(decode_id(made["id"], "Automation")) in (
        granted.issue_key
    )
    [message] = await messages(first)
    assert message.dedupe_key == send["messageKey"] and message.data["text"] == "首单礼券已到账"
    assert await messages(idle) == [] and await CouponRow.filter(member_id=idle.key) == []
    # A second hand-over is not a first one; another run finds nothing to do.
    await handed_over(client, runtime, clerk_a, first, stores, mango)
    assert await run(runtime) == 0
    assert len(await CouponRow.filter(member_id=first.key)) == 1
    # CS see it on the member's timeline; the member does not.
    shown = (await cs.data(TIMELINE, {"id": first.id}))["node"]["automationSends"]["nodes"]
    assert [(s["automationId"], s["couponId"]) for s in shown] == [(made["id"], send["couponId"])]
    mine = await first.api.data(TIMELINE, {"id": first.id})
    assert mine["node"]["automationSends"] is None
    # The member's data export lists it.
    export = "mutation { exportMyData { document errors { code } } }"
    document = (await first.api.data(export))["exportMyData"]["document"]
    assert [(s["automation"], s["action"], s["outcome"]) for s in document["automationSends"]] == [
        ("首单关怀", "GRANT_COUPON", "DONE")
    ]


async def test_without_consent_no_message_is_written_and_it_is_counted_as_blocked(
    client: httpx.AsyncClient,
    api: Api,
    admin: Api,
    clerk_a: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    made = await create(admin)
    coupon = await template(runtime)
    granting = await create(
        admin,
        name="grant",
        action={
            "kind": "GRANT_COUPON",
            "couponTemplateId": encode_id("CouponTemplate", coupon.id),
            "channel": "WECHAT",
            "text": "送您一张券",
        },
    )
    silent, sms_only = await shopper(api, "auto-3"), await shopper(api, "auto-4")
    await consent(sms_only, "MARKETING_SMS")  # another purpose than the channel's
    for who in (silent, sms_only):
        await handed_over(client, runtime, clerk_a, who, stores, mango)
    await run(runtime)
    found = await detail(admin, made)
    assert found["runs"]["blockedConsent"] == 2 and found["runs"]["done"] == 0
    assert {s["outcome"] for s in found["sends"]["nodes"]} == {"BLOCKED_CONSENT"}
    assert await messages() == []
    # A grant needs no consent, its notice does: the coupon is given, the message left out.
    given = (await detail(admin, granting))["sends"]["nodes"]
    assert [(s["outcome"], s["messageKey"], s["detail"]) for s in given] == [
        ("DONE", None, "message without consent")
    ] * 2
    assert all([await CouponRow.filter(member_id=w.key).count() == 1 for w in (silent, sms_only)])


async def test_the_frequency_cap_holds_across_automations(
    client: httpx.AsyncClient,
    api: Api,
    admin: Api,
    clerk_a: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    cap = {"messages": 1, "days": 7}
    one = await create(admin, name="one", frequencyCap=cap)
    two = await create(admin, name="two", frequencyCap=cap)
    who = await shopper(api, "auto-5")
    await consent(who)
    await handed_over(client, runtime, clerk_a, who, stores, mango)
    await run(runtime)
    found = [await detail(admin, a) for a in (one, two)]
    outcomes = sorted(s["outcome"] for f in found for s in f["sends"]["nodes"])
    assert outcomes == ["BLOCKED_CAP", "DONE"]
    assert len(await messages(who)) == 1


async def test_quiet_hours_defer_to_their_end_not_drop(
    client: httpx.AsyncClient,
    api: Api,
    admin: Api,
    clerk_a: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    mango: Variant,
    clock: MovableClock,
) -> None:
    made = await create(admin)
    who = await shopper(api, "auto-6")
    await consent(who)
    await handed_over(client, runtime, clerk_a, who, stores, mango)
    today = clock.today()
    clock.put(today, hour=22)  # store-local 22:00, in 21:00-09:00
    await run(runtime)
    admin = await relogin(api, "admin")  # tokens live 15 minutes
    [send] = (await detail(admin, made))["sends"]["nodes"]
    assert send["outcome"] == "PENDING" and await messages() == []
    dry = (await admin.data(DRY, {"id": made["id"]}))["dryRunAutomation"]
    assert dry["deferredQuietHours"] == 1 and dry["wouldHit"] == 0
    clock.put(today + timedelta(days=1), hour=8)  # still quiet
    await run(runtime)
    assert await messages() == []
    clock.put(today + timedelta(days=1), hour=9)
    await run(runtime)
    admin = await relogin(api, "admin")
    [send] = (await detail(admin, made))["sends"]["nodes"]
    assert send["outcome"] == "DONE" and len(await messages(who)) == 1


async def test_a_paused_automation_does_nothing_until_resumed(
    client: httpx.AsyncClient,
    api: Api,
    admin: Api,
    clerk_a: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    made = await create(admin, action={"kind": "GRANT_POINTS", "points": 88})
    who = await shopper(api, "auto-7")
    await handed_over(client, runtime, clerk_a, who, stores, mango)
    before = await balance(who)
    assert (await move(admin, "pauseAutomation", made))["automation"]["status"] == "PAUSED"
    again = await move(admin, "pauseAutomation", made)
    assert again["errors"] == [{"code": "INVALID_TRANSITION", "field": ["id"]}]
    await run(runtime)
    assert await balance(who) == before
    listed = (await admin.data(LIST, {"s": "PAUSED"}))["automations"]["nodes"]
    assert [a["id"] for a in listed] == [made["id"]]
    await move(admin, "resumeAutomation", made)
    await run(runtime)
    assert await balance(who) == before + 88
    [send] = (await detail(admin, made))["sends"]["nodes"]
    assert send["pointsEntryId"] is not None and send["messageKey"] is None
    assert (await move(admin, "archiveAutomation", made))["automation"]["status"] == "ARCHIVED"
    resumed = await move(admin, "resumeAutomation", made)
    assert resumed["errors"][0]["code"] == "AUTOMATION_ARCHIVED"


async def paid(
    client: httpx.AsyncClient, runtime: Runtime, who: Shopper, stores: dict[str, Any], v: Variant
) -> None:
    """A paid order: member facts' last order (an order placed and never paid is none)."""
    order = await placed(who.api, order_input([(v, 1)], pickup=lid(stores, "SH-A")))
    await pay_online(client, runtime, who, order)


async def test_no_order_for_days_hits_quiet_members_once_per_spell_and_dry_run_changes_nothing(
    client: httpx.AsyncClient,
    api: Api,
    admin: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    mango: Variant,
    clock: MovableClock,
) -> None:
    quiet, busy, never, silent = [await shopper(api, f"auto-q{n}") for n in range(4)]
    for who in (quiet, busy, never):
        await consent(who)
    for who in (quiet, silent):  # silent never consented
        await paid(client, runtime, who, stores, mango)
    unpaid = await placed(never.api, order_input([(mango, 1)], pickup=lid(stores, "SH-A")))
    assert unpaid["status"] == "PENDING_PAYMENT"  # not a purchase: never is not "quiet"
    clock.put(clock.today() + timedelta(days=31), hour=10)
    admin, busy = await relogin(api, "admin"), await shopper(api, "auto-q1")
    await paid(client, runtime, busy, stores, mango)
    made = await create(
        admin,
        name="30 天未购",
        trigger={"kind": "NO_ORDER_FOR_DAYS", "days": 30},
        action={"kind": "SEND_MESSAGE", "channel": "WECHAT", "text": "好久不见"},
    )
    dry = (await admin.data(DRY, {"id": made["id"]}))["dryRunAutomation"]
    assert dry == {
        "candidates": 2,
        "wouldHit": 1,
        "blockedConsent": 1,
        "blockedCap": 0,
        "deferredQuietHours": 0,
        "skippedConditions": 0,
    }
    assert await AutomationSendRow.all().count() == 0 and await messages() == []
    await run(runtime)
    sends = (await detail(admin, made))["sends"]["nodes"]
    assert sorted((s["memberId"], s["outcome"]) for s in sends) == sorted(
        [(quiet.id, "DONE"), (silent.id, "BLOCKED_CONSENT")]
    )
    clock.advance(timedelta(days=1))
    await run(runtime)  # the same quiet spell: once
    admin = await relogin(api, "admin")
    assert len(await messages(quiet)) == 1 and await messages(busy) == []
    assert await messages(silent) == []
    dry = (await admin.data(DRY, {"id": made["id"]}))["dryRunAutomation"]
    assert dry["candidates"] == 0


async def test_conditions_keep_out_members_who_do_not_match(
    client: httpx.AsyncClient,
    api: Api,
    admin: Api,
    clerk_a: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    gold = await create(admin, name="gold", conditions={"tiers": ["GOLD"]})
    member = await create(admin, name="member", conditions={"tiers": ["member"]})
    who = await shopper(api, "auto-8")
    await consent(who)
    await handed_over(client, runtime, clerk_a, who, stores, mango)
    await run(runtime)
    [skipped] = (await detail(admin, gold))["sends"]["nodes"]
    [done] = (await detail(admin, member))["sends"]["nodes"]
    assert (skipped["outcome"], done["outcome"]) == ("SKIPPED", "DONE")


async def test_min_orders_counts_the_members_orders_in_365_days_from_member_facts(
    client: httpx.AsyncClient,
    api: Api,
    admin: Api,
    clerk_a: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    """minOrders is member facts' orders_365 (paid, not cancelled or refunded in full), not
    the hand-overs: a second paid order still waiting for pickup counts."""
    made = await create(
        admin, conditions={"minOrders": 2}, action={"kind": "GRANT_POINTS", "points": 5}
    )
    regular, newcomer = await shopper(api, "auto-o1"), await shopper(api, "auto-o2")
    await paid(client, runtime, regular, stores, mango)
    for who in (regular, newcomer):
        await handed_over(client, runtime, clerk_a, who, stores, mango)
    await run(runtime)
    sends = {s["memberId"]: s["outcome"] for s in (await detail(admin, made))["sends"]["nodes"]}
    assert sends == {regular.id: "DONE", newcomer.id: "SKIPPED"}


async def test_referral_rewarded_hits_the_invitee_and_the_referrer_once(
    client: httpx.AsyncClient,
    api: Api,
    admin: Api,
    clerk_a: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    await create_program(admin, runtime)
    made = await create(
        admin,
        trigger={"kind": "REFERRAL_REWARDED"},
        action={"kind": "GRANT_POINTS", "points": 66},
    )
    referrer = await shopper(api, "auto-ref")
    invitee, created = await invited(api, "auto-inv", await code_of(referrer))
    bystander = await shopper(api, "auto-by")
    assert created
    await handed_over(client, runtime, clerk_a, invitee, stores, mango)
    await handed_over(client, runtime, clerk_a, bystander, stores, mango)
    before = (await balance(referrer), await balance(invitee))
    await run(runtime)
    assert (await balance(referrer), await balance(invitee)) == (before[0] + 66, before[1] + 66)
    await handed_over(client, runtime, clerk_a, invitee, stores, mango)  # not a referral's
    await run(runtime)
    sends = (await detail(admin, made))["sends"]["nodes"]
    assert sorted(s["memberId"] for s in sends) == sorted([referrer.id, invitee.id])
    assert all(s["pointsEntryId"] for s in sends)


async def test_points_expiring_hits_members_with_points_that_expire_in_time(
    api: Api, admin: Api, runtime: Runtime
) -> None:
    saver, empty = await shopper(api, "auto-p1"), await shopper(api, "auto-p2")
    checked = await saver.api.data("mutation { dailyCheckIn { errors { code } } }")
    assert checked["dailyCheckIn"]["errors"] == []
    soon = await create(
        admin, trigger={"kind": "POINTS_EXPIRING", "days": 400}, name="soon"
    )  # the lot expires in 12 months
    later = await create(admin, trigger={"kind": "POINTS_EXPIRING", "days": 3}, name="later")
    await consent(saver)
    await consent(empty)
    assert (await admin.data(DRY, {"id": soon["id"]}))["dryRunAutomation"]["wouldHit"] == 1
    await run(runtime)
    await run(runtime)  # the same month: once
    [send] = (await detail(admin, soon))["sends"]["nodes"]
    assert send["memberId"] == saver.id and send["periodKey"].startswith("expiring:")
    assert (await detail(admin, later))["sends"]["nodes"] == []
    assert len(await messages(saver)) == 1 and await messages(empty) == []


async def test_subscription_ending_hits_members_whose_last_prepaid_delivery_is_near(
    api: Api, admin: Api, runtime: Runtime, stores: dict[str, Any], clock: MovableClock
) -> None:
    shop = await open_shop(runtime, clock, stores, code="FB-AUTO")
    plan = await plans.create_plan(
        shop.deps, "Fruit, 2 weeks prepaid", [shop.variant_id], WEEKLY, 10, 0, 2
    )
    who = await shopper(api, "auto-sub")
    await consent(who)
    first = clock.today() + timedelta(days=5)  # the last prepaid delivery: a week later
    signup = services.SignUp(plan.id, [StockLine(shop.variant_id, 1)], first, shop.store)
    member = Principal(PrincipalKind.MEMBER, who.key)
    sub = await services.create_subscription(shop.deps, member, signup, None)
    near = await create(admin, name="near", trigger={"kind": "SUBSCRIPTION_ENDING", "days": 14})
    far = await create(admin, name="far", trigger={"kind": "SUBSCRIPTION_ENDING", "days": 7})
    await run(runtime)
    await run(runtime)  # the same prepaid run: once
    [send] = (await detail(admin, near))["sends"]["nodes"]
    assert (send["memberId"], send["periodKey"]) == (who.id, f"sub:{sub.id}:2")
    assert (await detail(admin, far))["sends"]["nodes"] == []
    assert len(await messages(who)) == 1


async def test_automations_paused_by_setting_do_nothing(
    client: httpx.AsyncClient,
    api: Api,
    admin: Api,
    clerk_a: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    """AUTOMATIONS_PAUSED (docs/operations.md): the job does nothing; its sends wait."""
    made = await create(admin)
    who = await shopper(api, "auto-9")
    await consent(who)
    await handed_over(client, runtime, clerk_a, who, stores, mango)
    stopped = replace(runtime.automations, policy=AutomationPolicy(paused=True))
    assert (await run_automations(stopped)).counts == {}
    [send] = (await detail(admin, made))["sends"]["nodes"]
    assert send["outcome"] == "PENDING" and await messages() == []
    await run(runtime)
    assert len(await messages(who)) == 1


async def test_quiet_hours_are_on_the_clock_of_the_members_store(
    client: httpx.AsyncClient,
    api: Api,
    admin: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    mango: Variant,
    clock: MovableClock,
) -> None:
    """A member served by a store in Berlin: 10:00 in Shanghai is 03:00 there (quiet); the
    send goes at 09:00 Berlin time."""
    berlin = await berlin_store(runtime, stores)
    await receive(runtime, berlin.id, mango, 5)
    clerk = await staff_api(api, runtime, "clerk-ber", StaffRole.STORE_CLERK, [berlin])
    made = await create(admin)
    who = await shopper(api, "auto-ber")
    await consent(who)
    places = {"BER-1": berlin}
    order = await placed(who.api, order_input([(mango, 1)], pickup=lid(places, "BER-1")))
    await pay_online(client, runtime, who, order)
    await stepped(clerk, "startPreparingOrder", order["id"])
    await stepped(clerk, "markOrderReadyForPickup", order["id"])
    done = await complete(clerk, places, (await pickup_of(who, order))["code"], "BER-1")
    assert done["errors"] == [], done
    await run(runtime)
    [send] = (await detail(admin, made))["sends"]["nodes"]
    assert send["outcome"] == "PENDING" and await messages() == []
    due = datetime.fromisoformat(send["dueAt"]).astimezone(ZoneInfo("Europe/Berlin"))
    assert (due.hour, due.minute) == (9, 0)
    assert due > clock.now() and due - clock.now() < timedelta(days=1)
    clock.put(due.astimezone(STORE_ZONE).date(), hour=due.astimezone(STORE_ZONE).hour)
    await run(runtime)
    assert len(await messages(who)) == 1


async def test_a_merge_moves_the_sends_and_the_survivor_is_not_hit_twice(
    client: httpx.AsyncClient,
    api: Api,
    admin: Api,
    cs: Api,
    clerk_a: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    made = await create(admin, action={"kind": "GRANT_POINTS", "points": 10})
    survivor, duplicate = await shopper(api, "auto-m1"), await shopper(api, "auto-m2")
    await handed_over(client, runtime, clerk_a, duplicate, stores, mango)
    await run(runtime)
    await merge_members(runtime.members, ROOT, duplicate.key, survivor.key, "same person")
    survivor = await shopper(api, "auto-m1")  # merges end sessions
    await handed_over(client, runtime, clerk_a, survivor, stores, mango)  # not a first
    await run(runtime)
    [send] = (await detail(admin, made))["sends"]["nodes"]
    assert send["memberId"] == survivor.id and send["outcome"] == "DONE"
    shown = (await cs.data(TIMELINE, {"id": survivor.id}))["node"]["automationSends"]["nodes"]
    assert [s["automationId"] for s in shown] == [made["id"]]


async def test_the_list_reads_every_automations_runs_in_constant_statements(
    admin: Api,
) -> None:
    runs = "{ automations(first: 50) { nodes { name runs { done blockedConsent } } } }"

    async def statements() -> int:
        with count_sql() as seen:
            nodes = (await admin.data(runs))["automations"]["nodes"]
        assert all(n["runs"] == {"done": 0, "blockedConsent": 0} for n in nodes)
        return len(seen)

    await create(admin, name="first")
    one = await statements()
    for n in range(4):
        await create(admin, name=f"more {n}")
    assert await statements() == one


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"name": " "}, "INVALID_INPUT", ["name"]),
        ({"trigger": {"kind": "NO_ORDER_FOR_DAYS"}}, "INVALID_INPUT", ["trigger", "days"]),
        (
            {"trigger": {"kind": "POINTS_EXPIRING", "days": 0}},
            "INVALID_INPUT",
            ["trigger", "days"],
        ),
        (
            {"trigger": {"kind": "FIRST_ORDER_HANDED_OVER", "days": 3}},
            "INVALID_INPUT",
            ["trigger", "days"],
        ),
        ({"action": {"kind": "GRANT_POINTS"}}, "INVALID_INPUT", ["action", "points"]),
        ({"action": {"kind": "GRANT_COUPON"}}, "INVALID_INPUT", ["action", "couponTemplateId"]),
        (
            {"action": {"kind": "GRANT_COUPON", "couponTemplateId": "nope"}},
            "INVALID_ID",
            ["action", "couponTemplateId"],
        ),
        (
            {"action": {"kind": "SEND_MESSAGE", "text": "hi"}},
            "INVALID_INPUT",
            ["action", "channel"],
        ),
        (
            {"action": {"kind": "SEND_SMS"}},
            "INVALID_INPUT",
            ["action", "text"],
        ),
        ({"conditions": {"minOrders": -1}}, "INVALID_INPUT", ["conditions", "minOrders"]),
        ({"action": {"kind": "ADD_TAG"}}, "INVALID_INPUT", ["action", "tagId"]),
        (
            {"action": {"kind": "GRANT_POINTS", "points": 5, "tagId": encode_id("Tag", ROOT.id)}},
            "INVALID_INPUT",
            ["action", "tagId"],
        ),
        (
            {
                "action": {
                    "kind": "ADD_TAG",
                    "tagId": encode_id("Tag", ROOT.id),
                    "channel": "WECHAT",
                    "text": "您是贵宾",
                }
            },
            "INVALID_INPUT",
            ["action", "channel"],
        ),
        (
            {"action": {"kind": "ADD_TAG", "tagId": encode_id("Tag", ROOT.id)}},
            "NOT_FOUND",
            ["action", "tagId"],
        ),
        ({"trigger": {"kind": "BIRTHDAY", "days": 1}}, "INVALID_INPUT", ["trigger", "days"]),
        ({"frequencyCap": {"messages": 0, "days": 7}}, "INVALID_INPUT", ["frequencyCap"]),
        ({"quietHours": {"start": 25, "end": 9}}, "INVALID_INPUT", ["quietHours"]),
    ],
)
async def test_a_bad_automation_is_refused_naming_its_field_and_nothing_is_saved(
    admin: Api, fields: dict[str, Any], code: str, field: list[str]
) -> None:
    payload = (await admin.data(CREATE, {"i": automation_input(**fields)}))["createAutomation"]
    assert payload["automation"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)]
    assert (await admin.data(LIST))["automations"]["nodes"] == []


@pytest.mark.usefixtures("postgres")
async def test_two_runs_at_once_send_once_per_member(
    client: httpx.AsyncClient,
    api: Api,
    admin: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    mango: Variant,
    clock: MovableClock,
) -> None:
    coupon = await template(runtime)
    members = [await shopper(api, f"auto-r{n}") for n in range(6)]
    for who in members:
        await consent(who)
        await paid(client, runtime, who, stores, mango)
    clock.put(clock.today() + timedelta(days=8), hour=10)
    admin = await relogin(api, "admin")
    made = await create(
        admin,
        trigger={"kind": "NO_ORDER_FOR_DAYS", "days": 7},
        action={
            "kind": "GRANT_COUPON",
            "couponTemplateId": encode_id("CouponTemplate", coupon.id),
            "channel": "WECHAT",
            "text": "回来看看",
        },
    )
    await asyncio.gather(run(runtime), run(runtime), run(runtime))
    sends = (await detail(admin, made))["sends"]["nodes"]
    assert sorted(s["memberId"] for s in sends) == sorted(m.id for m in members)
    assert {s["outcome"] for s in sends} == {"DONE"}
    for who in members:
        assert len(await CouponRow.filter(member_id=who.key)) == 1
        assert len(await messages(who)) == 1
