"""Customer service merges duplicate members over GraphQL: what moves, what is refused, and
that handlers of MembersMerged run inside the merge's transaction."""

from __future__ import annotations

from typing import Any

import pytest

from api.relay import decode_id, encode_id
from domain.events import MembersMerged
from domain.identity.model import StaffRole
from domain.identity.services import create_staff
from domain.ids import new_id
from domain.uow import UnitOfWork
from infra.db.models.members import MemberIdentityRow, MemberMergeRow, MemberRow
from infra.runtime import Runtime
from tests.support.api import Api, login
from tests.support.members import ME as MY_IDENTITIES
from tests.support.members import (
    PHONE,
    PHONE_E164,
    bind_phone,
    forget_send_limits,
    identity,
    kinds,
    send_code,
    verify_phone,
    wechat_member,
)
from tests.support.payloads import codes
from tests.support.shoppers import Shopper, shopper

GRANT = """
mutation($purpose: ConsentPurpose!) {
  updateConsents(input: {changes: [{purpose: $purpose, granted: true}], policyVersion: "2026-01"})
  { errors { code message field } }
}"""

MERGE = """
mutation($source: ID!, $target: ID!, $reason: String!) {
  mergeMembers(input: {sourceMemberId: $source, targetMemberId: $target, reason: $reason}) {
    member { id status identities { kind masked } consents { history { purpose granted } } }
    merge { id sourceMemberId targetMemberId reason actor moved createdAt }
    errors { code message field }
  }
}"""

MEMBER = "query($id: ID!) { member(id: $id) { id status } }"

ME = """{ me { id status identities { kind appId masked } consents {
  current { purpose granted } history { purpose granted } } } }"""

REFRESH = """
mutation($token: String!) {
  refreshToken(input: {refreshToken: $token}) { tokens { accessToken } errors { code } }
}"""

REVEAL = """
mutation($id: ID!) {
  revealIdentifiers(input: {memberId: $id, reason: "checking a duplicate"}) {
    identities { kind value } errors { code }
  }
}"""


@pytest.fixture
async def cs(api: Api, runtime: Runtime) -> Api:
    await create_staff(runtime.auth, "cs-agent", "long-enough-pw", StaffRole.CS_AGENT, [])
    result = await login(api, "cs-agent", "long-enough-pw")
    assert result["errors"] == [], result
    return api.as_(result["tokens"]["accessToken"])


async def merge(caller: Api, source: str, target: str, reason: str = "same person") -> Any:
    body = await caller(MERGE, {"source": source, "target": target, "reason": reason})
    return body


async def merged(caller: Api, source: str, target: str, reason: str = "same person") -> Any:
    body = await merge(caller, source, target, reason)
    assert "errors" not in body, body
    payload = body["data"]["mergeMembers"]
    assert payload["errors"] == [], payload
    return payload


async def merge_errors(caller: Api, source: str, target: str, reason: str = "dup") -> Any:
    body = await merge(caller, source, target, reason)
    assert "errors" not in body, body
    payload = body["data"]["mergeMembers"]
    assert payload["merge"] is None and payload["member"] is None, payload
    return [(e["code"], e["field"]) for e in payload["errors"]]


async def status_of(member: Shopper) -> str:
    row = await MemberRow.get(id=member.key)
    return str(row.status)


async def test_merge_moves_everything_to_the_target_and_logs_the_source_out(
    api: Api, cs: Api
) -> None:
    source = await shopper(api, "open-src", phone="+8613800138000")
    target = await shopper(api, "open-tgt")
    granted = await source.api.data(GRANT, {"purpose": "MARKETING_SMS"})
    assert granted["updateConsents"]["errors"] == []

    payload = await merged(cs, source.id, target.id, "  called in: two accounts  ")

    done = payload["merge"]
    assert decode_id(done["id"], "MemberMerge")
    assert (done["sourceMemberId"], done["targetMemberId"]) == (source.id, target.id)
    assert done["reason"] == "called in: two accounts"
    assert done["actor"].startswith("STAFF:")
    assert done["moved"] == {"identities": 2, "consents": 1, "sessions_revoked": 1}
    survivor = payload["member"]
    assert survivor["id"] == target.id and survivor["status"] == "ACTIVE"
    assert sorted(i["kind"] for i in survivor["identities"]) == [
        "PHONE",
        "WECHAT_OPENID",
        "WECHAT_OPENID",
    ]
    assert survivor["consents"]["history"] == [{"purpose": "MARKETING_SMS", "granted": True}]

    # The target sees both sets of identifiers and the consent as its own.
    me = (await target.api.data(ME))["me"]
    assert {i["masked"] for i in me["identities"]} >= {"138****8000"}
    assert len(me["identities"]) == 3
    current = {c["purpose"]: c["granted"] for c in me["consents"]["current"]}
    assert current["MARKETING_SMS"] is True

    # The source's tokens are dead; its id resolves to the survivor.
    assert (await source.api.raw(ME)).status_code == 401
    refreshed = (await api.data(REFRESH, {"token": source.refresh}))["refreshToken"]
    assert refreshed["tokens"] is None and refreshed["errors"] == [
        {"code": "INVALID_REFRESH_TOKEN"}
    ]
    assert (await cs.data(MEMBER, {"id": source.id}))["member"] == {
        "id": target.id,
        "status": "ACTIVE",
    }
    assert await status_of(source) == "MERGED"
    assert await MemberIdentityRow.filter(member_id=source.key).count() == 0

    # The moved identifiers were re-encrypted under the survivor's key: they still decrypt.
    revealed = (await cs.data(REVEAL, {"id": target.id}))["revealIdentifiers"]
    assert revealed["errors"] == []
    assert sorted(i["value"] for i in revealed["identities"]) == [
        "+8613800138000",
        "open-src",
        "open-tgt",
    ]


async def test_repeating_a_merge_returns_the_same_merge(api: Api, cs: Api) -> None:
    source = await shopper(api, "open-src")
    target = await shopper(api, "open-tgt")
    first = await merged(cs, source.id, target.id)
    again = await merged(cs, source.id, target.id, "clicked twice")
    assert again["merge"]["id"] == first["merge"]["id"]
    assert again["merge"]["reason"] == "same person"
    assert again["member"]["id"] == target.id
    assert await MemberMergeRow.all().count() == 1


async def test_a_member_cannot_be_merged_into_itself(api: Api, cs: Api) -> None:
    member = await shopper(api, "open-1")
    assert await merge_errors(cs, member.id, member.id) == [("MERGE_INTO_SELF", ["targetMemberId"])]
    assert await status_of(member) == "ACTIVE"


async def test_a_source_already_merged_elsewhere_is_refused(api: Api, cs: Api) -> None:
    source = await shopper(api, "open-src")
    first = await shopper(api, "open-1")
    second = await shopper(api, "open-2")
    await merged(cs, source.id, first.id)
    assert await merge_errors(cs, source.id, second.id) == [("MEMBER_MERGED", ["sourceMemberId"])]
    assert await MemberMergeRow.all().count() == 1
    assert await status_of(second) == "ACTIVE"


async def test_a_merged_target_is_refused(api: Api, cs: Api) -> None:
    absorbed = await shopper(api, "open-1")
    survivor = await shopper(api, "open-2")
    other = await shopper(api, "open-3")
    await merged(cs, absorbed.id, survivor.id)
    assert await merge_errors(cs, other.id, absorbed.id) == [("MEMBER_MERGED", ["targetMemberId"])]
    assert await status_of(other) == "ACTIVE"


async def test_an_erased_member_cannot_be_merged(api: Api, cs: Api) -> None:
    erased = await shopper(api, "open-gone")
    other = await shopper(api, "open-here")
    deleted = await erased.api.data(
        "mutation { deleteMyAccount(input: {confirm: true}) { ok errors { code } } }"
    )
    assert deleted["deleteMyAccount"] == {"ok": True, "errors": []}
    assert await merge_errors(cs, erased.id, other.id) == [("MEMBER_ERASED", ["sourceMemberId"])]
    assert await merge_errors(cs, other.id, erased.id) == [("MEMBER_ERASED", ["targetMemberId"])]


async def test_ids_that_name_no_member_are_refused(api: Api, cs: Api) -> None:
    member = await shopper(api, "open-1")
    unknown = encode_id("Member", new_id())
    assert await merge_errors(cs, unknown, member.id) == [("NOT_FOUND", ["sourceMemberId"])]
    assert await merge_errors(cs, member.id, unknown) == [("NOT_FOUND", ["targetMemberId"])]
    assert await merge_errors(cs, "not-an-id", member.id) == [("INVALID_ID", ["sourceMemberId"])]
    product = encode_id("Product", new_id())
    assert await merge_errors(cs, member.id, product) == [("INVALID_ID", ["targetMemberId"])]
    assert await status_of(member) == "ACTIVE"


@pytest.mark.parametrize("reason", ["", "  ", "x" * 201])
async def test_a_merge_needs_a_reason(api: Api, cs: Api, reason: str) -> None:
    source = await shopper(api, "open-src")
    target = await shopper(api, "open-tgt")
    assert await merge_errors(cs, source.id, target.id, reason) == [("INVALID_INPUT", ["reason"])]
    assert await status_of(source) == "ACTIVE"


async def test_store_clerks_cannot_merge(api: Api, cs: Api, clerk_a: Api) -> None:
    source = await shopper(api, "open-src")
    target = await shopper(api, "open-tgt")
    for caller in (clerk_a, source.api):
        body = await merge(caller, source.id, target.id)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], body
        assert body["data"] is None
    assert await status_of(source) == "ACTIVE"


async def test_merge_chains_resolve_to_the_last_survivor(api: Api, cs: Api) -> None:
    a = await shopper(api, "open-a")
    b = await shopper(api, "open-b")
    c = await shopper(api, "open-c")
    await merged(cs, a.id, b.id)
    await merged(cs, b.id, c.id)

    for old in (a, b):
        resolved = (await cs.data(MEMBER, {"id": old.id}))["member"]
        assert resolved == {"id": c.id, "status": "ACTIVE"}
    me = (await c.api.data(ME))["me"]
    assert len(me["identities"]) == 3
    # B is absorbed too: nothing can be merged into it any more
    assert await merge_errors(cs, a.id, b.id) == [("MEMBER_MERGED", ["targetMemberId"])]
    # A is already part of C: asking again is no new merge, and names C as the survivor
    again = await merged(cs, a.id, c.id)
    assert (again["member"]["id"], again["member"]["status"]) == (c.id, "ACTIVE")
    assert await MemberMergeRow.all().count() == 2


async def test_members_merged_handlers_get_the_event(api: Api, cs: Api, runtime: Runtime) -> None:
    source = await shopper(api, "open-src")
    target = await shopper(api, "open-tgt")
    seen: list[MembersMerged] = []
    source_status_inside: list[str] = []

    async def record(uow: UnitOfWork, event: MembersMerged) -> None:
        seen.append(event)
        inside = await uow.members.get(event.source_member_id)
        assert inside is not None
        source_status_inside.append(inside.status.value)

    runtime.events.register(MembersMerged, record)
    try:
        payload = await merged(cs, source.id, target.id)
        await merged(cs, source.id, target.id)  # the repeat raises no second event
    finally:
        runtime.events.unregister(MembersMerged, record)

    merge_id = decode_id(payload["merge"]["id"], "MemberMerge")
    assert seen == [MembersMerged(source.key, target.key, merge_id)]
    assert source_status_inside == ["MERGED"]


async def test_a_failing_handler_rolls_the_merge_back(api: Api, cs: Api, runtime: Runtime) -> None:
    source = await shopper(api, "open-src", phone="+8613800138000")
    target = await shopper(api, "open-tgt")
    identities_before = await MemberIdentityRow.filter(member_id=source.key).count()

    async def fail(uow: UnitOfWork, event: MembersMerged) -> None:
        raise RuntimeError("points could not move: secret-detail-42")

    runtime.events.register(MembersMerged, fail)
    try:
        body = await merge(cs, source.id, target.id)
    finally:
        runtime.events.unregister(MembersMerged, fail)

    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "secret-detail-42" not in str(body)  # masked
    # Nothing of the merge survived: it all ran in one transaction.
    assert await status_of(source) == "ACTIVE"
    row = await MemberRow.get(id=source.key)
    assert row.merged_into_id is None and row.data_key is not None
    assert await MemberIdentityRow.filter(member_id=source.key).count() == identities_before == 2
    assert await MemberMergeRow.all().count() == 0
    assert (await source.api.raw(ME)).status_code == 200
    assert (await cs.data(MEMBER, {"id": source.id}))["member"]["id"] == source.id

    # Without the failing handler the same merge goes through.
    assert (await merged(cs, source.id, target.id))["merge"]["moved"]["identities"] == 2


# ------------------------------------------------------------------ recycled phone numbers

CANDIDATES = """query($s: MergeCandidateState) { mergeCandidates(state: $s) {
  nodes { id claimantId holderId phoneMasked verifiedBy state decidedBy reason } } }"""
RESOLVE = """mutation($i: ResolveMergeCandidateInput!) { resolveMergeCandidate(input: $i) {
  candidate { id state decidedBy reason } errors { code field } } }"""


async def test_a_phone_held_by_another_wechat_account_waits_for_customer_service(
    api: Api, runtime: Runtime, cs: Api
) -> None:
    """Issue 12, 5: binding a number that a WeChat-verified member holds merged that member
    away (a recycled number took the old owner's account over). Now PHONE_IN_USE, nothing
    merged, and the case in CS's queue; CS moves the number (RELEASE_PHONE) or merges."""
    old_owner, first = await wechat_member(api, "test:openid-old:union-old")
    assert (await bind_phone(old_owner, f"test-phone:{PHONE_E164}"))["errors"] == []
    newcomer, second = await wechat_member(api, "test:openid-new:union-new")
    old_id, new_id_ = first["member"]["id"], second["member"]["id"]

    for attempt in range(2):  # the mini-program button, then an SMS code: one case
        if attempt == 0:
            refused = await bind_phone(newcomer, f"test-phone:{PHONE_E164}")
        else:
            await forget_send_limits(runtime)
            refused = await verify_phone(
                newcomer, PHONE, await send_code(api, runtime, PHONE, PHONE_E164)
            )
        assert codes(refused) == ["PHONE_IN_USE"] and refused["member"] is None, refused
    assert await MemberMergeRow.all().count() == 0
    assert (await MemberRow.get(id=decode_id(old_id, "Member"))).status == "ACTIVE"
    assert kinds((await old_owner.data(MY_IDENTITIES))["me"]) == [
        "PHONE",
        "WECHAT_OPENID",
        "WECHAT_UNIONID",
    ]

    [case] = (await cs.data(CANDIDATES, {}))["mergeCandidates"]["nodes"]
    assert (case["claimantId"], case["holderId"]) == (new_id_, old_id)
    assert (case["phoneMasked"], case["verifiedBy"], case["state"]) == (
        "139****9000",
        "WECHAT",
        "OPEN",
    )
    members_only = await newcomer(CANDIDATES, {})
    assert members_only["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    def decide(action: str, reason: str = "old SIM deactivated per carrier") -> dict[str, Any]:
        return {"i": {"candidateId": case["id"], "action": action, "reason": reason}}

    released = (await cs.data(RESOLVE, decide("RELEASE_PHONE")))["resolveMergeCandidate"]
    assert released["errors"] == [] and released["candidate"]["state"] == "PHONE_RELEASED"
    assert released["candidate"]["decidedBy"].startswith("STAFF:")
    assert kinds((await old_owner.data(MY_IDENTITIES))["me"]) == ["WECHAT_OPENID", "WECHAT_UNIONID"]
    moved = (await newcomer.data(MY_IDENTITIES))["me"]
    assert kinds(moved) == ["PHONE", "WECHAT_OPENID", "WECHAT_UNIONID"]
    assert identity(moved, "PHONE")["verifiedBy"] == "WECHAT"
    again = (await cs.data(RESOLVE, decide("RELEASE_PHONE")))["resolveMergeCandidate"]
    assert again == released
    other = (await cs.data(RESOLVE, decide("MERGE")))["resolveMergeCandidate"]
    assert other["errors"] == [{"code": "CANDIDATE_RESOLVED", "field": ["candidateId"]}]
    assert (await cs.data(CANDIDATES, {}))["mergeCandidates"]["nodes"] == []
    assert await MemberMergeRow.all().count() == 0


async def test_customer_service_merges_two_accounts_of_one_person(
    api: Api, runtime: Runtime, cs: Api
) -> None:
    old_owner, first = await wechat_member(api, "test:openid-a:union-a")
    assert (await bind_phone(old_owner, f"test-phone:{PHONE_E164}"))["errors"] == []
    second_account, second = await wechat_member(api, "test:openid-b:union-b")
    refused = await bind_phone(second_account, f"test-phone:{PHONE_E164}")
    assert codes(refused) == ["PHONE_IN_USE"]
    [case] = (await cs.data(CANDIDATES, {}))["mergeCandidates"]["nodes"]
    merged = await cs.data(
        RESOLVE, {"i": {"candidateId": case["id"], "action": "MERGE", "reason": "same person"}}
    )
    assert merged["resolveMergeCandidate"]["candidate"]["state"] == "MERGED"
    holder = await MemberRow.get(id=decode_id(first["member"]["id"], "Member"))
    assert holder.status == "MERGED"
    assert holder.merged_into_id == decode_id(second["member"]["id"], "Member")


async def test_a_phone_held_by_a_till_record_is_still_merged_at_once(
    api: Api, runtime: Runtime, clerk_a: Api
) -> None:
    """A member the till made from a phone number alone (no platform identity) is the same
    person as whoever proves the number: merged, as before."""
    enrolled = await clerk_a.data(
        'mutation { enrolMember(input: {phone: "13900139000"}) { created errors { code } } }'
    )
    assert enrolled["enrolMember"] == {"created": True, "errors": []}
    member, _ = await wechat_member(api, "test:openid-c:union-c")
    bound = await bind_phone(member, f"test-phone:{PHONE_E164}")
    assert bound["errors"] == [], bound
    assert await MemberMergeRow.all().count() == 1
