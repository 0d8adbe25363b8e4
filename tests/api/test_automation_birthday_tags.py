"""Automations, second step (issue 19), on PostgreSQL and SQLite: the BIRTHDAY trigger fires
on the member's birthday from 09:00 on their preferred store's clock (Asia/Shanghai without
one), once a year, Feb 29 on Feb 28 in a common year, with the consent rules of any message;
the ADD_TAG action puts a MANUAL tag on, as the automation with its name as the reason, with no
consent needed (nothing is sent, also not in quiet hours), once per period, traceable on the
send."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import httpx
import pytest

from domain.catalog.model import Variant
from domain.identity.model import StaffRole
from infra.db.models.automations import AutomationSendRow
from infra.db.models.tags import MemberTagRow
from infra.runtime import Runtime
from tests.support import STORE_ZONE, MovableClock
from tests.support.api import Api, relogin, staff_api
from tests.support.automations import (
    CREATE,
    DRY,
    automation_input,
    automation_key,
    berlin_store,
    consent,
    create,
    detail,
    messages,
    run,
)
from tests.support.orders import lid, order_input, pay_online, placed, receive
from tests.support.referrals import handed_over
from tests.support.shoppers import Shopper, shopper

BIRTHDAY = {"kind": "BIRTHDAY"}
GREETING = {"kind": "SEND_MESSAGE", "channel": "WECHAT", "text": "生日快乐"}
SET = """mutation($m: Int!, $d: Int!) { setMyBirthday(input: {month: $m, day: $d}) {
  errors { code } } }"""
TAG = """mutation($i: CreateTagInput!) { createTag(input: $i) { tag { id } errors { code } } }"""
TAG_MEMBER = """mutation($i: TagMemberInput!) { tagMember(input: $i) { added errors { code } } }"""


async def born(who: Shopper, day: date) -> None:
    done = await who.api.data(SET, {"m": day.month, "d": day.day})
    assert done["setMyBirthday"]["errors"] == [], done


async def periods(automation: dict[str, Any]) -> list[tuple[UUID, str]]:
    """(member, period) of the automation's sends, read from the table (no token needed)."""
    rows = await AutomationSendRow.filter(automation_id=automation_key(automation)).order_by(
        "created_at", "id"
    )
    return [(r.member_id, r.period_key) for r in rows]


def at_store_clock(day: date, hour: int, zone: str) -> tuple[date, int]:
    """The Shanghai (the tests' clock) date and hour of `hour`:00 on `day` in `zone`."""
    moment = datetime(day.year, day.month, day.day, hour, tzinfo=ZoneInfo(zone))
    local = moment.astimezone(STORE_ZONE)
    assert local.minute == 0
    return local.date(), local.hour


async def test_birthday_fires_in_the_morning_of_the_members_store_clock_once_a_year(
    client: httpx.AsyncClient,
    api: Api,
    admin: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    mango: Variant,
    clock: MovableClock,
) -> None:
    berlin = await berlin_store(runtime, stores)
    await receive(runtime, berlin.id, mango, 5)
    day = clock.today() + timedelta(days=10)
    if (day.month, day.day) == (2, 29):
        day += timedelta(days=1)
    local, far, silent, later = [await shopper(api, f"bd-a{n}") for n in range(4)]
    for who in (local, far, silent, later):
        await born(who, day + timedelta(days=1) if who is later else day)
    for who in (local, far, later):
        await consent(who)
    # far's orders are in Berlin: their preferred store (member facts) and its clock
    order = await placed(far.api, order_input([(mango, 1)], pickup=lid({"BER-1": berlin}, "BER-1")))
    await pay_online(client, runtime, far, order)
    made = await create(admin, name="生日祝福", trigger=BIRTHDAY, action=GREETING)
    ids = {w.key: w for w in (local, far, silent, later)}

    clock.put(day - timedelta(days=1), hour=23)  # Shanghai's eve; Berlin's afternoon before
    await run(runtime)
    clock.put(day, hour=8)  # Shanghai's birthday, before the morning
    await run(runtime)
    assert await periods(made) == []
    clock.put(day, hour=10)  # 10:00 in Shanghai, 02:00 or 03:00 in Berlin
    await run(runtime)
    found = {(ids[m].openid, p) for m, p in await periods(made)}
    assert found == {("bd-a0", f"birthday:{day.year}"), ("bd-a2", f"birthday:{day.year}")}
    assert len(await messages(local)) == 1 and await messages(silent) == []
    admin = await relogin(api, "admin")
    outcomes = sorted(s["outcome"] for s in (await detail(admin, made))["sends"]["nodes"])
    assert outcomes == ["BLOCKED_CONSENT", "DONE"]

    clock.put(*at_store_clock(day, 8, "Europe/Berlin"))  # Berlin's birthday, still early
    await run(runtime)
    assert len(await periods(made)) == 2
    clock.put(*at_store_clock(day, 9, "Europe/Berlin"))
    admin = await relogin(api, "admin")
    assert (await admin.data(DRY, {"id": made["id"]}))["dryRunAutomation"]["wouldHit"] == 1
    await run(runtime)
    await run(runtime)  # again the same day: nothing more
    assert len(await messages(far)) == 1 and len(await messages(local)) == 1
    clock.put(day + timedelta(days=1), hour=10)
    await run(runtime)
    assert len(await messages(later)) == 1 and len(await messages(local)) == 1
    next_year = day.replace(year=day.year + 1)
    clock.put(next_year, hour=10)
    await run(runtime)
    mine = [p for m, p in await periods(made) if m == local.key]
    assert mine == [f"birthday:{day.year}", f"birthday:{next_year.year}"]


@pytest.mark.parametrize(
    ("day", "fires"),
    [
        (date(2027, 2, 28), "birthday:2027"),  # no Feb 29 in 2027
        (date(2027, 3, 1), None),
        (date(2028, 2, 28), None),  # 2028 has one
        (date(2028, 2, 29), "birthday:2028"),
    ],
)
async def test_a_feb_29_birthday_fires_on_feb_28_in_a_common_year(
    api: Api, admin: Api, runtime: Runtime, clock: MovableClock, day: date, fires: str | None
) -> None:
    leapling = await shopper(api, "bd-leap")
    await born(leapling, date(2000, 2, 29))
    made = await create(
        admin, name="生日积分", trigger=BIRTHDAY, action={"kind": "GRANT_POINTS", "points": 9}
    )
    clock.put(day, hour=10)
    await run(runtime)
    assert [p for _, p in await periods(made)] == ([fires] if fires else [])


async def tag_id(admin: Api, name: str, kind: str = "MANUAL", rule: str | None = None) -> str:
    made = await admin.data(TAG, {"i": {"name": name, "kind": kind, "rule": rule}})
    assert made["createTag"]["errors"] == [], made
    found: str = made["createTag"]["tag"]["id"]
    return found


async def test_add_tag_puts_a_manual_tag_on_without_consent_once_and_names_it_on_the_send(
    client: httpx.AsyncClient,
    api: Api,
    admin: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    mango: Variant,
    clock: MovableClock,
) -> None:
    clerk = await staff_api(api, runtime, "bd-clerk", StaffRole.STORE_CLERK, [stores["SH-A"]])
    cs = await staff_api(api, runtime, "bd-cs", StaffRole.CS_AGENT, [])
    vip = await tag_id(admin, "首单会员")
    made = await create(admin, name="首单打标", action={"kind": "ADD_TAG", "tagId": vip})
    assert made["action"]["tagId"] == vip
    fresh, known = await shopper(api, "bd-t1"), await shopper(api, "bd-t2")  # no consent
    tagged = await cs.data(
        TAG_MEMBER, {"i": {"memberId": known.id, "tagId": vip, "reason": "VIP by phone"}}
    )
    assert tagged["tagMember"]["added"] is True
    for who in (fresh, known):
        await handed_over(client, runtime, clerk, who, stores, mango)
    clock.put(clock.today(), hour=22)  # quiet hours: a tag reaches no one, it goes on now
    await run(runtime)
    await run(runtime)
    admin = await relogin(api, "admin")
    sends = {s["memberId"]: s for s in (await detail(admin, made))["sends"]["nodes"]}
    assert {m: (s["outcome"], s["tagId"]) for m, s in sends.items()} == {
        fresh.id: ("DONE", vip),
        known.id: ("DONE", vip),
    }
    assert sends[fresh.id]["detail"] == "" and "already" in sends[known.id]["detail"]
    assert sends[fresh.id]["messageKey"] is None and await messages() == []
    [row] = await MemberTagRow.filter(member_id=fresh.key)
    assert (row.actor, row.reason) == (f"automation:{automation_key(made)}", "首单打标")
    [kept] = await MemberTagRow.filter(member_id=known.key)
    assert kept.reason == "VIP by phone"  # the repeat changed nothing


async def test_add_tag_takes_only_a_manual_tag(admin: Api) -> None:
    auto = await tag_id(admin, "常客", "AUTOMATIC", "orders_365 >= 3")
    given = automation_input(action={"kind": "ADD_TAG", "tagId": auto})
    payload = (await admin.data(CREATE, {"i": given}))["createAutomation"]
    assert payload["automation"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("TAG_NOT_MANUAL", ["action", "tagId"])
    ]
