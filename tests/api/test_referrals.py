"""Referrals (老带新) over the API (issue 18): a member's stable code and share payload; an
invitee's first login with it is attributed, and the hand-over of the invitee's first order
rewards both sides once (points and coupons by key); a full refund of that order takes the
rewards back; refusals (unknown or own code, not a new person, a shared device, an erased
referrer, an erased member returning, a merge) are recorded with a reason and login goes on;
the referrer's monthly cap; ADMIN's programs and their refusals."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from api.relay import decode_id
from domain.catalog.model import Variant
from domain.identity.model import StaffRole
from infra.db.models.coupons import CouponRow
from infra.db.models.referrals import ReferralProgramRow, ReferralRow
from infra.runtime import Runtime
from tests.support.aftersales import approve, asked, line_ids, request_input
from tests.support.api import Api, staff_api
from tests.support.members import send_code
from tests.support.orders import make_variants, receive
from tests.support.referrals import (
    CREATE_PROGRAM,
    ERRORS,
    SHARE,
    balance,
    code_of,
    create_program,
    handed_over,
    invited,
    program_input,
    referrals_of,
)
from tests.support.shoppers import Shopper, shopper

PRICE = 5000  # fen: the first order is ¥50.00
CS_VIEW = """query($id: ID!) { node(id: $id) { ... on Member { referrals { invited rewarded
  pending items { status reason referrerRewarded inviteeId } referredBy { status reason } }
  } } }"""
TEMPLATE = """mutation($i: CouponTemplateInput!) { createCouponTemplate(input: $i) {
  template { id } errors { code field message } } }"""
COUPONS = "{ me { coupons(status: AVAILABLE) { nodes { id status } } } }"
EXPORT = "mutation { exportMyData { document errors { code } } }"
DELETE = """mutation { deleteMyAccount(input: {confirm: true}) { ok errors { code } } }"""


@pytest.fixture
async def mango(runtime: Runtime, stores: dict[str, Any]) -> Variant:
    [variant] = await make_variants(runtime, ("MANGO", "1kg", PRICE))
    await receive(runtime, stores["SH-A"].id, variant, 50)
    return variant


@pytest.fixture
async def clerk(api: Api, runtime: Runtime, stores: dict[str, Any]) -> Api:
    return await staff_api(api, runtime, "ref-clerk", StaffRole.STORE_CLERK, [stores["SH-A"]])


@pytest.fixture
async def cs(api: Api, runtime: Runtime) -> Api:
    return await staff_api(api, runtime, "ref-cs", StaffRole.CS_AGENT, [])


async def _template(admin: Api) -> str:
    fields = {"name": "新人无门槛¥50", "kind": "NO_THRESHOLD", "amountOff": 5000}
    data = await admin.data(TEMPLATE, {"i": {**fields, "validDays": 30, "totalQuantity": 100}})
    payload = data["createCouponTemplate"]
    assert payload["errors"] == [], payload
    template_id: str = payload["template"]["id"]
    return template_id


async def _coupons(who: Shopper) -> list[str]:
    return [c["id"] for c in (await who.api.data(COUPONS))["me"]["coupons"]["nodes"]]


async def _cs_view(cs: Api, who: Shopper) -> dict[str, Any]:
    found: dict[str, Any] = (await cs.data(CS_VIEW, {"id": who.id}))["node"]["referrals"]
    return found


async def test_a_member_has_a_stable_short_code_and_a_share_payload_within_wechats_limits(
    api: Api,
) -> None:
    alice = await shopper(api, "ref-alice")
    first = (await alice.api.data(SHARE))["me"]["referral"]
    again = (await alice.api.data(SHARE))["me"]["referral"]
    assert first == again
    assert len(first["code"]) == 8 and first["code"].isalnum()
    assert first["scene"] == f"r={first['code']}" and len(first["scene"]) <= 32
    assert first["sharePath"].endswith(f"?ref={first['code']}")
    bob = await shopper(api, "ref-bob")
    assert await code_of(bob) != first["code"]


async def test_the_first_order_handed_over_rewards_both_sides_once_and_a_full_refund_takes_it_back(
    client: httpx.AsyncClient,
    api: Api,
    admin: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    mango: Variant,
    clerk: Api,
    cs: Api,
) -> None:
    template = await _template(admin)
    await create_program(
        admin, runtime, referrerPoints=500, inviteePoints=100, inviteePointsPerYuan=1,
        inviteeCouponTemplateId=template,
    )  # fmt: skip
    alice = await shopper(api, "ref-alice")
    code = await code_of(alice)
    bob, created = await invited(api, "ref-bob", code.lower(), device="phone-of-bob")
    assert created
    assert await referrals_of(alice.api) == {
        "invited": 1, "rewarded": 0, "pending": 1,
        "items": [{"status": "PENDING", "reason": None, "referrerRewarded": False,
                   "inviteeId": None, "referrerId": None}],
        "referredBy": None,
    }  # fmt: skip
    assert (await referrals_of(bob.api))["referredBy"]["status"] == "PENDING"
    assert await balance(alice) == 0
    exported = (await bob.api.data(EXPORT))["exportMyData"]["document"]["referrals"]
    assert exported["code"] == await code_of(bob)
    assert exported["referredBy"]["status"] == "PENDING" and exported["invited"] == 0

    order = await handed_over(client, runtime, clerk, bob, stores, mango)
    assert await balance(alice) == 500
    earned = runtime.loyalty.policy.earned_for(PRICE, "MEMBER")  # what the order itself earns
    # 100 points and double points on the ¥50 order (50 more), besides what the order earns.
    assert await balance(bob) == earned + 150
    [coupon] = await _coupons(bob)
    mine = await referrals_of(alice.api)
    assert (mine["invited"], mine["rewarded"], mine["pending"]) == (1, 1, 0)
    assert mine["items"][0]["status"] == "REWARDED" and mine["items"][0]["referrerRewarded"]

    await handed_over(client, runtime, clerk, bob, stores, mango)  # not the first: no reward
    assert await balance(alice) == 500 and len(await _coupons(bob)) == 1

    [line] = await line_ids(bob.api, order)
    after_sale = await asked(bob.api, request_input(order, [(line, 1)], "REFUND_ONLY"))
    assert (await approve(cs, after_sale))["errors"] == []
    assert await balance(alice) == 0  # the referrer's reward taken back
    assert await balance(bob) == earned  # the second order's points; the first's all gone
    assert await _coupons(bob) == []  # unused: revoked
    stored = await CouponRow.get(id=decode_id(coupon, "Coupon"))
    assert stored.status.value == "EXPIRED"
    seen = await _cs_view(cs, alice)
    assert (seen["invited"], seen["rewarded"]) == (1, 0)
    assert seen["items"][0]["status"] == "CLAWED_BACK"
    assert seen["items"][0]["inviteeId"] == bob.id  # CS sees who


async def test_refused_attributions_are_recorded_with_a_reason_and_login_goes_on(
    api: Api, admin: Api, runtime: Runtime, cs: Api
) -> None:
    await create_program(admin, runtime)
    alice = await shopper(api, "ref-alice")
    code = await code_of(alice)

    unknown, created = await invited(api, "ref-u", "ZZZZ2222")
    again, created_again = await invited(api, "ref-alice", code)  # an old member, own code
    old = await shopper(api, "ref-old")
    old_again, _ = await invited(api, "ref-old", code)  # OneID knew this person
    ring_one, _ = await invited(api, "ref-ring-1", code, device="same-device")
    ring_two, _ = await invited(api, "ref-ring-2", code, device="same-device")
    assert created and not created_again and again.id == alice.id and old_again.id == old.id

    reasons = {
        who: (await _cs_view(cs, member))["referredBy"]
        for who, member in (
            ("unknown", unknown), ("self", alice), ("old", old), ("one", ring_one),
            ("two", ring_two),
        )
    }  # fmt: skip
    assert reasons == {
        "unknown": {"status": "REFUSED", "reason": "UNKNOWN_CODE"},
        "self": {"status": "REFUSED", "reason": "SELF_REFERRAL"},
        "old": {"status": "REFUSED", "reason": "NOT_NEW"},
        "one": {"status": "PENDING", "reason": None},
        "two": {"status": "REFUSED", "reason": "SHARED_DEVICE"},
    }
    mine = await referrals_of(alice.api)  # the member sees whom they brought, not refusals
    assert (mine["invited"], mine["pending"], len(mine["items"])) == (1, 1, 1)
    seen = await _cs_view(cs, alice)
    assert sorted(i["reason"] or "-" for i in seen["items"]) == [
        "-", "NOT_NEW", "SELF_REFERRAL", "SHARED_DEVICE"
    ]  # fmt: skip


async def test_erased_members_codes_and_erased_members_returning_are_refused(
    api: Api, admin: Api, runtime: Runtime, cs: Api
) -> None:
    await create_program(admin, runtime)
    alice = await shopper(api, "ref-alice")
    gone = await shopper(api, "ref-gone")
    gone_code = await code_of(gone)
    assert (await gone.api.data(DELETE))["deleteMyAccount"]["errors"] == []

    late, _ = await invited(api, "ref-late", gone_code)  # the referrer erased their account
    assert (await _cs_view(cs, late))["referredBy"]["reason"] == "REFERRER_GONE"

    back, created = await invited(api, "ref-gone", await code_of(alice))  # the same WeChat
    assert created and back.id != gone.id  # OneID forgot them: a new member...
    assert (await _cs_view(cs, back))["referredBy"]["reason"] == "RETURNING"  # ...not new


async def test_the_referrer_is_rewarded_within_the_monthly_cap_and_the_invitee_always(
    client: httpx.AsyncClient,
    api: Api,
    admin: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    mango: Variant,
    clerk: Api,
) -> None:
    await create_program(admin, runtime, monthlyCap=1, referrerPoints=300, inviteePoints=40)
    alice = await shopper(api, "ref-alice")
    code = await code_of(alice)
    first, _ = await invited(api, "ref-first", code)
    second, _ = await invited(api, "ref-second", code)
    before = await balance(second)
    await handed_over(client, runtime, clerk, first, stores, mango)
    await handed_over(client, runtime, clerk, second, stores, mango)
    assert await balance(alice) == 300  # one reward this month, not two
    earned = runtime.loyalty.policy.earned_for(PRICE, "MEMBER")
    assert await balance(second) == before + earned + 40  # the invitee, beyond the cap too
    items = (await referrals_of(alice.api))["items"]
    assert sorted(i["referrerRewarded"] for i in items) == [False, True]
    assert {i["status"] for i in items} == {"REWARDED"}


async def test_no_program_live_refuses_and_admins_refusals_change_nothing(
    api: Api, admin: Api, runtime: Runtime, cs: Api
) -> None:
    alice = await shopper(api, "ref-alice")
    nobody, _ = await invited(api, "ref-early", await code_of(alice))
    assert (await _cs_view(cs, nobody))["referredBy"]["reason"] == "NO_PROGRAM"

    async def refused(**fields: Any) -> list[Any]:
        given = {"program": program_input(runtime, **fields)}
        payload = (await admin.data(CREATE_PROGRAM, {"i": given}))["createReferralProgram"]
        assert payload["program"] is None
        return [(e["code"], e["field"]) for e in payload["errors"]]

    assert await refused(monthlyCap=0) == [("INVALID_PROGRAM", ["monthlyCap"])]
    assert await refused(referrerPoints=0) == [("INVALID_PROGRAM", ["referrerPoints"])]
    assert await refused(inviteePoints=-1) == [("INVALID_PROGRAM", ["inviteePoints"])]
    assert await refused(endsAt=program_input(runtime)["startsAt"]) == [
        ("INVALID_PROGRAM", ["endsAt"])
    ]
    assert await refused(inviteeCouponTemplateId="bad") == [
        ("INVALID_ID", ["program", "inviteeCouponTemplateId"])
    ]
    assert await ReferralProgramRow.all().count() == 0

    first = await create_program(admin, runtime)
    assert await refused() == [("PROGRAM_ACTIVE", ["programId"])]
    pause = f"""mutation($p: ID!, $x: Boolean!) {{ pauseReferralProgram(input: {{programId: $p,
      paused: $x}}) {{ program {{ status }} {ERRORS} }} }}"""
    end = f"""mutation($p: ID!) {{ endReferralProgram(input: {{programId: $p}}) {{
      program {{ status }} {ERRORS} }} }}"""
    paused = (await admin.data(pause, {"p": first["id"], "x": True}))["pauseReferralProgram"]
    assert paused["program"]["status"] == "PAUSED"
    second = await create_program(admin, runtime, name="第二期")
    again = (await admin.data(pause, {"p": first["id"], "x": False}))["pauseReferralProgram"]
    assert [e["code"] for e in again["errors"]] == ["PROGRAM_ACTIVE"]
    ended = (await admin.data(end, {"p": second["id"]}))["endReferralProgram"]
    assert ended["program"]["status"] == "ENDED"
    after = (await admin.data(pause, {"p": second["id"], "x": False}))["pauseReferralProgram"]
    assert [e["code"] for e in after["errors"]] == ["PROGRAM_ENDED"]
    listed = (await admin.data("{ referralPrograms { name status } }"))["referralPrograms"]
    assert listed == [
        {"name": "第二期", "status": "ENDED"},
        {"name": "老带新", "status": "PAUSED"},
    ]
    assert await ReferralRow.filter(status="PENDING").count() == 0


PHONE_LOGIN = """mutation($phone: String!, $code: String!, $ref: String) {
  loginWithPhone(input: {phone: $phone, code: $code, referralCode: $ref}) {
    created member { id } errors { code } } }"""
MERGE = """mutation($s: ID!, $t: ID!) { mergeMembers(input: {sourceMemberId: $s,
  targetMemberId: $t, reason: "one person, two accounts"}) { errors { code } } }"""


async def test_a_phone_login_is_attributed_and_a_merge_with_the_referrer_is_a_self_referral(
    api: Api, admin: Api, runtime: Runtime, cs: Api
) -> None:
    await create_program(admin, runtime)
    alice = await shopper(api, "ref-alice")
    code = await code_of(alice)
    sms = await send_code(api, runtime, "13800138000", "+8613800138000")
    variables = {"phone": "13800138000", "code": sms, "ref": code}
    payload = (await api.data(PHONE_LOGIN, variables))["loginWithPhone"]
    assert payload["errors"] == [] and payload["created"]
    carol = payload["member"]["id"]
    node = (await cs.data(CS_VIEW, {"id": carol}))["node"]["referrals"]
    assert node["referredBy"] == {"status": "PENDING", "reason": None}

    merged = (await cs.data(MERGE, {"s": carol, "t": alice.id}))["mergeMembers"]
    assert merged["errors"] == []
    seen = await _cs_view(cs, alice)
    assert [(i["status"], i["reason"]) for i in seen["items"]] == [("REFUSED", "SELF_REFERRAL")]
    assert (seen["invited"], seen["pending"]) == (0, 0)
