"""Members at the till (enrol, lookup) and in the customer-service console (search, reveal,
PII access log), and who may see which member."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest

from domain.identity.model import DeviceKind, StaffRole
from domain.identity.services import create_device, create_staff
from infra.db.models.members import MemberIdentityRow, MemberRow, PiiAccessRow
from infra.runtime import Runtime
from tests.support.api import Api, login
from tests.support.payloads import codes, top_level_codes

MEMBER_FIELDS = """
  id displayName status createdChannel
  identities { kind appId masked verified verifiedBy }
"""

ENROL = f"""
mutation($phone: String!, $card: String, $name: String) {{
  enrolMember(input: {{phone: $phone, posCard: $card, displayName: $name}}) {{
    created
    member {{ {MEMBER_FIELDS} }}
    errors {{ code message field }}
  }}
}}"""

LOOKUP = f"""
query($phone: String, $card: String) {{
  lookupMember(input: {{phone: $phone, posCard: $card}}) {{ {MEMBER_FIELDS} }}
}}"""

SEARCH = """
query($s: String!, $first: Int, $after: String) {
  members(search: $s, first: $first, after: $after) {
    edges { cursor node { id displayName } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    nodes { id }
  }
}"""

REVEAL = """
mutation($id: ID!, $reason: String!) {
  revealIdentifiers(input: {memberId: $id, reason: $reason}) {
    identities { kind appId value verified }
    errors { code message field }
  }
}"""

PII_LOG = """
query($first: Int, $after: String) {
  piiAccessLog(first: $first, after: $after) {
    nodes { actor memberId kinds reason createdAt }
    pageInfo { hasNextPage endCursor }
  }
}"""

WECHAT_LOGIN = """
mutation($code: String!) {
  loginWithWechat(input: {appId: "wx-demo", code: $code}) {
    tokens { accessToken } member { id } errors { code }
  }
}"""

ME = "{ me { id } }"
MEMBER = "query($id: ID!) { member(id: $id) { id } }"
NODE = "query($id: ID!) { node(id: $id) { id } }"

PHONE = "13800138000"
PHONE_E164 = "+8613800138000"
CARD = "CARD-0001"


# ---------------------------------------------------------------- helpers


def global_id(type_name: str) -> str:
    """A well-formed global id of an object that does not exist."""
    return base64.b64encode(f"{type_name}:{uuid.uuid4()}".encode()).decode()


def kinds(member: dict[str, Any]) -> list[str]:
    return sorted(i["kind"] for i in member["identities"])


def identity(member: dict[str, Any], kind: str) -> dict[str, Any]:
    found = [i for i in member["identities"] if i["kind"] == kind]
    assert len(found) == 1, member
    return found[0]


async def enrol(
    till: Api, phone: str, card: str | None = None, name: str | None = None
) -> dict[str, Any]:
    data = await till.data(ENROL, {"phone": phone, "card": card, "name": name})
    payload: dict[str, Any] = data["enrolMember"]
    return payload


async def enrolled(
    till: Api, phone: str, card: str | None = None, name: str | None = None
) -> dict[str, Any]:
    payload = await enrol(till, phone, card, name)
    assert payload["errors"] == [] and payload["created"] is True, payload
    member: dict[str, Any] = payload["member"]
    return member


async def lookup(till: Api, phone: str | None = None, card: str | None = None) -> Any:
    return (await till.data(LOOKUP, {"phone": phone, "card": card}))["lookupMember"]


async def staff(api: Api, runtime: Runtime, name: str, role: StaffRole) -> tuple[Api, str]:
    """A logged-in staff user of a role that needs no store, and its audit label."""
    user = await create_staff(runtime.auth, name, "long-enough-pw", role, [])
    result = await login(api, name, "long-enough-pw")
    assert result["errors"] == [], result
    return api.as_(result["tokens"]["accessToken"]), f"STAFF:{user.id}"


@pytest.fixture
async def cs(api: Api, runtime: Runtime) -> Api:
    agent, _ = await staff(api, runtime, "cs-agent", StaffRole.CS_AGENT)
    return agent


@pytest.fixture
async def pos(api: Api, runtime: Runtime, stores: dict[str, Any]) -> Api:
    _, token = await create_device(runtime.auth, stores["SH-A"].id, DeviceKind.POS)
    return api.as_(token)


@pytest.fixture(params=["pos-device", "store-clerk"])
async def till(request: pytest.FixtureRequest, api: Api, runtime: Runtime, stores: Any) -> Api:
    """Who serves members at the till: a POS device, or a store clerk."""
    if request.param == "pos-device":
        _, token = await create_device(runtime.auth, stores["SH-A"].id, DeviceKind.POS)
        return api.as_(token)
    await create_staff(
        runtime.auth, "till-clerk", "long-enough-pw", StaffRole.STORE_CLERK, [stores["SH-A"].id]
    )
    result = await login(api, "till-clerk", "long-enough-pw")
    assert result["errors"] == [], result
    return api.as_(result["tokens"]["accessToken"])


@pytest.fixture
async def kiosk(api: Api, runtime: Runtime, stores: dict[str, Any]) -> Api:
    _, token = await create_device(runtime.auth, stores["SH-A"].id, DeviceKind.KIOSK)
    return api.as_(token)


async def wechat_member(api: Api, code: str) -> tuple[Api, str]:
    payload = (await api.data(WECHAT_LOGIN, {"code": code}))["loginWithWechat"]
    assert payload["errors"] == [], payload
    return api.as_(payload["tokens"]["accessToken"]), payload["member"]["id"]


# ---------------------------------------------------------------- enrolMember


async def test_enrol_creates_an_unverified_member_once(till: Api) -> None:
    first = await enrol(till, "138 0013 8000", "card-0001", "Li Lei")

    assert first["errors"] == [] and first["created"] is True, first
    member = first["member"]
    assert member["createdChannel"] == "POS" and member["status"] == "ACTIVE"
    assert member["displayName"] == "Li Lei"
    assert kinds(member) == ["PHONE", "POS_CARD"]
    phone = identity(member, "PHONE")
    assert phone["masked"] == "138****8000"
    assert phone["verified"] is False and phone["verifiedBy"] == "NONE"
    card = identity(member, "POS_CARD")
    assert card["masked"] == "****0001"
    assert card["verified"] is True and card["verifiedBy"] == "CARD"

    again = await enrol(till, PHONE_E164)
    assert again["errors"] == [] and again["created"] is False, again
    assert again["member"]["id"] == member["id"]
    assert kinds(again["member"]) == ["PHONE", "POS_CARD"]
    assert await MemberRow.all().count() == 1


async def test_enrol_binds_a_new_card_to_the_existing_member(pos: Api) -> None:
    member = await enrolled(pos, PHONE)
    assert kinds(member) == ["PHONE"]

    carded = await enrol(pos, PHONE, CARD)

    assert carded["errors"] == [] and carded["created"] is False, carded
    assert carded["member"]["id"] == member["id"]
    assert kinds(carded["member"]) == ["PHONE", "POS_CARD"]
    # The same card again on the same member is fine.
    same = await enrol(pos, PHONE, CARD.lower())
    assert same["errors"] == [] and kinds(same["member"]) == ["PHONE", "POS_CARD"], same


async def test_a_card_of_another_member_is_refused_and_nothing_changes(
    pos: Api, clerk_a: Api
) -> None:
    owner = await enrolled(pos, PHONE, CARD)
    other = await enrolled(pos, "13900139000")

    for phone in ("13700137000", "13900139000"):  # a new member, and an existing one
        taken = await enrol(clerk_a, phone, CARD)
        assert codes(taken) == ["IDENTIFIER_TAKEN"], (phone, taken)
        assert taken["member"] is None and taken["created"] is False
        assert "****0001" in taken["errors"][0]["message"]

    assert await MemberRow.all().count() == 2
    assert await MemberIdentityRow.all().count() == 3
    assert await lookup(pos, phone="13700137000") is None
    assert kinds(await lookup(pos, phone="13900139000")) == ["PHONE"]
    assert (await lookup(pos, card=CARD))["id"] == owner["id"]
    assert other["id"] != owner["id"]


async def test_enrol_refuses_bad_input(pos: Api) -> None:
    for phone, card, name, expected, field in (
        (PHONE, "!!", None, "INVALID_IDENTIFIER", ["posCard"]),
        (PHONE, "abc", None, "INVALID_IDENTIFIER", ["posCard"]),
        (PHONE, "C" * 33, None, "INVALID_IDENTIFIER", ["posCard"]),
        ("123", CARD, None, "INVALID_PHONE", ["phone"]),
        ("not a phone", None, None, "INVALID_PHONE", ["phone"]),
        ("", None, None, "INVALID_PHONE", ["phone"]),
        (PHONE, None, "x" * 65, "INVALID_INPUT", ["displayName"]),
    ):
        payload = await enrol(pos, phone, card, name)
        assert codes(payload) == [expected], (phone, card, payload)
        assert payload["errors"][0]["field"] == field
        assert payload["member"] is None and payload["created"] is False
    assert await MemberRow.all().count() == 0


async def test_who_may_enrol(api: Api, kiosk: Api, runtime: Runtime) -> None:
    member, _ = await wechat_member(api, "test:openid-1")
    cs, _ = await staff(api, runtime, "cs-agent", StaffRole.CS_AGENT)
    for caller, expected in (
        (kiosk, "FORBIDDEN"),
        (api, "UNAUTHENTICATED"),
        (member, "FORBIDDEN"),
    ):
        body = await caller(ENROL, {"phone": PHONE, "card": None, "name": None})
        assert top_level_codes(body) == [expected], body
        assert body["data"] is None
        lookup_body = await caller(LOOKUP, {"phone": PHONE, "card": None})
        assert top_level_codes(lookup_body) == [expected], lookup_body
    # Any staff may serve members, not only store staff.
    assert (await enrol(cs, PHONE))["created"] is True
    assert await MemberRow.all().count() == 2  # the WeChat member and the enrolled one


# ---------------------------------------------------------------- lookupMember


async def test_lookup_by_phone_or_card_shows_masked_identifiers(till: Api) -> None:
    member = await enrolled(till, PHONE, CARD, "Han Meimei")

    for phone, card in (
        (PHONE, None),
        ("+86 138-0013-8000", None),
        (None, CARD),
        (None, " card-0001 "),
    ):
        response = await till.raw(LOOKUP, {"phone": phone, "card": card})
        body = response.json()
        assert "errors" not in body, body
        found = body["data"]["lookupMember"]
        assert found["id"] == member["id"] and found["displayName"] == "Han Meimei"
        masked = {i["kind"]: i["masked"] for i in found["identities"]}
        assert masked == {"PHONE": "138****8000", "POS_CARD": "****0001"}, found
        for plaintext in ("13800138000", "0013", CARD, "card-0001"):
            assert plaintext not in response.text, (plaintext, response.text)


async def test_lookup_of_an_unknown_identifier_is_null(pos: Api) -> None:
    await enrolled(pos, PHONE, CARD)
    assert await lookup(pos, phone="13900139000") is None
    assert await lookup(pos, card="CARD-0002") is None


async def test_lookup_refuses_bad_input_at_top_level(pos: Api) -> None:
    for phone, card, expected in (
        (PHONE, CARD, "INVALID_INPUT"),
        (None, None, "INVALID_INPUT"),
        ("123", None, "INVALID_PHONE"),
        ("abc", None, "INVALID_PHONE"),
        (None, "!!", "INVALID_IDENTIFIER"),
    ):
        body = await pos(LOOKUP, {"phone": phone, "card": card})
        assert top_level_codes(body) == [expected], (phone, card, body)
        assert body["data"] in (None, {"lookupMember": None}), body


# ---------------------------------------------------------------- members(search:)


async def test_cs_search_by_phone_card_or_name(cs: Api, pos: Api) -> None:
    li = await enrolled(pos, PHONE, CARD, "Li Lei")
    han = await enrolled(pos, "13900139000", "CARD-0002", "Han Meimei")

    for search, expected in (
        (PHONE, li),
        ("138 0013 8000", li),
        (PHONE_E164, li),
        (CARD, li),
        ("card-0002", han),
        ("meimei", han),
        ("Li", li),
        ("  Lei ", li),
    ):
        result = (await cs.data(SEARCH, {"s": search}))["members"]
        assert [n["id"] for n in result["nodes"]] == [expected["id"]], (search, result)
        assert result["edges"][0]["node"]["displayName"] == expected["displayName"]

    for search in ("13700137000", "CARD-0009", "Nobody"):
        result = (await cs.data(SEARCH, {"s": search}))["members"]
        assert result["nodes"] == [] and result["pageInfo"]["hasNextPage"] is False, search


async def test_search_is_for_cs_only(
    cs: Api, clerk_a: Api, pos: Api, manager_a: Api, api: Api
) -> None:
    await enrolled(pos, PHONE, CARD, "Li Lei")
    for caller, expected in (
        (clerk_a, "FORBIDDEN"),
        (manager_a, "FORBIDDEN"),
        (pos, "FORBIDDEN"),
        (api, "UNAUTHENTICATED"),
    ):
        body = await caller(SEARCH, {"s": PHONE})
        assert top_level_codes(body) == [expected], body
        assert body["data"] is None


async def test_search_refuses_empty_text(cs: Api) -> None:
    for search in ("", "   ", "x" * 65):
        body = await cs(SEARCH, {"s": search})
        assert top_level_codes(body) == ["INVALID_INPUT"], (search, body)
        assert body["data"] is None


async def test_search_pages_name_matches_with_cursors(cs: Api, pos: Api) -> None:
    made = set()
    for i in range(5):
        member = await enrolled(pos, f"1390000{i:04d}", name=f"Wang Fang {i}")
        made.add(member["id"])
    await enrolled(pos, "13800138000", name="Zhao Lei")

    seen: list[str] = []
    after = None
    pages = []
    while True:
        result = (await cs.data(SEARCH, {"s": "wang fang", "first": 2, "after": after}))["members"]
        pages.append(len(result["nodes"]))
        seen += [n["id"] for n in result["nodes"]]
        info = result["pageInfo"]
        assert info["hasPreviousPage"] is (after is not None)
        if result["edges"]:
            assert info["endCursor"] == result["edges"][-1]["cursor"]
            assert info["startCursor"] == result["edges"][0]["cursor"]
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
        assert len(pages) < 5, pages

    assert pages == [2, 2, 1]
    assert len(seen) == len(set(seen)) == 5
    assert set(seen) == made

    bad = await cs(SEARCH, {"s": "wang", "first": 2, "after": "not-a-cursor"})
    assert top_level_codes(bad) == ["INVALID_INPUT"], bad


# ---------------------------------------------------------------- revealIdentifiers and the log


async def test_reveal_shows_values_and_is_logged(api: Api, runtime: Runtime, pos: Api) -> None:
    cs, cs_label = await staff(api, runtime, "cs-agent", StaffRole.CS_AGENT)
    admin, _ = await staff(api, runtime, "admin-user", StaffRole.ADMIN)
    member = await enrolled(pos, "138 0013 8000", "card-0001")

    revealed = (await cs.data(REVEAL, {"id": member["id"], "reason": "  ticket #4711  "}))[
        "revealIdentifiers"
    ]

    assert revealed["errors"] == [], revealed
    values = {i["kind"]: i for i in revealed["identities"]}
    assert values["PHONE"] == {
        "kind": "PHONE",
        "appId": None,
        "value": PHONE_E164,
        "verified": False,
    }
    assert values["POS_CARD"]["value"] == CARD and values["POS_CARD"]["verified"] is True

    log = (await admin.data(PII_LOG))["piiAccessLog"]["nodes"]
    assert len(log) == 1, log
    entry = log[0]
    assert entry["actor"] == cs_label
    assert entry["memberId"] == member["id"]
    assert sorted(entry["kinds"]) == ["PHONE", "POS_CARD"]
    assert entry["reason"] == "ticket #4711"
    assert entry["createdAt"]
    # The log names kinds, never the values read.
    assert PHONE not in str(log) and CARD not in str(log)

    # An ADMIN may reveal too; every read is one more entry, newest first.
    again = (await admin.data(REVEAL, {"id": member["id"], "reason": "audit sample"}))[
        "revealIdentifiers"
    ]
    assert again["errors"] == [], again
    log = (await admin.data(PII_LOG, {"first": 1}))["piiAccessLog"]
    assert log["pageInfo"]["hasNextPage"] is True
    assert await PiiAccessRow.all().count() == 2


async def test_only_cs_and_admin_reveal_and_read_the_log(
    api: Api, runtime: Runtime, pos: Api, clerk_a: Api, manager_a: Api
) -> None:
    cs, _ = await staff(api, runtime, "cs-agent", StaffRole.CS_AGENT)
    member = await enrolled(pos, PHONE, CARD)
    holder, _ = await wechat_member(api, "test:openid-1")

    for caller, expected in (
        (clerk_a, "FORBIDDEN"),
        (manager_a, "FORBIDDEN"),
        (pos, "FORBIDDEN"),
        (holder, "FORBIDDEN"),
        (api, "UNAUTHENTICATED"),
    ):
        body = await caller(REVEAL, {"id": member["id"], "reason": "curious"})
        assert top_level_codes(body) == [expected], body
        assert body["data"] is None
    for caller, expected in ((clerk_a, "FORBIDDEN"), (api, "UNAUTHENTICATED")):
        body = await caller(PII_LOG)
        assert top_level_codes(body) == [expected], body
    assert await PiiAccessRow.all().count() == 0
    # A CS agent reads the log of their own reveals (tests/api/test_cs_desk.py: only those).
    assert (await cs.data(PII_LOG))["piiAccessLog"]["nodes"] == []


async def test_reveal_failures_are_typed_and_not_logged(cs: Api, pos: Api) -> None:
    member = await enrolled(pos, PHONE, CARD)
    product_id, unknown_id = global_id("Product"), global_id("Member")
    for member_id, reason, expected, field in (
        (member["id"], "", "INVALID_INPUT", ["reason"]),
        (member["id"], "   ", "INVALID_INPUT", ["reason"]),
        (member["id"], "x" * 201, "INVALID_INPUT", ["reason"]),
        (unknown_id, "ticket #1", "NOT_FOUND", ["memberId"]),
        ("not-an-id", "ticket #1", "INVALID_ID", ["memberId"]),
        (product_id, "ticket #1", "INVALID_ID", ["memberId"]),
    ):
        payload = (await cs.data(REVEAL, {"id": member_id, "reason": reason}))["revealIdentifiers"]
        assert codes(payload) == [expected], (member_id, reason, payload)
        assert payload["errors"][0]["field"] == field
        assert payload["identities"] is None
    assert await PiiAccessRow.all().count() == 0


# ---------------------------------------------------------------- object-level access


async def test_a_member_sees_only_itself(api: Api, cs: Api, pos: Api) -> None:
    alice, alice_id = await wechat_member(api, "test:openid-a")
    _, bob_id = await wechat_member(api, "test:openid-b")

    assert (await alice.data(NODE, {"id": bob_id}))["node"] is None
    assert (await alice.data(NODE, {"id": alice_id}))["node"] == {"id": alice_id}
    body = await alice(MEMBER, {"id": bob_id})
    assert top_level_codes(body) == ["FORBIDDEN"], body
    own = await alice(MEMBER, {"id": alice_id})
    assert top_level_codes(own) == ["FORBIDDEN"], own  # the CS console is for CS
    assert (await alice.data(ME))["me"] == {"id": alice_id}

    # Nobody else without PII access sees members by id either.
    assert (await api.data(NODE, {"id": bob_id}))["node"] is None
    assert (await pos.data(NODE, {"id": bob_id}))["node"] is None
    # CS sees both.
    assert (await cs.data(MEMBER, {"id": bob_id}))["member"] == {"id": bob_id}
    assert (await cs.data(NODE, {"id": alice_id}))["node"] == {"id": alice_id}


async def test_member_by_id_refuses_bad_ids(cs: Api) -> None:
    for bad in ("nope", global_id("Product")):
        body = await cs(MEMBER, {"id": bad})
        assert top_level_codes(body) == ["INVALID_ID"], body
    assert (await cs.data(MEMBER, {"id": global_id("Member")}))["member"] is None
