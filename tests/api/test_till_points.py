"""Till sales earn points on what the till charged, and a sale above the per-sale cap waits
for a store manager or CS (issue 12, item 1). Before, a POS device sold 4,000 units of a
¥238 variant it did not have to a member, who went from 119 to 1,904,119 points and to
DIAMOND: points came from catalog price times quantity, with nothing to stop them."""

from __future__ import annotations

from typing import Any

import pytest

from api.relay import encode_id
from domain.identity.model import StaffRole
from domain.locations.model import Location
from domain.loyalty.model import MAX_POINTS
from infra.db.models.loyalty import PointsClaimRow, PointsEntryRow
from infra.runtime import Runtime
from tests.support.api import Api
from tests.support.orders import make_variants
from tests.support.world import World, principals, staff_token

SALE = """mutation($input: RecordPosSalesInput!) { recordPosSales(input: $input) {
  lines { quantity takenFromStock } discrepancies replayed pointsEarned pointsPending
  pointsClaimId errors { code field message } } }"""
POINTS = """query($id: ID!) { member(id: $id) { tier points { balance tier { name } } } }"""
CLAIMS = """query($l: ID, $s: PointsClaimState) { pointsClaims(locationId: $l, state: $s) {
  nodes { id memberId paid points state decidedBy reason } } }"""
CLAIM_FIELDS = "claim { id state points decidedBy reason } errors { code field message }"
APPROVE = f"""mutation($input: DecidePointsClaimInput!) {{
  approvePointsClaim(input: $input) {{ {CLAIM_FIELDS} }} }}"""
REJECT = f"""mutation($input: DecidePointsClaimInput!) {{
  rejectPointsClaim(input: $input) {{ {CLAIM_FIELDS} }} }}"""

BAG = 23_800  # fen: the ¥238 variant of the report


@pytest.fixture
async def world(api: Api, runtime: Runtime, stores: dict[str, Location]) -> World:
    return await principals(api, runtime, stores)


def as_(world: World, who: str) -> Api:
    return world.api.as_(world.tokens[who])


async def sell(
    world: World, who: str, tx: str, lines: list[tuple[str, int, int]], member: bool = True
) -> dict[str, Any]:
    variables = {
        "input": {
            "locationId": world.store("SH-A"),
            "posTransactionId": tx,
            "lines": [{"variantId": v, "quantity": q, "lineTotal": t} for v, q, t in lines],
            "memberId": world.member_a.id if member else None,
        }
    }
    payload: dict[str, Any] = (await as_(world, who).data(SALE, variables))["recordPosSales"]
    return payload


async def points_of(world: World) -> tuple[int, str]:
    member = (await as_(world, "admin").data(POINTS, {"id": world.member_a.id}))["member"]
    return member["points"]["balance"], member["points"]["tier"]["name"]


async def bag(runtime: Runtime) -> str:
    (variant,) = await make_variants(runtime, ("BAG-238", "tote", BAG))
    return encode_id("Variant", variant.id)


async def test_points_come_from_what_the_till_charged(world: World, runtime: Runtime) -> None:
    tote = await bag(runtime)
    # Two totes at ¥238 rung up for ¥100 after the till's own discount: 100 points, not 476.
    sale = await sell(world, "pos_a", "T-1", [(tote, 2, 10_000)])
    assert sale["errors"] == [] and sale["pointsEarned"] == 100 and sale["pointsPending"] == 0
    assert await points_of(world) == (100, "MEMBER")
    # A free gift earns nothing, and is still a sale (it left the shelf).
    gift = await sell(world, "pos_a", "T-2", [(world.variant, 1, 0)])
    assert gift["errors"] == [] and gift["pointsEarned"] == 0
    assert gift["lines"] == [{"quantity": 1, "takenFromStock": 1}]
    assert await points_of(world) == (100, "MEMBER")


async def test_a_sale_above_the_cap_is_recorded_and_its_points_wait(
    world: World, runtime: Runtime
) -> None:
    """The reported attack: 4,000 totes the store does not have, with a member."""
    tote = await bag(runtime)
    sale = await sell(world, "pos_a", "T-ATTACK", [(tote, 4_000, 4_000 * BAG)])
    assert sale["errors"] == [], sale
    # The sale is a fact: stock went below zero as a discrepancy to recount.
    assert sale["lines"] == [{"quantity": 4_000, "takenFromStock": 0}]
    assert sale["discrepancies"] == 1
    # Its 952,000 points wait; the member has nothing yet, and no tier jump.
    assert (sale["pointsEarned"], sale["pointsPending"]) == (0, 952_000)
    assert await points_of(world) == (0, "MEMBER")
    assert await PointsEntryRow.filter(kind="EARN").count() == 0

    # A replay of the transaction answers the same, with no second claim.
    again = await sell(world, "pos_a", "T-ATTACK", [(tote, 4_000, 4_000 * BAG)])
    assert again["replayed"] is True
    assert (again["pointsPending"], again["pointsClaimId"]) == (952_000, sale["pointsClaimId"])
    assert await PointsClaimRow.all().count() == 1

    # SH-A's manager sees the claim; a manager of another store neither sees nor decides it.
    listed = (await as_(world, "manager_a").data(CLAIMS, {}))["pointsClaims"]["nodes"]
    assert [(c["id"], c["points"], c["state"]) for c in listed] == [
        (sale["pointsClaimId"], 952_000, "PENDING")
    ]
    b = world.stores["SH-B"]
    manager_b = world.api.as_(await staff_token(runtime, "manager-b", StaffRole.STORE_MANAGER, [b]))
    assert (await manager_b.data(CLAIMS, {}))["pointsClaims"]["nodes"] == []
    decision = {"input": {"claimId": sale["pointsClaimId"], "reason": "checked the receipt"}}
    refused = (await manager_b.data(APPROVE, decision))["approvePointsClaim"]
    assert [e["code"] for e in refused["errors"]] == ["NOT_FOUND"]
    # Clerks and the till itself cannot approve what they rang up.
    for who in ("clerk_a", "pos_a"):
        body = await as_(world, who)(APPROVE, decision)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], body
    assert await points_of(world) == (0, "MEMBER")

    # The manager approves: points and growth count now, recorded with the manager's name.
    approved = (await as_(world, "manager_a").data(APPROVE, decision))["approvePointsClaim"]
    assert approved["errors"] == [] and approved["claim"]["state"] == "APPROVED"
    assert approved["claim"]["decidedBy"].startswith("STAFF:")
    assert await points_of(world) == (952_000, "DIAMOND")
    [entry] = await PointsEntryRow.filter(kind="EARN")
    assert entry.actor == approved["claim"]["decidedBy"]
    # Approving again answers the same claim and earns nothing more; rejecting now cannot.
    twice = (await as_(world, "cs_agent").data(APPROVE, decision))["approvePointsClaim"]
    assert twice["errors"] == [] and twice["claim"] == approved["claim"]
    late = (await as_(world, "cs_agent").data(REJECT, decision))["rejectPointsClaim"]
    assert [e["code"] for e in late["errors"]] == ["CLAIM_ALREADY_DECIDED"]
    assert await points_of(world) == (952_000, "DIAMOND")
    assert await PointsEntryRow.filter(kind="EARN").count() == 1
    assert (await as_(world, "manager_a").data(CLAIMS, {}))["pointsClaims"]["nodes"] == []


async def test_a_rejected_claim_earns_nothing(world: World, runtime: Runtime) -> None:
    tote = await bag(runtime)
    sale = await sell(world, "clerk_a", "T-3", [(tote, 30, 30 * BAG)])  # 7,140 points > 5,000
    assert (sale["pointsEarned"], sale["pointsPending"]) == (0, 7_140)
    claim = sale["pointsClaimId"]
    cs = as_(world, "cs_agent")
    no_reason = (await cs.data(REJECT, {"input": {"claimId": claim}}))["rejectPointsClaim"]
    assert [(e["code"], e["field"]) for e in no_reason["errors"]] == [("INVALID_INPUT", ["reason"])]
    rejected = (await cs.data(REJECT, {"input": {"claimId": claim, "reason": "no receipt"}}))[
        "rejectPointsClaim"
    ]
    assert rejected["errors"] == [] and rejected["claim"]["state"] == "REJECTED"
    assert rejected["claim"]["reason"] == "no receipt"
    approve = (await as_(world, "manager_a").data(APPROVE, {"input": {"claimId": claim}}))[
        "approvePointsClaim"
    ]
    assert [e["code"] for e in approve["errors"]] == ["CLAIM_ALREADY_DECIDED"]
    assert await points_of(world) == (0, "MEMBER")
    decided = (await cs.data(CLAIMS, {"s": "REJECTED"}))["pointsClaims"]["nodes"]
    assert [c["id"] for c in decided] == [claim]


async def test_a_sale_worth_more_than_any_entry_is_still_recorded(
    world: World, runtime: Runtime
) -> None:
    """100 lines of 9,999 units at ¥238 would earn 238 million points, above what one ledger
    entry may carry: the sale is recorded and its claim holds the most an entry may."""
    variants = await make_variants(
        runtime, *((f"BULK-{n:03}", f"bulk {n}", BAG) for n in range(100))
    )
    lines = [(encode_id("Variant", v.id), 9_999, 9_999 * BAG) for v in variants]
    sale = await sell(world, "pos_a", "T-BULK", lines)
    assert sale["errors"] == [], sale
    assert sale["discrepancies"] == 100
    assert (sale["pointsEarned"], sale["pointsPending"]) == (0, MAX_POINTS)
    assert await points_of(world) == (0, "MEMBER")


async def test_bad_till_lines_change_nothing(world: World, runtime: Runtime) -> None:
    tote = await bag(runtime)
    for lines, code, field in (
        ([(tote, 10_000, 0)], "INVALID_QUANTITY", ["lines", "0", "quantity"]),
        ([(tote, 1, -1)], "INVALID_INPUT", ["lines", "0", "lineTotal"]),
        # more than twice the catalog price: a typo that would pay out points
        (
            [(world.variant, 1, 0), (tote, 1, 2 * BAG + 1)],
            "INVALID_INPUT",
            ["lines", "1", "lineTotal"],
        ),
    ):
        refused = await sell(world, "pos_a", "T-BAD", lines)
        assert [(e["code"], e["field"]) for e in refused["errors"]] == [(code, field)], refused
    ok = await sell(world, "pos_a", "T-BAD", [(tote, 1, 2 * BAG)])
    assert ok["errors"] == [] and ok["replayed"] is False and ok["pointsEarned"] == 476
