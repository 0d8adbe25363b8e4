"""A member's birthday (issue 19, for automations' BIRTHDAY trigger), on PostgreSQL and
SQLite: the member sets it, or CS for them with a reason (the staff action log); only real
dates; shown to the member and to PII staff; copied into member facts ("MM-DD"); in the data
export; gone with an erasure; kept across a merge (the survivor's wins)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from domain.engagement.facts import rebuild_member_facts
from domain.identity.model import StaffRole
from domain.members.merge import merge_members
from infra.db.models.facts import MemberFactsRow
from infra.db.models.identity import StaffActionRow
from infra.db.models.members import MemberRow
from infra.runtime import Runtime
from tests.support import MovableClock
from tests.support.api import Api, staff_api
from tests.support.orders import ROOT
from tests.support.shoppers import Shopper, shopper

SET = """mutation($m: Int!, $d: Int!, $y: Int) { setMyBirthday(input: {month: $m, day: $d,
  year: $y}) { member { birthday { month day year } } errors { code field } } }"""
FOR = """mutation($id: ID!, $m: Int!, $d: Int!, $r: String!) { setBirthdayForMember(input:
  {memberId: $id, month: $m, day: $d, reason: $r}) { member { birthday { month day year } }
  errors { code field } } }"""
ME = "{ me { birthday { month day year } } }"
NODE = "query($id: ID!) { node(id: $id) { ... on Member { birthday { month day year } } } }"


async def set_mine(who: Shopper, month: int, day: int, year: int | None = None) -> Any:
    found = await who.api.data(SET, {"m": month, "d": day, "y": year})
    return found["setMyBirthday"]


async def facts_birthday(who: Shopper) -> str | None:
    row = await MemberFactsRow.get_or_none(member_id=who.key)
    return row.birthday if row else None


@pytest.fixture
async def cs(api: Api, runtime: Runtime) -> Api:
    return await staff_api(api, runtime, "bd-cs", StaffRole.CS_AGENT, [])


async def test_a_member_sets_their_birthday_and_facts_copy_it(api: Api) -> None:
    who = await shopper(api, "bd-1")
    assert (await who.api.data(ME))["me"]["birthday"] is None
    done = await set_mine(who, 2, 29)  # no year: Feb 29 is a real birthday
    assert done == {"member": {"birthday": {"month": 2, "day": 29, "year": None}}, "errors": []}
    assert (await who.api.data(ME))["me"]["birthday"] == {"month": 2, "day": 29, "year": None}
    assert await facts_birthday(who) == "02-29"
    await set_mine(who, 7, 3, 1990)  # corrected
    assert (await who.api.data(ME))["me"]["birthday"] == {"month": 7, "day": 3, "year": 1990}
    assert await facts_birthday(who) == "07-03"
    cleared = await who.api.data("mutation { clearMyBirthday { member { birthday { month } } } }")
    assert cleared["clearMyBirthday"]["member"] == {"birthday": None}
    assert (await who.api.data(ME))["me"]["birthday"] is None
    assert await facts_birthday(who) is None


@pytest.mark.parametrize(
    ("month", "day", "year", "field"),
    [
        (13, 1, None, "month"),
        (0, 1, None, "month"),
        (2, 30, None, "day"),
        (4, 31, None, "day"),
        (2, 29, 2001, "day"),  # not a leap year
        (1, 1, 1899, "year"),
        (1, 1, 9999, "year"),
    ],
)
async def test_a_date_that_is_not_real_is_refused_and_nothing_changes(
    api: Api, month: int, day: int, year: int | None, field: str
) -> None:
    who = await shopper(api, "bd-2")
    assert (await set_mine(who, 5, 5))["errors"] == []
    refused = await set_mine(who, month, day, year)
    assert refused == {
        "member": None,
        "errors": [{"code": "INVALID_INPUT", "field": ["input", field]}],
    }
    assert (await who.api.data(ME))["me"]["birthday"] == {"month": 5, "day": 5, "year": None}
    assert await facts_birthday(who) == "05-05"


async def test_a_birthday_after_today_is_refused_today_is_not(
    api: Api, clock: MovableClock
) -> None:
    """Today on the brand's clock (Asia/Shanghai), as the tests' clock counts it."""
    who = await shopper(api, "bd-3")
    today = clock.today()
    tomorrow = today + timedelta(days=1)
    refused = await set_mine(who, tomorrow.month, tomorrow.day, tomorrow.year)
    assert [e["code"] for e in refused["errors"]] == ["INVALID_INPUT"]
    assert (await set_mine(who, today.month, today.day, today.year))["errors"] == []


async def test_cs_sets_it_for_the_member_with_a_reason_and_only_they_see_it(
    api: Api, cs: Api
) -> None:
    who, other = await shopper(api, "bd-4"), await shopper(api, "bd-5")
    short = (await cs.data(FOR, {"id": who.id, "m": 8, "d": 8, "r": "x"}))["setBirthdayForMember"]
    assert short["errors"][0]["code"] == "INVALID_INPUT" and await StaffActionRow.all().count() == 0
    done = await cs.data(FOR, {"id": who.id, "m": 8, "d": 8, "r": "ticket 12: by phone"})
    assert done["setBirthdayForMember"]["errors"] == []
    [logged] = await StaffActionRow.filter(action="BIRTHDAY_FOR_MEMBER")
    assert logged.subject == f"member:{who.key}" and logged.reason == "ticket 12: by phone"
    shown = {"month": 8, "day": 8, "year": None}
    assert (await cs.data(NODE, {"id": who.id}))["node"]["birthday"] == shown
    assert (await who.api.data(ME))["me"]["birthday"] == shown
    seen = (await other.api.data(NODE, {"id": who.id}))["node"]
    assert seen is None or seen["birthday"] is None
    refused = await cs.data(FOR, {"id": who.id, "m": 2, "d": 31, "r": "ticket 12: by phone"})
    assert refused["setBirthdayForMember"]["errors"] == [
        {"code": "INVALID_INPUT", "field": ["input", "day"]}
    ]
    assert await StaffActionRow.filter(action="BIRTHDAY_FOR_MEMBER").count() == 1


async def test_the_export_lists_it_and_erasure_removes_it(api: Api) -> None:
    who = await shopper(api, "bd-6")
    await set_mine(who, 12, 24, 1985)
    export = "mutation { exportMyData { document errors { code } } }"
    document = (await who.api.data(export))["exportMyData"]["document"]
    assert document["member"]["birthday"] == {"month": 12, "day": 24, "year": 1985}
    erase = "mutation { deleteMyAccount(input: {confirm: true}) { ok errors { code } } }"
    assert (await who.api.data(erase))["deleteMyAccount"]["ok"] is True
    row = await MemberRow.get(id=who.key)
    assert (row.birthday, row.birthday_year) == (None, None)
    assert await MemberFactsRow.get_or_none(member_id=who.key) is None


async def test_a_merge_keeps_the_survivors_birthday_or_takes_the_absorbed_ones(
    api: Api, runtime: Runtime
) -> None:
    keeps, gives = await shopper(api, "bd-7"), await shopper(api, "bd-8")
    await set_mine(keeps, 1, 2)
    await set_mine(gives, 3, 4)
    await merge_members(runtime.members, ROOT, gives.key, keeps.key, "same person")
    assert (await MemberRow.get(id=keeps.key)).birthday == "01-02"
    empty, donor = await shopper(api, "bd-9"), await shopper(api, "bd-10")
    await set_mine(donor, 10, 11, 2000)
    await merge_members(runtime.members, ROOT, donor.key, empty.key, "same person")
    row = await MemberRow.get(id=empty.key)
    assert (row.birthday, row.birthday_year) == ("10-11", 2000)
    assert await facts_birthday(empty) == "10-11"
    await rebuild_member_facts(runtime.member_facts)  # the nightly rebuild agrees
    assert await facts_birthday(empty) == "10-11" and await facts_birthday(keeps) == "01-02"
