"""Points over GraphQL: the member's own view (`me.points`), daily check-in, CS adjustments
with the actor recorded, who may see whose points, the data export, and merges."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import pytest

from api.relay import encode_id
from domain.identity.model import StaffRole
from domain.identity.services import create_staff
from domain.ids import new_id
from infra.db.models.loyalty import PointsLotRow
from infra.runtime import Runtime
from tests.support.api import Api, login
from tests.support.payloads import top_level_codes
from tests.support.points import DAY, check_books, earn, entries_of, hold, lots_of, purchase
from tests.support.shoppers import Shopper, shopper

ME_POINTS = """{ me { points {
  balance held available
  expiringSoon { amount expiresAt }
  tier { name growthValue nextTier { name threshold } }
  history(first: 5) { edges { node { kind amount balanceAfter } } pageInfo { hasNextPage } }
} } }"""

HISTORY = """query($after: String) { me { points {
  history(first: 2, after: $after) {
    edges { cursor node { kind amount heldChange balanceAfter heldAfter actor reason } }
    pageInfo { hasNextPage endCursor }
  } } } }"""

CHECK_IN = """mutation { dailyCheckIn {
  entry { kind amount balanceAfter source actor } errors { code message field } } }"""

ADJUST = """mutation($input: AdjustPointsInput!) { adjustPoints(input: $input) {
  entry { kind amount balanceAfter actor reason source } errors { code message field } } }"""

MEMBER_POINTS = "query($id: ID!) { member(id: $id) { id points { balance held available } } }"

LOOKUP = """query($phone: String!) { lookupMember(input: {phone: $phone}) {
  id points { balance } } }"""

EXPORT = "mutation { exportMyData { document errors { code message } } }"

MERGE = """mutation($s: ID!, $t: ID!) { mergeMembers(input: {sourceMemberId: $s,
  targetMemberId: $t, reason: "same person"}) { member { id } errors { code message } } }"""


@pytest.fixture
async def cs(api: Api, runtime: Runtime) -> tuple[Api, UUID]:
    staff = await create_staff(runtime.auth, "cs-agent", "long-enough-pw", StaffRole.CS_AGENT, [])
    result = await login(api, "cs-agent", "long-enough-pw")
    assert result["errors"] == [], result
    return api.as_(result["tokens"]["accessToken"]), staff.id


@pytest.fixture
async def member(api: Api) -> Shopper:
    return await shopper(api, "points-member", phone="+8613800138011")


def adjust_input(member_id: str, delta: int, reason: str = "goodwill", **more: Any) -> Any:
    return {"input": {"memberId": member_id, "delta": delta, "reason": reason, **more}}


async def test_a_new_member_has_no_points_and_the_first_tier(member: Shopper) -> None:
    points = (await member.api.data(ME_POINTS))["me"]["points"]
    assert points == {
        "balance": 0,
        "held": 0,
        "available": 0,
        "expiringSoon": [],
        "tier": {
            "name": "MEMBER",
            "growthValue": 0,
            "nextTier": {"name": "SILVER", "threshold": 100_000},
        },
        "history": {"edges": [], "pageInfo": {"hasNextPage": False}},
    }


async def test_me_points_shows_balance_holds_expiry_tier_and_history(
    runtime: Runtime, member: Shopper
) -> None:
    await earn(runtime, member.key, 40, expires_in=10 * DAY)
    await earn(runtime, member.key, 25, expires_in=20 * DAY)
    await earn(runtime, member.key, 500, expires_in=40 * DAY)
    await purchase(runtime, member.key, 120_000, "pos:S1:T1")  # SILVER: 1200 x 1.2
    await hold(runtime, member.key, 30, "order-1")  # from the soonest lot
    checked = (await member.api.data(CHECK_IN))["dailyCheckIn"]
    assert checked["errors"] == []

    points = (await member.api.data(ME_POINTS))["me"]["points"]
    assert (points["balance"], points["held"], points["available"]) == (2015, 30, 1985)
    lots = await lots_of(member.key)
    assert [
        (e["amount"], datetime.fromisoformat(e["expiresAt"])) for e in points["expiringSoon"]
    ] == [(10, lots[0].expires_at), (25, lots[1].expires_at)]
    assert points["tier"] == {
        "name": "SILVER",
        "growthValue": 120_000,
        "nextTier": {"name": "GOLD", "threshold": 500_000},
    }
    history = points["history"]
    assert [e["node"] for e in history["edges"]] == [
        {"kind": "CHECK_IN", "amount": 10, "balanceAfter": 2015},
        {"kind": "HOLD", "amount": 0, "balanceAfter": 2005},
        {"kind": "EARN", "amount": 1440, "balanceAfter": 2005},
        {"kind": "EARN", "amount": 500, "balanceAfter": 565},
        {"kind": "EARN", "amount": 25, "balanceAfter": 65},
    ]
    assert history["pageInfo"]["hasNextPage"] is True

    # paging through: newest first, every entry once
    seen, after = [], None
    while True:
        page = (await member.api.data(HISTORY, {"after": after}))["me"]["points"]["history"]
        seen += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert [n["kind"] for n in seen] == ["CHECK_IN", "HOLD", "EARN", "EARN", "EARN", "EARN"]
    held = seen[1]
    assert (held["heldChange"], held["heldAfter"]) == (30, 30)
    await check_books()


async def test_daily_check_in_once_a_day(api: Api, member: Shopper, cs: tuple[Api, UUID]) -> None:
    first = (await member.api.data(CHECK_IN))["dailyCheckIn"]
    assert first["errors"] == []
    assert first["entry"] == {
        "kind": "CHECK_IN",
        "amount": 10,
        "balanceAfter": 10,
        "source": first["entry"]["source"],
        "actor": f"MEMBER:{member.key}",
    }
    assert first["entry"]["source"].startswith("checkin:")
    for _ in range(2):
        again = (await member.api.data(CHECK_IN))["dailyCheckIn"]
        assert again["entry"] is None
        assert [e["code"] for e in again["errors"]] == ["ALREADY_CHECKED_IN"]
    points = (await member.api.data(ME_POINTS))["me"]["points"]
    assert points["balance"] == 10

    staff, _ = cs
    assert top_level_codes(await staff(CHECK_IN)) == ["FORBIDDEN"]
    assert top_level_codes(await api(CHECK_IN)) == ["UNAUTHENTICATED"]


async def test_cs_adjusts_points_and_is_recorded_as_the_actor(
    api: Api, runtime: Runtime, member: Shopper, cs: tuple[Api, UUID]
) -> None:
    staff, staff_id = cs
    given = (
        await staff.data(
            ADJUST, adjust_input(member.id, 300, "  late delivery #4411  ", idempotencyKey="t-1")
        )
    )["adjustPoints"]
    assert given["errors"] == []
    assert given["entry"] == {
        "kind": "ADJUST",
        "amount": 300,
        "balanceAfter": 300,
        "actor": f"STAFF:{staff_id}",
        "reason": "late delivery #4411",
        "source": f"cs:{staff_id}",
    }
    replay = await staff.data(ADJUST, adjust_input(member.id, 300, "again", idempotencyKey="t-1"))
    assert replay["adjustPoints"] == given
    conflict = await staff.data(ADJUST, adjust_input(member.id, 200, "other", idempotencyKey="t-1"))
    assert [(e["code"], e["field"]) for e in conflict["adjustPoints"]["errors"]] == [
        ("IDEMPOTENCY_CONFLICT", ["idempotencyKey"])
    ]

    await hold(runtime, member.key, 100, "order-held")
    taken = (await staff.data(ADJUST, adjust_input(member.id, -150, "double grant")))[
        "adjustPoints"
    ]
    assert (taken["entry"]["amount"], taken["entry"]["balanceAfter"]) == (-150, 150)
    short = (await staff.data(ADJUST, adjust_input(member.id, -51, "too much")))["adjustPoints"]
    assert short["entry"] is None
    assert [(e["code"], e["field"]) for e in short["errors"]] == [
        ("INSUFFICIENT_POINTS", ["delta"])
    ]

    bad_inputs = [
        (adjust_input(member.id, 0), ("INVALID_INPUT", ["delta"])),
        (adjust_input(member.id, 100_000_001), ("INVALID_INPUT", ["delta"])),
        (adjust_input(member.id, 5, ""), ("INVALID_INPUT", ["reason"])),
        (adjust_input(member.id, 5, "   "), ("INVALID_INPUT", ["reason"])),
        (adjust_input("not-an-id", 5), ("INVALID_ID", ["memberId"])),
        (adjust_input(encode_id("Location", new_id()), 5), ("INVALID_ID", ["memberId"])),
        (adjust_input(encode_id("Member", new_id()), 5), ("NOT_FOUND", ["memberId"])),
    ]
    for variables, expected in bad_inputs:
        payload = (await staff.data(ADJUST, variables))["adjustPoints"]
        assert payload["entry"] is None, variables
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [expected], variables

    # a member may not adjust (not even their own), nor may anyone anonymous
    body = await member.api(ADJUST, adjust_input(member.id, 1000, "treat myself"))
    assert top_level_codes(body) == ["FORBIDDEN"] and body["data"] is None
    assert top_level_codes(await api(ADJUST, adjust_input(member.id, 5))) == ["UNAUTHENTICATED"]

    points = (await member.api.data(ME_POINTS))["me"]["points"]
    assert (points["balance"], points["held"], points["available"]) == (150, 100, 50)
    adjustments = [e for e in await entries_of(member.key) if e.kind == "ADJUST"]
    assert [(e.amount, e.actor) for e in adjustments] == [
        (300, f"STAFF:{staff_id}"),
        (-150, f"STAFF:{staff_id}"),
    ]
    await check_books()


async def test_cs_sees_a_members_points_and_other_members_do_not(
    api: Api,
    runtime: Runtime,
    member: Shopper,
    cs: tuple[Api, UUID],
    clerk_a: Api,
) -> None:
    await earn(runtime, member.key, 75)
    await hold(runtime, member.key, 25, "order-cs")
    staff, _ = cs
    seen = (await staff.data(MEMBER_POINTS, {"id": member.id}))["member"]
    assert seen == {"id": member.id, "points": {"balance": 75, "held": 25, "available": 50}}

    other = await shopper(api, "points-other")
    body = await other.api(MEMBER_POINTS, {"id": member.id})
    assert top_level_codes(body) == ["FORBIDDEN"] and body["data"] == {"member": None}
    body = await member.api(MEMBER_POINTS, {"id": member.id})  # members use `me`
    assert top_level_codes(body) == ["FORBIDDEN"]
    assert (await other.api.data(ME_POINTS))["me"]["points"]["balance"] == 0

    # store staff may find the member at the till, but not read their points
    found = (await clerk_a.data(LOOKUP, {"phone": "13800138011"}))["lookupMember"]
    assert found == {"id": member.id, "points": None}


async def test_the_data_export_has_a_points_section(runtime: Runtime, member: Shopper) -> None:
    await earn(runtime, member.key, 120)
    await member.api.data(CHECK_IN)
    await hold(runtime, member.key, 20, "order-export")

    payload = (await member.api.data(EXPORT))["exportMyData"]
    assert payload["errors"] == []
    assert payload["document"]["points"] == {"balance": 130, "tier": "MEMBER"}
    entries = payload["document"]["pointsEntries"]
    assert [(e["kind"], e["amount"], e["balanceAfter"]) for e in entries] == [
        ("HOLD", 0, 130),
        ("CHECK_IN", 10, 130),
        ("EARN", 120, 120),
    ]
    assert all(e["at"] and e["source"] is not None for e in entries)


async def test_merging_members_moves_their_points_to_the_survivor(
    api: Api, runtime: Runtime, cs: tuple[Api, UUID]
) -> None:
    source = await shopper(api, "points-src")
    target = await shopper(api, "points-tgt")
    await earn(runtime, source.key, 100, expires_in=10 * DAY)
    await earn(runtime, source.key, 200)
    await hold(runtime, source.key, 120, "order-src")
    await earn(runtime, target.key, 50, expires_in=5 * DAY)
    dates = {r.id: r.expires_at for r in await lots_of(source.key)}

    staff, _ = cs
    done = (await staff.data(MERGE, {"s": source.id, "t": target.id}))["mergeMembers"]
    assert done["errors"] == [] and done["member"] == {"id": target.id}, done

    points = (await target.api.data(ME_POINTS))["me"]["points"]
    assert (points["balance"], points["held"], points["available"]) == (350, 120, 230)
    assert points["history"]["edges"][0]["node"] == {
        "kind": "MERGE_IN",
        "amount": 300,
        "balanceAfter": 350,
    }
    # the source's soonest lot is all held: only the target's own lot may expire unspent
    assert [e["amount"] for e in points["expiringSoon"]] == [50]
    [out] = [e for e in await entries_of(source.key) if e.kind == "MERGE_OUT"]
    assert (out.amount, out.held_change, out.balance_after, out.held_after) == (-300, -120, 0, 0)
    moved = await PointsLotRow.filter(id__in=list(dates))
    assert {r.id: (r.member_id, r.expires_at) for r in moved} == {
        lot_id: (target.key, expires) for lot_id, expires in dates.items()
    }
    # the CS view of the absorbed id is the survivor's
    seen = (await staff.data(MEMBER_POINTS, {"id": source.id}))["member"]
    assert seen["id"] == target.id and seen["points"]["balance"] == 350
    await check_books()


TIERS = """{ me { tier points { tier { name } } } }"""


async def test_me_tier_and_the_points_tier_are_one_answer(
    runtime: Runtime, member: Shopper
) -> None:
    """Issue 14: `me { tier }` said STANDARD (a member column nobody moved) while
    `me { points { tier } }` said MEMBER (the loyalty account's). Now both read the account."""

    async def tiers() -> tuple[str, str]:
        me = (await member.api.data(TIERS))["me"]
        return me["tier"], me["points"]["tier"]["name"]

    assert await tiers() == ("MEMBER", "MEMBER")  # no account yet: the first tier
    await purchase(runtime, member.key, 120_000, "order-big")  # 1,200 yuan of growth
    assert await tiers() == ("SILVER", "SILVER")
