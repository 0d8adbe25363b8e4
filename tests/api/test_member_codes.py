"""The member code at the till (issue 16, "At the till"): the member shows a short-lived signed
code; the till looks the member up with it and sees their points, and an order the till places
with it may spend them, once. Replayed, expired, forged and foreign codes are refused."""

from __future__ import annotations

import asyncio
import base64
from datetime import datetime, timedelta
from typing import Any

import pytest

from api.relay import decode_id, encode_id
from domain.aftersales.member_codes import issue_member_code
from domain.identity.model import DeviceKind
from domain.locations.model import Location
from domain.loyalty.ledger import credit
from domain.loyalty.model import EntryKind
from domain.promotions.coupons import claim_coupon
from domain.promotions.coupons_model import CouponKind, CouponRules
from infra.db.models.coupons import CouponRow
from infra.db.models.inventory import PosTransactionRow
from infra.db.models.member_codes import MemberCodeUseRow
from infra.db.models.orders import OrderRow
from infra.runtime import Runtime
from infra.security.signing import HmacSigner
from tests.support import MovableClock, is_postgres
from tests.support.api import Api
from tests.support.coupons import member as coupon_member
from tests.support.coupons import template as coupon_template
from tests.support.orders import level, make_variants, receive
from tests.support.payloads import refusal
from tests.support.shoppers import Shopper, shopper
from tests.support.world import device_token

BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
CODE = "{ me { id memberCode { code expiresAt } } }"
LOOKUP = """query($code: String, $phone: String) {
  lookupMember(input: {memberCode: $code, phone: $phone}) {
    id displayName points { balance held available } } }"""
PLACE = """mutation($input: PlaceOrderInput!) { placeOrder(input: $input) {
  order { id status channel pointsRedeemed amountDue { amount } }
  errors { code field message } } }"""
POINTS = "{ me { points { balance held available } } }"
MERGE = """mutation($s: ID!, $t: ID!) { mergeMembers(input: {sourceMemberId: $s,
  targetMemberId: $t, reason: "same person"}) { errors { code } } }"""


@pytest.fixture
async def till(api: Api, runtime: Runtime, stores: dict[str, Location]) -> Api:
    return api.as_(await device_token(runtime, stores["SH-A"], DeviceKind.POS))


@pytest.fixture
async def variant(runtime: Runtime, stores: dict[str, Location]) -> str:
    (tea,) = await make_variants(runtime, ("TEA-1", "box", 1990))
    await receive(runtime, stores["SH-A"].id, tea, 20)
    return encode_id("Variant", tea.id)


async def member_with_points(api: Api, runtime: Runtime, openid: str, points: int) -> Shopper:
    member = await shopper(api, openid)
    async with runtime.loyalty.uow() as uow:
        await credit(
            runtime.loyalty,
            uow,
            member.key,
            points,
            EntryKind.ADJUST,
            "test",
            "TEST",
            "seed",
            openid,
        )
    return member


async def code_of(member: Shopper) -> dict[str, Any]:
    code: dict[str, Any] = (await member.api.data(CODE))["me"]["memberCode"]
    return code


def order_input(
    stores: dict[str, Location], variant: str, code: str | None, points: int = 0, **more: Any
) -> dict[str, Any]:
    return {
        "channel": "POS",
        "lines": [{"variantId": variant, "quantity": 2}],
        "fulfilment": {"pickup": {"locationId": encode_id("Location", stores["SH-A"].id)}},
        "memberCode": code,
        "pointsToRedeem": points,
        **more,
    }


async def place(caller: Api, input_: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = (await caller.data(PLACE, {"input": input_}))["placeOrder"]
    return payload


async def lookup_error(till: Api, code: str) -> tuple[str, Any]:
    body = await till(LOOKUP, {"code": code})
    [error] = body["errors"]
    return error["extensions"]["code"], body["data"]["lookupMember"]


async def points_of(member: Shopper) -> tuple[int, int, int]:
    p = (await member.api.data(POINTS))["me"]["points"]
    return p["balance"], p["held"], p["available"]


async def owner(order: dict[str, Any]) -> Any:
    return (await OrderRow.get(id=decode_id(order["id"], "Order"))).member_id


async def test_a_member_code_shows_the_member_and_their_points_at_the_till(
    api: Api, runtime: Runtime, clock: MovableClock, till: Api, admin: Api
) -> None:
    member = await member_with_points(api, runtime, "code-1", 1000)
    issued = await code_of(member)
    # 42 characters of the QR alphanumeric set, valid for a minute from the clock's now.
    assert len(issued["code"]) == 42 and set(issued["code"]) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    )
    expires = datetime.fromisoformat(issued["expiresAt"])
    assert clock.now() < expires <= clock.now() + timedelta(seconds=60)

    found = (await till.data(LOOKUP, {"code": issued["code"]}))["lookupMember"]
    assert found["id"] == member.id
    assert found["points"] == {"balance": 1000, "held": 0, "available": 1000}
    # The till reads a code the member's app shows in lower case, or with spaces, too.
    again = (await till.data(LOOKUP, {"code": f" {issued['code'].lower()} "}))["lookupMember"]
    assert again["points"]["balance"] == 1000
    # Only the member reads their code: CS sees the member, never a code to spend with.
    other = (
        await admin.data(
            "query($id: ID!) { member(id: $id) { memberCode { code } } }", {"id": member.id}
        )
    )["member"]
    assert other == {"memberCode": None}
    # One of phone, card or code.
    body = await till(LOOKUP, {"code": issued["code"], "phone": "13800138000"})
    assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


async def test_the_till_redeems_with_the_code_once(
    api: Api,
    runtime: Runtime,
    clock: MovableClock,
    stores: dict[str, Location],
    till: Api,
    variant: str,
) -> None:
    member = await member_with_points(api, runtime, "code-2", 1000)
    issued = (await code_of(member))["code"]
    # Without a code the till may order for the member but not spend their points (as before).
    refused = await place(till, order_input(stores, variant, None, 300, memberId=member.id))
    assert refusal(refused) == ("FORBIDDEN", ["pointsToRedeem"])

    first = await place(till, order_input(stores, variant, issued, 300, idempotencyKey="k-1"))
    assert first["errors"] == [], first
    order = first["order"]
    assert await owner(order) == member.key and order["channel"] == "POS"
    assert (order["pointsRedeemed"], order["amountDue"]["amount"]) == (300, 2 * 1990 - 300)
    assert await points_of(member) == (1000, 300, 700)

    # A retry of the same request answers the same order; the code is not spent twice.
    retry = await place(till, order_input(stores, variant, issued, 300, idempotencyKey="k-1"))
    assert retry["errors"] == [] and retry["order"]["id"] == order["id"]
    # Any other use of the code is a replay: refused, nothing held, no order.
    for replay in (
        order_input(stores, variant, issued, 300),
        order_input(stores, variant, issued, 0, idempotencyKey="k-2"),
    ):
        assert refusal(await place(till, replay)) == ("MEMBER_CODE_USED", ["memberCode"])
    assert await lookup_error(till, issued) == ("MEMBER_CODE_USED", None)
    assert await OrderRow.all().count() == 1 and await MemberCodeUseRow.all().count() == 1
    assert await points_of(member) == (1000, 300, 700)

    # The member's next code works (a new minute, a new code).
    clock.advance(timedelta(seconds=61))
    fresh = (await code_of(member))["code"]
    assert fresh != issued
    second = await place(till, order_input(stores, variant, fresh, 200))
    assert second["errors"] == [] and await points_of(member) == (1000, 500, 500)


async def test_an_expired_code_is_refused(
    api: Api,
    runtime: Runtime,
    clock: MovableClock,
    stores: dict[str, Location],
    till: Api,
    variant: str,
) -> None:
    member = await member_with_points(api, runtime, "code-3", 1000)
    issued = (await code_of(member))["code"]
    clock.advance(timedelta(seconds=60))
    assert await lookup_error(till, issued) == ("MEMBER_CODE_EXPIRED", None)
    expired = await place(till, order_input(stores, variant, issued, 300))
    assert refusal(expired) == ("MEMBER_CODE_EXPIRED", ["memberCode"])
    assert await OrderRow.all().count() == 0 and await MemberCodeUseRow.all().count() == 0
    assert await points_of(member) == (1000, 0, 1000)


async def test_forged_and_foreign_codes_are_refused(
    api: Api, runtime: Runtime, stores: dict[str, Location], till: Api, variant: str
) -> None:
    a = await member_with_points(api, runtime, "code-4a", 1000)
    b = await member_with_points(api, runtime, "code-4b", 1000)
    issued = (await code_of(a))["code"]
    raw = base64.b32decode(issued + "=" * 6)
    b_id = decode_id(b.id, "Member")
    forged = [
        # A's code with B's id in it, and A's signature.
        base64.b32encode(b_id.bytes + raw[16:]).decode().rstrip("="),
        # A code made with another key (a development key in production, say).
        issue_member_code(_with_signer(runtime, HmacSigner(b"someone else's key")), a.key).code,
        # one character of the signature changed (not the last: its low bits are padding)
        issued[:-3] + ("A" if issued[-3] != "A" else "B") + issued[-2:],
        issued[:20],
        "not a code at all!",
    ]
    for code in forged:
        assert await lookup_error(till, code) == ("INVALID_MEMBER_CODE", None), code
        placed = await place(till, order_input(stores, variant, code, 300))
        assert refusal(placed) == ("INVALID_MEMBER_CODE", ["memberCode"]), code
    # A's real code with B named as the member: refused, not spent.
    mixed = await place(till, order_input(stores, variant, issued, 300, memberId=b.id))
    assert refusal(mixed) == ("INVALID_MEMBER_CODE", ["memberCode"])
    # A member cannot use a code (their own sign-in spends their points).
    own = await place(
        a.api, {**order_input(stores, variant, issued, 300), "channel": "MINI_PROGRAM"}
    )
    assert refusal(own) == ("FORBIDDEN", ["memberCode"])
    assert await OrderRow.all().count() == 0 and await MemberCodeUseRow.all().count() == 0
    assert await points_of(a) == await points_of(b) == (1000, 0, 1000)
    # The code still works for its member.
    assert (await place(till, order_input(stores, variant, issued, 300)))["errors"] == []


def _with_signer(runtime: Runtime, signer: HmacSigner) -> Any:
    from dataclasses import replace

    return replace(runtime.member_codes, signer=signer)


async def test_wrong_codes_are_rate_limited_per_device(
    api: Api, runtime: Runtime, stores: dict[str, Location], till: Api
) -> None:
    member = await member_with_points(api, runtime, "code-5", 10)
    policy = runtime.member_codes.policy
    right = (await code_of(member))["code"]
    for _ in range(policy.lookups_per_device - 1):
        assert (await lookup_error(till, "A" * 42))[0] == "INVALID_MEMBER_CODE"
        # Right codes are not guesses: they do not count.
        assert (await till.data(LOOKUP, {"code": right}))["lookupMember"]["id"] == member.id
    assert (await lookup_error(till, "A" * 42))[0] == "INVALID_MEMBER_CODE"
    # The limit is reached: now even a right code waits.
    assert (await lookup_error(till, right))[0] == "TOO_MANY_ATTEMPTS"
    # Another till of the store is not locked out.
    other = api.as_(await device_token(runtime, stores["SH-A"], DeviceKind.POS))
    assert (await other.data(LOOKUP, {"code": right}))["lookupMember"]["id"] == member.id


async def test_a_code_issued_before_a_merge_is_the_survivors(
    api: Api, runtime: Runtime, stores: dict[str, Location], till: Api, variant: str, admin: Api
) -> None:
    source = await member_with_points(api, runtime, "code-6a", 400)
    target = await member_with_points(api, runtime, "code-6b", 600)
    issued = (await code_of(source))["code"]
    merged = await admin.data(MERGE, {"s": source.id, "t": target.id})
    assert merged["mergeMembers"]["errors"] == []
    found = (await till.data(LOOKUP, {"code": issued}))["lookupMember"]
    assert found["id"] == target.id and found["points"]["balance"] == 1000
    placed = await place(till, order_input(stores, variant, issued, 300, memberId=source.id))
    assert placed["errors"] == [] and await owner(placed["order"]) == target.key
    assert await points_of(target) == (1000, 300, 700)


async def test_two_tills_racing_with_one_code_make_one_order(
    api: Api, runtime: Runtime, stores: dict[str, Location], till: Api, variant: str
) -> None:
    if not is_postgres(runtime.settings.database_url):
        pytest.skip("concurrency on PostgreSQL (SQLite serialises writers)")
    member = await member_with_points(api, runtime, "code-7", 1000)
    issued = (await code_of(member))["code"]
    tills = [till] + [
        api.as_(await device_token(runtime, stores["SH-A"], DeviceKind.POS)) for _ in range(7)
    ]
    results = await asyncio.gather(
        *(place(t, order_input(stores, variant, issued, 300)) for t in tills)
    )
    won = [r for r in results if r["errors"] == []]
    assert len(won) == 1, results
    lost = [refusal(r) for r in results if r not in won]
    assert lost == [("MEMBER_CODE_USED", ["memberCode"])] * (len(tills) - 1)
    assert await OrderRow.all().count() == 1 and await MemberCodeUseRow.all().count() == 1
    assert await points_of(member) == (1000, 300, 700)


SALE = """mutation($input: RecordPosSalesInput!) { recordPosSales(input: $input) {
  replayed pointsRedeemed pointsEarned lines { quantity takenFromStock }
  errors { code field message } } }"""


def sale_input(
    stores: dict[str, Location], variant: str, tx: str, code: str | None, points: int
) -> dict[str, Any]:
    return {
        "locationId": encode_id("Location", stores["SH-A"].id),
        "posTransactionId": tx,
        "lines": [{"variantId": variant, "quantity": 2, "lineTotal": 2 * 1990}],
        "memberCode": code,
        "pointsToRedeem": points,
    }


async def sell(till: Api, input_: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = (await till.data(SALE, {"input": input_}))["recordPosSales"]
    return payload


async def test_a_till_sale_spends_points_with_the_code_once(
    api: Api,
    runtime: Runtime,
    clock: MovableClock,
    stores: dict[str, Location],
    till: Api,
    variant: str,
) -> None:
    member = await member_with_points(api, runtime, "code-8", 1000)
    issued = (await code_of(member))["code"]
    tea = await runtime.repos.catalog.get_variant(decode_id(variant, "Variant"))
    assert tea is not None
    # Points only with the code; at most half of what the till charged; no more than there are.
    refusals = [
        (sale_input(stores, variant, "T-0", None, 500), ("FORBIDDEN", ["pointsToRedeem"])),
        (sale_input(stores, variant, "T-0", issued, -1), ("INVALID_INPUT", ["pointsToRedeem"])),
        (
            sale_input(stores, variant, "T-0", issued, 2_000),
            ("POINTS_CAP_EXCEEDED", ["pointsToRedeem"]),
        ),
    ]
    poorer = await member_with_points(api, runtime, "code-8b", 100)
    poorer_code = (await code_of(poorer))["code"]
    refusals.append(
        (
            sale_input(stores, variant, "T-0", poorer_code, 500),
            ("INSUFFICIENT_POINTS", ["pointsToRedeem"]),
        )
    )
    for input_, expected in refusals:
        refused = await sell(till, input_)
        assert [(e["code"], e["field"]) for e in refused["errors"]] == [expected], input_
    # Refused sales changed nothing: no transaction, no stock taken, no code used.
    assert await MemberCodeUseRow.all().count() == await PosTransactionRow.all().count() == 0
    assert await level(runtime, stores["SH-A"].id, tea) == (20, 0)
    assert await points_of(member) == (1000, 0, 1000) and await points_of(poorer) == (100, 0, 100)

    # ¥39.80 at the till, 500 points pay ¥5: points are earned on the ¥34.80 paid in money.
    sale = await sell(till, sale_input(stores, variant, "T-1", issued, 500))
    assert sale["errors"] == [], sale
    assert (sale["pointsRedeemed"], sale["pointsEarned"], sale["replayed"]) == (500, 34, False)
    assert await points_of(member) == (1000 - 500 + 34, 0, 534)
    # The till retries the same transaction after the code expired: the first answer.
    clock.advance(timedelta(minutes=5))
    again = await sell(till, sale_input(stores, variant, "T-1", issued, 500))
    assert again["replayed"] is True and again["pointsRedeemed"] == 500
    clock.reset()
    # Another sale with the same code is a replay of the consent: refused, nothing recorded.
    replay = await sell(till, sale_input(stores, variant, "T-2", issued, 100))
    assert [(e["code"], e["field"]) for e in replay["errors"]] == [
        ("MEMBER_CODE_USED", ["memberCode"])
    ]
    assert await points_of(member) == (534, 0, 534)
    assert await MemberCodeUseRow.all().count() == await PosTransactionRow.all().count() == 1
    assert await level(runtime, stores["SH-A"].id, tea) == (18, 0)


async def test_a_retried_till_order_is_answered_after_its_code_expired(
    api: Api,
    runtime: Runtime,
    clock: MovableClock,
    stores: dict[str, Location],
    till: Api,
    variant: str,
) -> None:
    member = await member_with_points(api, runtime, "code-9", 1000)
    issued = (await code_of(member))["code"]
    first = await place(till, order_input(stores, variant, issued, 300, idempotencyKey="k-9"))
    assert first["errors"] == [], first
    clock.advance(timedelta(minutes=5))
    retry = await place(till, order_input(stores, variant, issued, 300, idempotencyKey="k-9"))
    assert retry["errors"] == [] and retry["order"]["id"] == first["order"]["id"]
    late = await place(till, order_input(stores, variant, issued, 300, idempotencyKey="k-10"))
    assert refusal(late) == ("MEMBER_CODE_EXPIRED", ["memberCode"])
    assert await OrderRow.all().count() == 1


async def test_tills_racing_with_one_code_record_one_sale_with_points(
    api: Api, runtime: Runtime, stores: dict[str, Location], till: Api, variant: str
) -> None:
    if not is_postgres(runtime.settings.database_url):
        pytest.skip("concurrency on PostgreSQL (SQLite serialises writers)")
    member = await member_with_points(api, runtime, "code-10", 1000)
    issued = (await code_of(member))["code"]
    tills = [till] + [
        api.as_(await device_token(runtime, stores["SH-A"], DeviceKind.POS)) for _ in range(5)
    ]
    results = await asyncio.gather(
        *(sell(t, sale_input(stores, variant, f"T-{n}", issued, 500)) for n, t in enumerate(tills))
    )
    won = [r for r in results if r["errors"] == []]
    assert len(won) == 1 and won[0]["pointsRedeemed"] == 500, results
    lost = [[(e["code"], e["field"]) for e in r["errors"]] for r in results if r not in won]
    assert lost == [[("MEMBER_CODE_USED", ["memberCode"])]] * (len(tills) - 1)
    assert await PosTransactionRow.all().count() == await MemberCodeUseRow.all().count() == 1
    assert await points_of(member) == (534, 0, 534)


async def test_the_till_that_read_the_code_sees_the_members_usable_coupons(
    api: Api, runtime: Runtime, till: Api
) -> None:
    member = await member_with_points(api, runtime, "code-coupons", 10)
    offered = await coupon_template(runtime)
    await claim_coupon(runtime.coupons, coupon_member(member.key), offered.id)
    issued = await code_of(member)
    query = """query($code: String, $phone: String, $s: CouponListStatus! = AVAILABLE) {
      lookupMember(input: {memberCode: $code, phone: $phone}) {
        coupons(status: $s) { edges { node { name } } } } }"""
    found = (await till.data(query, {"code": issued["code"]}))["lookupMember"]
    assert [e["node"]["name"] for e in found["coupons"]["edges"]] == ["¥20 off ¥99"]
    # Only the usable ones, and only with the member's code (their consent).
    used = (await till.data(query, {"code": issued["code"], "s": "USED"}))["lookupMember"]
    assert used["coupons"] is None


async def test_the_till_order_spends_a_coupon_only_with_the_members_code(
    api: Api, runtime: Runtime, till: Api, stores: dict[str, Location], variant: str
) -> None:
    member = await member_with_points(api, runtime, "code-coupon-spend", 10)
    offered = await coupon_template(
        runtime, rules=CouponRules(CouponKind.NO_THRESHOLD, amount_off=500)
    )
    coupon, _ = await claim_coupon(runtime.coupons, coupon_member(member.key), offered.id)
    coupon_id = encode_id("Coupon", coupon.id)
    # Naming the member is not their consent: their coupon stays theirs.
    named = order_input(stores, variant, None, memberId=member.id, couponIds=[coupon_id])
    refused = await place(till, named)
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("FORBIDDEN", ["couponIds"])]
    issued = await code_of(member)
    placed = await place(till, order_input(stores, variant, issued["code"], couponIds=[coupon_id]))
    assert placed["errors"] == [], placed
    assert placed["order"]["amountDue"] == {"amount": 2 * 1990 - 500}
    stored = await CouponRow.get(id=coupon.id)
    assert (stored.status.value, stored.order_id, stored.discount) == (
        "HELD",
        decode_id(placed["order"]["id"], "Order"),
        500,
    )
