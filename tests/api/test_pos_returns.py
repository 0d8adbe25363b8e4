"""In-store returns at the till (issue 16, `recordPosReturn`): units of a till sale come back
at the store that sold them, with or without a member. Resaleable units go back on the shelf
and damaged ones are written off (both in the ledger), the till pays back the units' share of
what was paid in money, and a member gets back the points redeemed on them and loses those
earned on them. Never more units than sold less those returned; a retry changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from api.relay import decode_id, encode_id
from domain.locations.model import Location
from domain.loyalty.ledger import credit
from domain.loyalty.model import EntryKind
from infra.db.models.inventory import MovementRow
from infra.db.models.till_returns import PosReturnRow
from infra.runtime import Runtime
from tests.support import count_sql
from tests.support.api import Api
from tests.support.orders import level, make_variants
from tests.support.world import World, principals

SALE = """mutation($input: RecordPosSalesInput!) { recordPosSales(input: $input) {
  pointsEarned pointsRedeemed errors { code field message } } }"""
RETURN = """mutation($input: RecordPosReturnInput!) { recordPosReturn(input: $input) {
  posReturn { id posTransactionId memberId refundMethod refundAmount pointsReturned
    pointsReversed reason lines { variantId condition quantity refundAmount pointsReturned } }
  errors { code field message } } }"""
RETURNS = """query($l: ID!, $first: Int, $after: String) {
  posReturns(locationId: $l, first: $first, after: $after) {
    nodes { id refundAmount } pageInfo { hasNextPage endCursor } } }"""
CODE = "{ me { memberCode { code } } }"
POINTS = "{ me { points { balance } } }"


@pytest.fixture
async def world(api: Api, runtime: Runtime, stores: dict[str, Location]) -> World:
    return await principals(api, runtime, stores)


def as_(world: World, who: str) -> Api:
    return world.api.as_(world.tokens[who])


async def sell(world: World, tx: str, lines: list[tuple[str, int, int]], **more: Any) -> Any:
    variables = {
        "input": {
            "locationId": world.store("SH-A"),
            "posTransactionId": tx,
            "lines": [{"variantId": v, "quantity": q, "lineTotal": t} for v, q, t in lines],
            **more,
        }
    }
    payload = (await as_(world, "pos_a").data(SALE, variables))["recordPosSales"]
    assert payload["errors"] == [], payload
    return payload


def return_input(
    world: World, tx: str, lines: list[tuple[str, int, str]], **more: Any
) -> dict[str, Any]:
    return {
        "locationId": world.store("SH-A"),
        "posTransactionId": tx,
        "lines": [{"variantId": v, "quantity": q, "condition": c} for v, q, c in lines],
        "refundMethod": "CASH",
        "reason": "changed their mind",
        **more,
    }


async def give_back(world: World, input_: dict[str, Any], who: str = "pos_a") -> Any:
    return (await as_(world, who).data(RETURN, {"input": input_}))["recordPosReturn"]


async def returned(world: World, input_: dict[str, Any], who: str = "pos_a") -> Any:
    payload = await give_back(world, input_, who)
    assert payload["errors"] == [], payload
    return payload["posReturn"]


def refused(payload: dict[str, Any]) -> tuple[str, list[str]]:
    assert payload["posReturn"] is None and len(payload["errors"]) == 1, payload
    return payload["errors"][0]["code"], payload["errors"][0]["field"]


async def movements(pos_return: dict[str, Any]) -> list[tuple[str, int]]:
    reference = f"pos-return:{decode_id(pos_return['id'], 'PosReturn')}"
    rows = await MovementRow.filter(reference=reference).order_by("kind")
    return [(row.kind.value, row.on_hand_delta) for row in rows]


async def test_a_walk_in_returns_part_of_a_sale_and_never_more_than_sold(
    world: World, runtime: Runtime
) -> None:
    sh_a = world.stores["SH-A"]
    (tea,) = await make_variants(runtime, ("TEA-1", "box", 1000))
    mango, tea_id = world.variant, encode_id("Variant", tea.id)
    # Three mangoes rung up for 29.90 together (not a multiple of 3), a tea for 10.00.
    await sell(world, "T-1", [(mango, 3, 2990), (tea_id, 1, 1000)])
    assert await level(runtime, sh_a.id, world.mango) == (47, 0)

    first = await returned(
        world,
        return_input(world, "T-1", [(mango, 1, "RESALEABLE"), (mango, 1, "DAMAGED")]),
    )
    # Two of three units: the floor of 2/3 of 2990; one unit each, in the order given.
    assert first["refundAmount"] == 2990 * 2 // 3 == 1993
    assert [(x["condition"], x["quantity"], x["refundAmount"]) for x in first["lines"]] == [
        ("RESALEABLE", 1, 996),
        ("DAMAGED", 1, 997),
    ]
    assert (first["memberId"], first["pointsReturned"], first["pointsReversed"]) == (None, 0, 0)
    assert (first["posTransactionId"], first["refundMethod"]) == ("T-1", "CASH")
    # Both units came in (RETURN +2), the damaged one was written off (ADJUSTMENT -1).
    assert await movements(first) == [("ADJUSTMENT", -1), ("RETURN", 2)]
    assert await level(runtime, sh_a.id, world.mango) == (48, 0)

    # One mango is left to return: two are refused, naming the line, and nothing changes.
    again = await give_back(world, return_input(world, "T-1", [(mango, 2, "RESALEABLE")]))
    assert refused(again) == ("QUANTITY_EXCEEDED", ["lines", "0", "quantity"])
    assert await level(runtime, sh_a.id, world.mango) == (48, 0)
    # The last one gets the rest: all returns of the line add up to what it was charged.
    last = await returned(
        world,
        return_input(
            world, "T-1", [(mango, 1, "RESALEABLE"), (tea_id, 1, "RESALEABLE")], refundMethod="CARD"
        ),
    )
    assert last["refundAmount"] == (2990 - 1993) + 1000
    assert last["refundMethod"] == "CARD"
    assert await level(runtime, sh_a.id, world.mango) == (49, 0)
    # The tea was sold with none in the system (a discrepancy): the returned one is on the shelf.
    assert await level(runtime, sh_a.id, tea) == (1, 0)
    exhausted = await give_back(world, return_input(world, "T-1", [(tea_id, 1, "RESALEABLE")]))
    assert refused(exhausted) == ("QUANTITY_EXCEEDED", ["lines", "0", "quantity"])

    # The store's returns, newest first, a page at a time.
    page = (await as_(world, "clerk_a").data(RETURNS, {"l": world.store("SH-A"), "first": 1}))[
        "posReturns"
    ]
    assert [x["id"] for x in page["nodes"]] == [last["id"]] and page["pageInfo"]["hasNextPage"]
    rest = (
        await as_(world, "cs_agent").data(
            RETURNS, {"l": world.store("SH-A"), "after": page["pageInfo"]["endCursor"]}
        )
    )["posReturns"]
    assert [x["id"] for x in rest["nodes"]] == [first["id"]]
    assert not rest["pageInfo"]["hasNextPage"]
    # Its statements do not grow with the page (the lines of every return: one more).
    counted = []
    for size in (1, 2):
        with count_sql() as statements:
            data = await as_(world, "clerk_a").data(
                RETURNS, {"l": world.store("SH-A"), "first": size}
            )
        counted.append((len(statements), len(data["posReturns"]["nodes"])))
    assert counted[0][0] == counted[1][0] and [n for _, n in counted] == [1, 2], counted


async def test_a_members_return_gives_back_redeemed_points_and_takes_back_earned_ones(
    world: World, runtime: Runtime
) -> None:
    member = world.member_a
    async with runtime.loyalty.uow() as uow:
        await credit(
            runtime.loyalty, uow, member.key, 1000, EntryKind.ADJUST, "test", "TEST", "seed", "s"
        )
    (tea,) = await make_variants(runtime, ("TEA-2", "box", 1990))
    mango, tea_id = world.variant, encode_id("Variant", tea.id)
    code = (await member.api.data(CODE))["me"]["memberCode"]["code"]
    # 39.80 and 10.00 charged; 300 points (3.00) pay part of it, allocated to the lines in
    # proportion: 239.76 and 60.24, the remainder point to the larger fraction: 240 and 60.
    sale = await sell(
        world,
        "T-2",
        [(tea_id, 2, 3980), (mango, 1, 1000)],
        memberCode=code,
        pointsToRedeem=300,
    )
    earned = sale["pointsEarned"]
    assert sale["pointsRedeemed"] == 300 and earned == (4980 - 300) // 100
    balance = 1000 - 300 + earned
    assert (await member.api.data(POINTS))["me"]["points"]["balance"] == balance

    one = await returned(world, return_input(world, "T-2", [(tea_id, 1, "RESALEABLE")]))
    # Half the tea line: half of what it was paid in money (3980 - 240), half its points.
    assert (one["refundAmount"], one["pointsReturned"]) == ((3980 - 240) // 2, 120)
    assert one["memberId"] == member.id
    # Earned points go back in proportion to the money paid back.
    assert one["pointsReversed"] == earned * 1870 // 4680
    balance += 120 - one["pointsReversed"]
    assert (await member.api.data(POINTS))["me"]["points"]["balance"] == balance

    rest = await returned(
        world, return_input(world, "T-2", [(tea_id, 1, "DAMAGED"), (mango, 1, "DAMAGED")])
    )
    assert (rest["refundAmount"], rest["pointsReturned"]) == (1870 + (1000 - 60), 120 + 60)
    assert one["pointsReturned"] + rest["pointsReturned"] == 300  # every redeemed point back
    assert one["refundAmount"] + rest["refundAmount"] == 4980 - 300  # every fen paid in money
    balance += 180 - rest["pointsReversed"]
    assert (await member.api.data(POINTS))["me"]["points"]["balance"] == balance


async def test_a_retry_answers_the_first_return_and_changes_nothing(
    world: World, runtime: Runtime
) -> None:
    mango = world.variant
    await sell(world, "T-3", [(mango, 2, 3980)])
    input_ = return_input(world, "T-3", [(mango, 1, "RESALEABLE")], idempotencyKey="r-1")
    first = await returned(world, input_)
    assert (await returned(world, input_))["id"] == first["id"]
    assert await PosReturnRow.all().count() == 1
    assert await level(runtime, world.stores["SH-A"].id, world.mango) == (49, 0)
    # The same key for another return is refused, not applied.
    other = {**input_, "refundMethod": "WECHAT_PAY_QR"}
    assert refused(await give_back(world, other)) == ("IDEMPOTENCY_CONFLICT", ["idempotencyKey"])
    # A new key is a new return: one unit was left.
    second = await returned(world, {**input_, "idempotencyKey": "r-2"})
    assert second["id"] != first["id"] and second["refundAmount"] == 3980 - 1990


async def test_bad_returns_are_refused_with_a_code_and_change_nothing(
    world: World, runtime: Runtime
) -> None:
    mango = world.variant
    await sell(world, "T-4", [(mango, 2, 3980)])
    (other,) = await make_variants(runtime, ("TEA-3", "box", 1000))
    other_id = encode_id("Variant", other.id)
    cases: list[tuple[dict[str, Any], str, tuple[str, list[str]]]] = [
        (
            return_input(world, "NOPE", [(mango, 1, "RESALEABLE")]),
            "pos_a",
            ("NOT_FOUND", ["posTransactionId"]),
        ),
        # The sale was at SH-A: SH-B's staff may not take it back, nor find it from SH-B.
        (
            return_input(world, "T-4", [(mango, 1, "RESALEABLE")]),
            "clerk_b",
            ("FORBIDDEN", ["locationId"]),
        ),
        (
            return_input(world, "T-4", [(mango, 1, "RESALEABLE")], locationId=world.store("SH-B")),
            "admin",
            ("NOT_FOUND", ["posTransactionId"]),
        ),
        (
            return_input(world, "T-4", [(other_id, 1, "RESALEABLE")]),
            "pos_a",
            ("NOT_FOUND", ["lines", "0", "variantId"]),
        ),
        (
            return_input(world, "T-4", [(mango, 3, "RESALEABLE")]),
            "pos_a",
            ("QUANTITY_EXCEEDED", ["lines", "0", "quantity"]),
        ),
        (
            return_input(world, "T-4", [(mango, 2, "RESALEABLE"), (mango, 1, "DAMAGED")]),
            "pos_a",
            ("QUANTITY_EXCEEDED", ["lines", "0", "quantity"]),
        ),
        (
            return_input(world, "T-4", [(mango, 0, "RESALEABLE")]),
            "pos_a",
            ("INVALID_QUANTITY", ["lines", "0", "quantity"]),
        ),
        (
            return_input(world, "T-4", [(mango, 1, "RESALEABLE"), (mango, 1, "RESALEABLE")]),
            "pos_a",
            ("DUPLICATE_VARIANT", ["lines", "1", "variantId"]),
        ),
        (
            return_input(world, "T-4", [(mango, 1, "RESALEABLE")], reason=" "),
            "pos_a",
            ("INVALID_INPUT", ["reason"]),
        ),
        (return_input(world, "T-4", []), "pos_a", ("INVALID_INPUT", ["lines"])),
        (
            return_input(world, "T-4", [("bm90IGFuIGlk", 1, "RESALEABLE")]),
            "pos_a",
            ("INVALID_ID", ["lines", "0", "variantId"]),
        ),
    ]
    for input_, who, expected in cases:
        assert refused(await give_back(world, input_, who)) == expected, input_
    assert await PosReturnRow.all().count() == 0
    assert await MovementRow.filter(reference__startswith="pos-return:").count() == 0
    assert await level(runtime, world.stores["SH-A"].id, world.mango) == (48, 0)
    # CS and kiosks do not take returns; a kiosk does not read them either.
    body = await as_(world, "cs_agent")(
        RETURN, {"input": return_input(world, "T-4", [(mango, 1, "RESALEABLE")])}
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await as_(world, "kiosk_a")(RETURNS, {"l": world.store("SH-A")})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # Everything is still there to return.
    assert (await returned(world, return_input(world, "T-4", [(mango, 2, "DAMAGED")])))[
        "refundAmount"
    ] == 3980


async def test_a_return_after_a_merge_takes_the_points_back_from_the_survivor(
    world: World, runtime: Runtime
) -> None:
    a, b = world.member_a, world.member_b
    await sell(world, "T-5", [(world.variant, 2, 5000)], memberId=a.id)
    merge = """mutation($s: ID!, $t: ID!) { mergeMembers(input: {sourceMemberId: $s,
      targetMemberId: $t, reason: "same person"}) { errors { code } } }"""
    merged = await as_(world, "admin").data(merge, {"s": a.id, "t": b.id})
    assert merged["mergeMembers"]["errors"] == []
    balance = """query($id: ID!) { member(id: $id) { points { balance } } }"""

    async def points_of(member_id: str) -> int:
        found = (await as_(world, "admin").data(balance, {"id": member_id}))["member"]
        return int(found["points"]["balance"])

    assert await points_of(b.id) == 50  # A's points moved to B
    back = await returned(world, return_input(world, "T-5", [(world.variant, 1, "RESALEABLE")]))
    # The sale stays A's; the points earned on half of it leave B's account, which holds them.
    assert (back["memberId"], back["pointsReversed"], back["refundAmount"]) == (a.id, 25, 2500)
    assert await points_of(b.id) == 25
