"""Member login: WeChat mini-program codes, SMS codes, phone binding and the merges it causes.

The WeChat and SMS adapters are the development fakes (the external boundary): WeChat login
codes are "test:<openid>[:<unionid>]", phone codes "test-phone:<number>", and the SMS text
sits in `runtime.sms.outbox`.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from domain.identity.model import StaffRole
from domain.identity.services import create_staff
from infra.db.models.members import MemberIdentityRow, MemberMergeRow, MemberRow, PhoneCodeRow
from infra.runtime import Runtime
from tests.support import MovableClock
from tests.support.api import Api, login
from tests.support.members import (
    APP,
    BIND_PHONE,
    ME,
    OTHER_PHONE,
    PHONE,
    PHONE_E164,
    PHONE_LOGIN,
    VERIFY_PHONE,
    WECHAT_LOGIN,
    bind_phone,
    forget_send_limits,
    identity,
    kinds,
    last_code,
    phone_login,
    refresh,
    request_code,
    send_code,
    verify_phone,
    wechat_login,
    wechat_member,
    wrong,
)
from tests.support.payloads import codes, top_level_codes

ENROL = """
mutation($phone: String!, $card: String) {
  enrolMember(input: {phone: $phone, posCard: $card}) {
    created member { id } errors { code message field }
  }
}"""

CS_MEMBER = "query($id: ID!) { member(id: $id) { id status } }"

CS_NODE = "query($id: ID!) { node(id: $id) { id ... on Member { status } } }"


async def cs_agent(api: Api, runtime: Runtime) -> Api:
    await create_staff(runtime.auth, "cs-agent", "long-enough-pw", StaffRole.CS_AGENT, [])
    result = await login(api, "cs-agent", "long-enough-pw")
    assert result["errors"] == [], result
    return api.as_(result["tokens"]["accessToken"])


async def assert_token_refused(api: Api, access_token: str) -> None:
    response = await api.as_(access_token).raw(ME)
    assert response.status_code == 401, response.text
    assert top_level_codes(response.json()) == ["UNAUTHENTICATED"]


# ---------------------------------------------------------------- loginWithWechat


async def test_first_wechat_login_creates_member_with_verified_openid_and_unionid(
    api: Api,
) -> None:
    first = await wechat_login(api, "test:openid-1:union-1")

    assert first["errors"] == [] and first["created"] is True, first
    assert first["tokens"]["accessToken"] and first["tokens"]["refreshToken"]
    member = first["member"]
    assert member["status"] == "ACTIVE" and member["createdChannel"] == "MINI_PROGRAM"
    assert kinds(member) == ["WECHAT_OPENID", "WECHAT_UNIONID"]
    for item in member["identities"]:
        assert item["verified"] is True and item["verifiedBy"] == "WECHAT", item
    assert identity(member, "WECHAT_OPENID")["appId"] == APP
    assert identity(member, "WECHAT_UNIONID")["appId"] is None
    # Identifiers come back masked, never as given.
    assert "openid-1" not in str(member) and "union-1" not in str(member)

    again = await wechat_login(api, "test:openid-1:union-1")
    assert again["errors"] == [] and again["created"] is False, again
    assert again["member"]["id"] == member["id"]
    assert kinds(again["member"]) == ["WECHAT_OPENID", "WECHAT_UNIONID"]
    assert await MemberRow.all().count() == 1


async def test_same_unionid_with_another_openid_is_the_same_member(api: Api) -> None:
    first = await wechat_login(api, "test:openid-1:union-1")
    other = await wechat_login(api, "test:openid-2:union-1")

    assert other["errors"] == [] and other["created"] is False, other
    assert other["member"]["id"] == first["member"]["id"]
    assert kinds(other["member"]) == ["WECHAT_OPENID", "WECHAT_OPENID", "WECHAT_UNIONID"]
    # The new openid is linked: logging in with it alone finds the member too.
    alone = await wechat_login(api, "test:openid-2")
    assert alone["created"] is False and alone["member"]["id"] == first["member"]["id"]
    assert await MemberRow.all().count() == 1


async def test_code_without_unionid_then_unionid_links_to_the_same_member(api: Api) -> None:
    first = await wechat_login(api, "test:openid-3")
    assert first["errors"] == [] and first["created"] is True, first
    assert kinds(first["member"]) == ["WECHAT_OPENID"]

    later = await wechat_login(api, "test:openid-3:union-3")
    assert later["created"] is False and later["member"]["id"] == first["member"]["id"], later
    assert kinds(later["member"]) == ["WECHAT_OPENID", "WECHAT_UNIONID"]


async def test_openid_member_folds_into_the_unionid_member(api: Api) -> None:
    by_openid = await wechat_login(api, "test:openid-a")
    by_union = await wechat_login(api, "test:openid-b:union-x")

    both = await wechat_login(api, "test:openid-a:union-x")

    assert both["errors"] == [] and both["created"] is False, both
    assert both["member"]["id"] == by_union["member"]["id"]
    assert kinds(both["member"]) == ["WECHAT_OPENID", "WECHAT_OPENID", "WECHAT_UNIONID"]
    await assert_token_refused(api, by_openid["tokens"]["accessToken"])
    assert await MemberRow.filter(status="ACTIVE").count() == 1


async def test_wechat_login_failures_are_typed_errors(api: Api) -> None:
    cases = [
        ("wx-unknown", "test:openid-1", "UNKNOWN_APP"),
        (APP, "nope", "INVALID_WECHAT_CODE"),
        ("", "test:openid-1", "UNKNOWN_APP"),
        (APP, "", "INVALID_WECHAT_CODE"),
        ("", "", "UNKNOWN_APP"),
        (APP, "test:" + "x" * 300, "INVALID_WECHAT_CODE"),
    ]
    for app, code, expected in cases:
        body = await api(WECHAT_LOGIN, {"app": app, "code": code})
        assert "errors" not in body, (app, code, body)  # never a top-level error
        payload = body["data"]["loginWithWechat"]
        assert codes(payload) == [expected], (app, code, payload)
        assert payload["tokens"] is None and payload["member"] is None
        assert payload["created"] is False
    unknown = await wechat_login(api, "test:openid-1", app="wx-unknown")
    assert unknown["errors"][0]["field"] == ["appId"]
    assert await MemberRow.all().count() == 0


async def test_simultaneous_first_logins_make_one_member(api: Api) -> None:
    results = await asyncio.gather(
        *(api(WECHAT_LOGIN, {"app": APP, "code": "test:openid-9:union-9"}) for _ in range(5))
    )

    for body in results:
        assert "errors" not in body, body  # typed errors at most, never top-level
    payloads = [body["data"]["loginWithWechat"] for body in results]
    winners = [p for p in payloads if p["member"] is not None]
    assert winners, payloads
    assert {p["member"]["id"] for p in winners} == {winners[0]["member"]["id"]}
    assert sum(p["created"] for p in winners) == 1, payloads
    for loser in (p for p in payloads if p["member"] is None):
        assert loser["errors"], loser
    assert await MemberRow.all().count() == 1
    assert await MemberIdentityRow.all().count() == 2


async def test_member_token_works_for_me_and_refresh(api: Api) -> None:
    member, first = await wechat_member(api, "test:openid-1:union-1")

    me = (await member.data(ME))["me"]
    assert me["id"] == first["member"]["id"]
    assert kinds(me) == ["WECHAT_OPENID", "WECHAT_UNIONID"]

    rotated = await refresh(api, first["tokens"]["refreshToken"])
    assert rotated["errors"] == [], rotated
    assert rotated["tokens"]["refreshToken"] != first["tokens"]["refreshToken"]
    again = (await api.as_(rotated["tokens"]["accessToken"]).data(ME))["me"]
    assert again["id"] == first["member"]["id"]
    viewer = await member.data("{ viewer { kind } }")
    assert viewer["viewer"]["kind"] == "MEMBER"


async def test_anonymous_me_is_unauthenticated(api: Api) -> None:
    body = await api(ME)
    assert top_level_codes(body) == ["UNAUTHENTICATED"], body
    assert body["data"] in (None, {"me": None}), body


async def test_staff_cannot_use_member_mutations(api: Api, runtime: Runtime) -> None:
    cs = await cs_agent(api, runtime)
    for query, variables in (
        (VERIFY_PHONE, {"phone": PHONE, "code": "123456"}),
        (BIND_PHONE, {"code": f"test-phone:{PHONE_E164}", "app": None}),
        (ME, None),
    ):
        body = await cs(query, variables)
        assert top_level_codes(body) == ["FORBIDDEN"], body
    anonymous = await api(VERIFY_PHONE, {"phone": PHONE, "code": "123456"})
    assert top_level_codes(anonymous) == ["UNAUTHENTICATED"], anonymous


# ---------------------------------------------------------------- requestPhoneCode


async def test_request_phone_code_texts_a_six_digit_code(api: Api, runtime: Runtime) -> None:
    sent = await request_code(api, "139 0013 9000")

    assert sent == {"expiresInSeconds": 300, "errors": []}
    sms = runtime.sms.outbox[-1]  # type: ignore[attr-defined]
    assert sms.phone_e164 == PHONE_E164
    assert last_code(runtime, PHONE_E164).isdigit()
    assert "5 minutes" in sms.text


async def test_request_phone_code_refuses_bad_numbers(api: Api, runtime: Runtime) -> None:
    before = len(runtime.sms.outbox)  # type: ignore[attr-defined]
    for phone in ("123", "abc", "+1 555", "", "1" * 40):
        payload = await request_code(api, phone)
        assert codes(payload) == ["INVALID_PHONE"], (phone, payload)
        assert payload["expiresInSeconds"] is None
        assert payload["errors"][0]["field"] == ["phone"]
    assert len(runtime.sms.outbox) == before  # type: ignore[attr-defined]
    assert await PhoneCodeRow.all().count() == 0


async def test_resend_within_a_minute_is_refused(api: Api, runtime: Runtime) -> None:
    first = await send_code(api, runtime, PHONE, PHONE_E164)

    # The same number in another spelling is the same phone.
    again = await request_code(api, "+86 139 0013 9000")
    assert codes(again) == ["TOO_MANY_REQUESTS"], again
    assert again["expiresInSeconds"] is None
    assert "seconds" in again["errors"][0]["message"]
    assert await PhoneCodeRow.all().count() == 1
    # The refused request sent nothing, and the first code still works.
    assert last_code(runtime, PHONE_E164) == first
    assert (await phone_login(api, PHONE, first))["errors"] == []


async def test_one_address_may_request_twenty_codes_an_hour(api: Api, runtime: Runtime) -> None:
    for i in range(20):
        payload = await request_code(api, f"1390000{i:04d}")
        assert payload["errors"] == [], (i, payload)

    refused = await request_code(api, "13900009999")
    assert codes(refused) == ["TOO_MANY_REQUESTS"], refused
    assert await PhoneCodeRow.all().count() == 20
    assert len({sms.phone_e164 for sms in runtime.sms.outbox[-20:]}) == 20  # type: ignore[attr-defined]


async def test_codes_are_stored_hashed_without_the_phone(api: Api, runtime: Runtime) -> None:
    code = await send_code(api, runtime, PHONE, PHONE_E164)

    rows = await PhoneCodeRow.all()
    assert len(rows) == 1
    row = rows[0]
    assert row.code_hash != code and len(row.code_hash) >= 32
    stored = " ".join(str(getattr(row, f)) for f in PhoneCodeRow._meta.fields_map)
    for plaintext in (PHONE, PHONE_E164, "139****9000", f"{PHONE_E164}:{code}"):
        assert plaintext not in stored, (plaintext, stored)
    assert row.attempts == 0 and row.consumed_at is None


# ---------------------------------------------------------------- loginWithPhone


async def test_phone_login_creates_member_then_finds_it(api: Api, runtime: Runtime) -> None:
    code = await send_code(api, runtime, PHONE, PHONE_E164)

    first = await phone_login(api, PHONE, code)

    assert first["errors"] == [] and first["created"] is True, first
    member = first["member"]
    assert member["createdChannel"] == "H5"
    assert member["identities"] == [
        {
            "kind": "PHONE",
            "appId": None,
            "masked": "139****9000",
            "verified": True,
            "verifiedBy": "SMS",
        }
    ]
    me = (await api.as_(first["tokens"]["accessToken"]).data(ME))["me"]
    assert me["id"] == member["id"]

    await forget_send_limits(runtime)
    code = await send_code(api, runtime, "+8613900139000", PHONE_E164)
    again = await phone_login(api, "139-0013-9000", code)
    assert again["errors"] == [] and again["created"] is False, again
    assert again["member"]["id"] == member["id"]
    assert await MemberRow.all().count() == 1


async def test_a_code_works_once(api: Api, runtime: Runtime) -> None:
    code = await send_code(api, runtime, PHONE, PHONE_E164)
    assert (await phone_login(api, PHONE, code))["errors"] == []

    reused = await phone_login(api, PHONE, code)

    assert codes(reused) == ["CODE_ALREADY_USED"], reused
    assert reused["tokens"] is None and reused["member"] is None
    assert reused["errors"][0]["field"] == ["code"]


async def test_a_code_expires_after_five_minutes(
    api: Api, runtime: Runtime, clock: MovableClock
) -> None:
    early = await send_code(api, runtime, PHONE, PHONE_E164)
    late = await send_code(api, runtime, OTHER_PHONE, "+8613800138000")

    clock.advance(timedelta(minutes=4, seconds=50))
    assert (await phone_login(api, PHONE, early))["errors"] == []

    clock.advance(timedelta(minutes=1, seconds=10))  # six minutes after sending
    expired = await phone_login(api, OTHER_PHONE, late)
    assert codes(expired) == ["CODE_EXPIRED"], expired
    assert expired["tokens"] is None
    assert await MemberRow.all().count() == 1


async def test_five_wrong_codes_spend_the_code(api: Api, runtime: Runtime) -> None:
    code = await send_code(api, runtime, PHONE, PHONE_E164)

    for left in (4, 3, 2, 1, 0):
        payload = await phone_login(api, PHONE, wrong(code))
        assert codes(payload) == ["INVALID_CODE"], payload
        assert f"{left} tries left" in payload["errors"][0]["message"], payload

    for attempt in (code, wrong(code)):
        refused = await phone_login(api, PHONE, attempt)
        assert codes(refused) == ["TOO_MANY_ATTEMPTS"], refused
        assert refused["tokens"] is None
    assert await MemberRow.all().count() == 0


async def test_malformed_codes_count_as_wrong(api: Api, runtime: Runtime) -> None:
    code = await send_code(api, runtime, PHONE, PHONE_E164)

    for attempt in ("", "12345", "abcdef", f" {wrong(code)} "):
        payload = await phone_login(api, PHONE, attempt)
        assert codes(payload) == ["INVALID_CODE"], (attempt, payload)

    assert (await phone_login(api, PHONE, f" {code} "))["errors"] == []


async def test_no_code_requested_is_invalid_code(api: Api) -> None:
    payload = await phone_login(api, PHONE, "123456")
    assert codes(payload) == ["INVALID_CODE"], payload
    bad_phone = await phone_login(api, "123", "123456")
    assert codes(bad_phone) == ["INVALID_PHONE"], bad_phone


async def test_a_newer_code_replaces_the_older_one(
    api: Api, runtime: Runtime, clock: MovableClock
) -> None:
    old = await send_code(api, runtime, PHONE, PHONE_E164)
    clock.advance(timedelta(seconds=61))
    await forget_send_limits(runtime)
    new = await send_code(api, runtime, PHONE, PHONE_E164)
    if new == old:  # one in a million: the old code cannot be told apart
        await forget_send_limits(runtime)
        new = await send_code(api, runtime, PHONE, PHONE_E164)
    assert new != old

    stale = await phone_login(api, PHONE, old)
    assert codes(stale) == ["INVALID_CODE"], stale

    fresh = await phone_login(api, PHONE, new)
    assert fresh["errors"] == [] and fresh["created"] is True, fresh


async def test_concurrent_logins_with_one_code_succeed_once(api: Api, runtime: Runtime) -> None:
    code = await send_code(api, runtime, PHONE, PHONE_E164)

    results = await asyncio.gather(
        *(api(PHONE_LOGIN, {"phone": PHONE, "code": code}) for _ in range(3))
    )

    for body in results:
        assert "errors" not in body, body
    payloads = [body["data"]["loginWithPhone"] for body in results]
    winners = [p for p in payloads if p["errors"] == []]
    assert len(winners) == 1, payloads
    assert winners[0]["created"] is True and winners[0]["tokens"] is not None
    for loser in (p for p in payloads if p["errors"]):
        assert codes(loser) == ["CODE_ALREADY_USED"], loser
        assert loser["tokens"] is None
    assert await MemberRow.all().count() == 1


# ---------------------------------------------------------------- verifyPhone and bindPhone


async def test_verify_phone_binds_the_phone(api: Api, runtime: Runtime) -> None:
    member, first = await wechat_member(api, "test:openid-1:union-1")
    code = await send_code(api, runtime, PHONE, PHONE_E164)

    wrong_try = await verify_phone(member, PHONE, wrong(code))
    assert codes(wrong_try) == ["INVALID_CODE"] and wrong_try["member"] is None, wrong_try

    bound = await verify_phone(member, PHONE, code)

    assert bound["errors"] == [], bound
    assert bound["member"]["id"] == first["member"]["id"]
    assert kinds(bound["member"]) == ["PHONE", "WECHAT_OPENID", "WECHAT_UNIONID"]
    phone = identity(bound["member"], "PHONE")
    assert phone["masked"] == "139****9000"
    assert phone["verified"] is True and phone["verifiedBy"] == "SMS"
    assert await MemberMergeRow.all().count() == 0

    reused = await verify_phone(member, PHONE, code)
    assert codes(reused) == ["CODE_ALREADY_USED"], reused


async def test_verify_phone_merges_the_member_who_had_it(api: Api, runtime: Runtime) -> None:
    code = await send_code(api, runtime, PHONE, PHONE_E164)
    old = await phone_login(api, PHONE, code)
    assert old["created"] is True, old
    old_id = old["member"]["id"]
    member, first = await wechat_member(api, "test:openid-1:union-1")
    survivor_id = first["member"]["id"]

    await forget_send_limits(runtime)
    code = await send_code(api, runtime, PHONE, PHONE_E164)
    bound = await verify_phone(member, PHONE, code)

    assert bound["errors"] == [], bound
    assert bound["member"]["id"] == survivor_id
    assert kinds(bound["member"]) == ["PHONE", "WECHAT_OPENID", "WECHAT_UNIONID"]
    await assert_absorbed(api, runtime, old, survivor_id)
    # A phone login now lands on the survivor.
    await forget_send_limits(runtime)
    code = await send_code(api, runtime, PHONE, PHONE_E164)
    again = await phone_login(api, PHONE, code)
    assert again["created"] is False and again["member"]["id"] == survivor_id, again
    assert old_id != survivor_id


async def assert_absorbed(
    api: Api, runtime: Runtime, absorbed: dict[str, Any], survivor_id: str
) -> None:
    """The absorbed member's tokens are dead and its id now names the survivor."""
    await assert_token_refused(api, absorbed["tokens"]["accessToken"])
    refused = await refresh(api, absorbed["tokens"]["refreshToken"])
    assert refused["tokens"] is None and codes(refused) == ["INVALID_REFRESH_TOKEN"], refused

    cs = await cs_agent(api, runtime)
    absorbed_id = absorbed["member"]["id"]
    by_member = (await cs.data(CS_MEMBER, {"id": absorbed_id}))["member"]
    assert by_member == {"id": survivor_id, "status": "ACTIVE"}
    by_node = (await cs.data(CS_NODE, {"id": absorbed_id}))["node"]
    assert by_node == {"id": survivor_id, "status": "ACTIVE"}
    rows = {str(r.id): r for r in await MemberRow.all()}
    assert sum(r.status == "ACTIVE" for r in rows.values()) == 1
    assert sum(r.status == "MERGED" for r in rows.values()) == 1


async def test_bind_phone_merges_the_pos_member(api: Api, runtime: Runtime, clerk_a: Api) -> None:
    enrolled = (await clerk_a.data(ENROL, {"phone": OTHER_PHONE, "card": "CARD-0001"}))[
        "enrolMember"
    ]
    assert enrolled["created"] is True, enrolled
    member, first = await wechat_member(api, "test:openid-1:union-1")

    bound = await bind_phone(member, "test-phone:+8613800138000")

    assert bound["errors"] == [], bound
    survivor = bound["member"]
    assert survivor["id"] == first["member"]["id"]
    assert kinds(survivor) == ["PHONE", "POS_CARD", "WECHAT_OPENID", "WECHAT_UNIONID"]
    phone = identity(survivor, "PHONE")
    assert phone["masked"] == "138****8000"
    assert phone["verified"] is True and phone["verifiedBy"] == "WECHAT"
    assert identity(survivor, "POS_CARD")["masked"] == "****0001"

    cs = await cs_agent(api, runtime)
    resolved = (await cs.data(CS_MEMBER, {"id": enrolled["member"]["id"]}))["member"]
    assert resolved["id"] == survivor["id"]
    resolved_node = (await cs.data(CS_NODE, {"id": enrolled["member"]["id"]}))["node"]
    assert resolved_node["id"] == survivor["id"]
    # The moved identifiers are still readable under the survivor's key.
    revealed = await cs.data(
        """mutation($id: ID!) { revealIdentifiers(input: {memberId: $id, reason: "merge check"})
        { identities { kind value } errors { code } } }""",
        {"id": survivor["id"]},
    )
    values = {i["kind"]: i["value"] for i in revealed["revealIdentifiers"]["identities"]}
    assert values["PHONE"] == "+8613800138000" and values["POS_CARD"] == "CARD-0001", revealed
    # The till finds the survivor by the card and by the phone.
    for lookup in ({"posCard": "CARD-0001"}, {"phone": OTHER_PHONE}):
        found = await clerk_a.data(
            "query($i: MemberLookupInput!) { lookupMember(input: $i) { id } }", {"i": lookup}
        )
        assert found["lookupMember"]["id"] == survivor["id"], (lookup, found)


async def test_bind_phone_answers_the_member_after_the_merge_and_says_it_merged(
    api: Api, clerk_a: Api
) -> None:
    """Issue 14: bindPhone answered the member read before the merge (displayName "") and
    did not say whether one happened."""
    enrolled = await clerk_a.data(
        'mutation { enrolMember(input: {phone: "13800138000", displayName: "林小雨"}) '
        "{ member { id displayName } errors { code } } }"
    )
    assert enrolled["enrolMember"]["member"]["displayName"] == "林小雨", enrolled
    member, first = await wechat_member(api, "test:openid-1:union-1")

    bound = await bind_phone(member, "test-phone:+8613800138000")

    assert bound["errors"] == [] and bound["merged"] is True, bound
    survivor = bound["member"]
    assert (survivor["id"], survivor["displayName"]) == (first["member"]["id"], "林小雨")
    me = (await member.data("{ me { id displayName } }"))["me"]
    assert me == {"id": survivor["id"], "displayName": "林小雨"}

    fresh, _ = await wechat_member(api, "test:openid-2:union-2")
    unmerged = await bind_phone(fresh, "test-phone:+8613900139000")
    assert unmerged["errors"] == [] and unmerged["merged"] is False, unmerged
    assert kinds(unmerged["member"]) == ["PHONE", "WECHAT_OPENID", "WECHAT_UNIONID"]


async def test_absorbed_phone_login_member_is_locked_out_after_bind_phone(
    api: Api, runtime: Runtime
) -> None:
    code = await send_code(api, runtime, PHONE, PHONE_E164)
    old = await phone_login(api, PHONE, code)
    member, first = await wechat_member(api, "test:openid-1:union-1")

    bound = await bind_phone(member, f"test-phone:{PHONE_E164}", APP)

    assert bound["errors"] == [], bound
    assert identity(bound["member"], "PHONE")["verifiedBy"] == "SMS"
    await assert_absorbed(api, runtime, old, first["member"]["id"])
    # The survivor's own token keeps working.
    me = (await member.data(ME))["me"]
    assert me["id"] == first["member"]["id"]


async def test_binding_a_phone_twice_changes_nothing(api: Api) -> None:
    member, _ = await wechat_member(api, "test:openid-1:union-1")
    first = await bind_phone(member, f"test-phone:{PHONE_E164}")
    assert first["errors"] == [], first

    second = await bind_phone(member, "test-phone:+86 139 0013 9000")

    assert second["errors"] == [], second
    assert second["member"]["identities"] == first["member"]["identities"]
    assert await MemberIdentityRow.filter(kind="PHONE").count() == 1
    assert await MemberMergeRow.all().count() == 0
    assert await MemberRow.all().count() == 1


async def test_bind_phone_failures_are_typed_errors(api: Api) -> None:
    member, _ = await wechat_member(api, "test:openid-1:union-1")
    for code, app, expected in (
        ("test-phone:123", None, "INVALID_PHONE"),
        ("test-phone:not-a-number", APP, "INVALID_PHONE"),
        ("nope", None, "INVALID_WECHAT_CODE"),
        ("", None, "INVALID_WECHAT_CODE"),
        (f"test-phone:{PHONE_E164}", "wx-unknown", "UNKNOWN_APP"),
    ):
        payload = await bind_phone(member, code, app)
        assert codes(payload) == [expected], (code, app, payload)
        assert payload["member"] is None
    me = (await member.data(ME))["me"]
    assert kinds(me) == ["WECHAT_OPENID", "WECHAT_UNIONID"]


async def test_the_wechat_nickname_names_a_new_member_only(api: Api) -> None:
    query = """mutation($code: String!, $name: String) {
      loginWithWechat(input: {appId: "wx-demo", code: $code, displayName: $name}) {
        created member { id displayName } errors { code field } } }"""
    first = (await api(query, {"code": "test:openid-n", "name": "  林小姐 "}))["data"]
    assert first["loginWithWechat"]["member"]["displayName"] == "林小姐"
    again = (await api(query, {"code": "test:openid-n", "name": "Someone else"}))["data"]
    assert again["loginWithWechat"]["created"] is False
    assert again["loginWithWechat"]["member"]["displayName"] == "林小姐"  # theirs is kept
    too_long = (await api(query, {"code": "test:openid-m", "name": "x" * 65}))["data"]
    payload = too_long["loginWithWechat"]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("INVALID_INPUT", ["displayName"])
    ]
    assert payload["member"] is None
    assert await MemberRow.all().count() == 1  # the refused login created nobody
