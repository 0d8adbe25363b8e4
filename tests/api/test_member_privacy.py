"""Personal-data rights over GraphQL: consent per purpose, one-tap unsubscribe, the data
export (with sections other contexts register) and account erasure."""

from __future__ import annotations

import json
from typing import Any
from unittest.mock import ANY
from uuid import UUID

import httpx
import pytest

from api.relay import decode_id, encode_id
from domain.events import MemberErased
from domain.identity.model import Principal, PrincipalKind, StaffRole
from domain.identity.services import create_staff
from domain.ids import new_id
from domain.inventory.model import StockLine
from domain.loyalty.services import adjust_points
from domain.members.model import ConsentPurpose
from domain.members.privacy import export_stream
from domain.ordering.checkout import Checkout, DeliveryTo, place_order
from domain.ordering.model import SalesChannel
from domain.uow import UnitOfWork
from infra.db.models.members import ConsentRecordRow, MemberIdentityRow, MemberRow
from infra.runtime import Runtime
from tests.support import count_sql
from tests.support.api import Api, login
from tests.support.orders import (
    level,
    make_variants,
    order_input,
    pay_online,
    placed,
    read,
    receive,
)
from tests.support.shoppers import Shopper, shopper, wechat_login

ALL_PURPOSES = [p.value for p in ConsentPurpose]


CONSENTS = """current { purpose granted policyVersion recordedAt }
  history { purpose granted policyVersion channel recordedAt }"""

UPDATE = f"""
mutation($changes: [ConsentChangeInput!]!, $version: String!, $channel: Channel!) {{
  updateConsents(input: {{changes: $changes, policyVersion: $version, channel: $channel}}) {{
    consents {{ {CONSENTS} }}
    errors {{ code message field }}
  }}
}}"""

UNSUBSCRIBE = f"""
mutation {{ unsubscribeAll(input: {{channel: H5}}) {{
  consents {{ {CONSENTS} }} errors {{ code message field }} }} }}"""

MY_CONSENTS = f"{{ me {{ id consents {{ {CONSENTS} }} }} }}"

EXPORT = "mutation { exportMyData { document errors { code message field } } }"

DELETE = """
mutation($confirm: Boolean!) {
  deleteMyAccount(input: {confirm: $confirm}) { ok errors { code message field } }
}"""

REFRESH = """
mutation($token: String!) {
  refreshToken(input: {refreshToken: $token}) { tokens { accessToken } errors { code } }
}"""

MERGE = """
mutation($source: ID!, $target: ID!) {
  mergeMembers(input: {sourceMemberId: $source, targetMemberId: $target, reason: "dupes"}) {
    merge { id } errors { code field }
  }
}"""


def changes(**granted: bool) -> list[dict[str, Any]]:
    return [{"purpose": purpose, "granted": value} for purpose, value in granted.items()]


async def update(
    member: Shopper,
    change_list: list[dict[str, Any]],
    version: str = "2026-01",
    channel: str = "H5",
) -> dict[str, Any]:
    variables = {"changes": change_list, "version": version, "channel": channel}
    payload: dict[str, Any] = (await member.api.data(UPDATE, variables))["updateConsents"]
    return payload


def current_of(consents: dict[str, Any]) -> dict[str, tuple[bool, str | None]]:
    return {c["purpose"]: (c["granted"], c["policyVersion"]) for c in consents["current"]}


# --------------------------------------------------------------------------- consent


async def test_every_purpose_is_listed_and_not_granted_without_a_record(api: Api) -> None:
    member = await shopper(api)
    consents = (await member.api.data(MY_CONSENTS))["me"]["consents"]
    assert [c["purpose"] for c in consents["current"]] == ALL_PURPOSES
    assert all(
        (c["granted"], c["policyVersion"], c["recordedAt"]) == (False, None, None)
        for c in consents["current"]
    )
    assert consents["history"] == []


async def test_consent_changes_are_appended_with_policy_version_and_channel(api: Api) -> None:
    member = await shopper(api)
    first = await update(member, changes(MARKETING_SMS=True, ANALYTICS=True), "2026-01", "H5")
    assert first["errors"] == []
    assert current_of(first["consents"]) == {
        "MARKETING_SMS": (True, "2026-01"),
        "MARKETING_WECHAT": (False, None),
        "PERSONALISED_RECOMMENDATIONS": (False, None),
        "PRECISE_LOCATION": (False, None),
        "ANALYTICS": (True, "2026-01"),
    }

    second = await update(member, changes(MARKETING_SMS=False), "2026-02", "MINI_PROGRAM")
    assert second["errors"] == []
    history = [
        (h["purpose"], h["granted"], h["policyVersion"], h["channel"])
        for h in second["consents"]["history"]
    ]
    assert sorted(history[:2]) == [
        ("ANALYTICS", True, "2026-01", "H5"),
        ("MARKETING_SMS", True, "2026-01", "H5"),
    ]
    assert history[2] == ("MARKETING_SMS", False, "2026-02", "MINI_PROGRAM")
    assert current_of(second["consents"])["MARKETING_SMS"] == (False, "2026-02")
    assert current_of(second["consents"])["ANALYTICS"] == (True, "2026-01")

    # `me` tells the same story as the mutation's payload.
    me = (await member.api.data(MY_CONSENTS))["me"]["consents"]
    assert me == second["consents"]
    assert await ConsentRecordRow.filter(member_id=member.key).count() == 3


async def test_unsubscribe_all_withdraws_both_marketing_purposes_only(api: Api) -> None:
    member = await shopper(api)
    granted = await update(member, [{"purpose": p, "granted": True} for p in ALL_PURPOSES])
    assert granted["errors"] == []

    payload = (await member.api.data(UNSUBSCRIBE))["unsubscribeAll"]

    assert payload["errors"] == []
    current = current_of(payload["consents"])
    assert current["MARKETING_SMS"][0] is False
    assert current["MARKETING_WECHAT"][0] is False
    assert {p: g for p, (g, _) in current.items() if not p.startswith("MARKETING")} == {
        "PERSONALISED_RECOMMENDATIONS": True,
        "PRECISE_LOCATION": True,
        "ANALYTICS": True,
    }
    withdrawals = payload["consents"]["history"][len(ALL_PURPOSES) :]
    assert sorted((h["purpose"], h["granted"], h["channel"]) for h in withdrawals) == [
        ("MARKETING_SMS", False, "H5"),
        ("MARKETING_WECHAT", False, "H5"),
    ]
    # without input: the mini-program channel
    again = await member.api.data("mutation { unsubscribeAll { errors { code } } }")
    assert again["unsubscribeAll"]["errors"] == []


@pytest.mark.parametrize(
    ("change_list", "version", "expected"),
    [
        (
            [{"purpose": "ANALYTICS", "granted": True}, {"purpose": "ANALYTICS", "granted": False}],
            "2026-01",
            ("INVALID_INPUT", ["changes"]),
        ),
        (changes(ANALYTICS=True), "", ("INVALID_INPUT", ["policyVersion"])),
        (changes(ANALYTICS=True), "   ", ("INVALID_INPUT", ["policyVersion"])),
        (changes(ANALYTICS=True), "v" * 33, ("INVALID_INPUT", ["policyVersion"])),
        ([], "2026-01", ("INVALID_INPUT", ["changes"])),
        (changes(ANALYTICS=True) * 6, "2026-01", ("TOO_MANY_ITEMS", ["changes"])),
    ],
)
async def test_consent_updates_are_validated_with_typed_errors(
    api: Api, change_list: list[dict[str, Any]], version: str, expected: tuple[str, list[str]]
) -> None:
    member = await shopper(api)
    payload = await update(member, change_list, version)
    assert payload["consents"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [expected]
    assert payload["errors"][0]["message"]
    assert await ConsentRecordRow.filter(member_id=member.key).count() == 0


# --------------------------------------------------------------------------- export


async def test_export_holds_decrypted_identifiers_consents_and_registered_sections(
    api: Api, runtime: Runtime
) -> None:
    member = await shopper(api, "open-export", phone="+8613900139000")
    assert (await update(member, changes(MARKETING_WECHAT=True)))["errors"] == []
    called_with: list[UUID] = []

    async def orders_section(uow: UnitOfWork, member_id: UUID) -> dict[str, Any]:
        called_with.append(member_id)
        found = await uow.members.get(member_id)  # runs in the export's transaction
        assert found is not None
        return {"memberStatus": found.status.value, "orders": []}

    runtime.exporters.register("test-section", orders_section)
    try:
        payload = (await member.api.data(EXPORT))["exportMyData"]
    finally:
        runtime.exporters.unregister("test-section")

    assert payload["errors"] == []
    document = payload["document"]
    assert document["format"] == "omnishelf.member-export/2"
    assert document["member"]["id"] == str(member.key)
    assert document["member"]["status"] == "ACTIVE"
    identities = {(i["kind"], i["appId"], i["value"]) for i in document["identities"]}
    assert identities == {
        ("WECHAT_OPENID", "wx-demo", "open-export"),
        ("PHONE", None, "+8613900139000"),
    }
    assert document["consents"]["current"] == {"MARKETING_WECHAT": True}
    assert [(h["purpose"], h["granted"]) for h in document["consents"]["history"]] == [
        ("MARKETING_WECHAT", True)
    ]
    assert document["test-section"] == {"memberStatus": "ACTIVE", "orders": []}
    assert called_with == [member.key]
    # No points yet: the tier `me { tier }` shows (MEMBER), not null.
    me = (await member.api.data("{ me { tier } }"))["me"]
    assert (
        document["points"] == {"balance": 0, "tier": me["tier"]} == {"balance": 0, "tier": "MEMBER"}
    )

    # unregistered: the next export has no such section
    later = (await member.api.data(EXPORT))["exportMyData"]["document"]
    assert "test-section" not in later and "orders" in later


async def test_export_includes_identifiers_absorbed_by_a_merge(api: Api, clerk_a: Api) -> None:
    enrolled = await clerk_a.data(
        """mutation { enrolMember(input: {phone: "13700137000", posCard: "CARD-4242"}) {
        created errors { code } } }"""
    )
    assert enrolled["enrolMember"] == {"created": True, "errors": []}
    member = await shopper(api, "open-merge", phone="+8613700137000")  # absorbs the POS member

    document = (await member.api.data(EXPORT))["exportMyData"]["document"]

    values = {i["kind"]: i["value"] for i in document["identities"]}
    assert values == {
        "WECHAT_OPENID": "open-merge",
        "PHONE": "+8613700137000",
        "POS_CARD": "CARD-4242",
    }
    assert len(document["mergedFrom"]) == 1


# --------------------------------------------------------------------------- erasure


@pytest.fixture
async def cs(api: Api, runtime: Runtime) -> Api:
    await create_staff(runtime.auth, "cs-agent", "long-enough-pw", StaffRole.CS_AGENT, [])
    result = await login(api, "cs-agent", "long-enough-pw")
    assert result["errors"] == [], result
    return api.as_(result["tokens"]["accessToken"])


async def test_deleting_needs_confirmation_and_changes_nothing_without_it(api: Api) -> None:
    member = await shopper(api, phone="+8613900139000")
    before = await MemberRow.get(id=member.key)

    payload = (await member.api.data(DELETE, {"confirm": False}))["deleteMyAccount"]

    assert payload["ok"] is False
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("CONFIRMATION_REQUIRED", ["confirm"])
    ]
    after = await MemberRow.get(id=member.key)
    assert (after.status, after.data_key, after.erased_at) == (
        before.status,
        before.data_key,
        None,
    )
    assert await MemberIdentityRow.filter(member_id=member.key).count() == 2
    assert (await member.api.raw("{ me { id } }")).status_code == 200


async def test_deleting_the_account_erases_personal_data_and_logs_out(
    api: Api, runtime: Runtime, cs: Api
) -> None:
    member = await shopper(api, "open-bye", phone="+8613900139000")
    assert (await update(member, changes(MARKETING_SMS=True)))["errors"] == []
    erased: list[MemberErased] = []

    async def record(uow: UnitOfWork, event: MemberErased) -> None:
        erased.append(event)

    runtime.events.register(MemberErased, record)
    try:
        payload = (await member.api.data(DELETE, {"confirm": True}))["deleteMyAccount"]
    finally:
        runtime.events.unregister(MemberErased, record)

    assert payload == {"ok": True, "errors": []}
    assert erased == [MemberErased(member.key)]
    # logged out everywhere
    assert (await member.api.raw("{ me { id } }")).status_code == 401
    refreshed = (await api.data(REFRESH, {"token": member.refresh}))["refreshToken"]
    assert refreshed == {"tokens": None, "errors": [{"code": "INVALID_REFRESH_TOKEN"}]}
    # the personal data is gone; the bare id stays for orders and ledgers
    row = await MemberRow.get(id=member.key)
    assert str(row.status) == "ERASED"
    assert row.data_key is None
    assert row.display_name == ""
    assert row.erased_at is not None
    assert await MemberIdentityRow.filter(member_id=member.key).count() == 0

    # the same WeChat user logging in again is a new member
    again = await wechat_login(api, "test:open-bye")
    assert again["created"] is True
    assert again["member"]["id"] != member.id
    # and the erased member can no longer be merged
    merge = await cs.data(MERGE, {"source": member.id, "target": again["member"]["id"]})
    assert merge["mergeMembers"] == {
        "merge": None,
        "errors": [{"code": "MEMBER_ERASED", "field": ["sourceMemberId"]}],
    }


async def test_erasure_clears_the_name_given_at_the_till(
    api: Api, runtime: Runtime, clerk_a: Api
) -> None:
    enrolled = await clerk_a.data(
        """mutation { enrolMember(input: {phone: "13600136000", displayName: "Li Lei"}) {
        member { id displayName } errors { code } } }"""
    )
    assert enrolled["enrolMember"]["member"]["displayName"] == "Li Lei"
    member_id = decode_id(enrolled["enrolMember"]["member"]["id"], "Member")
    sent = await api.data(
        """mutation { requestPhoneCode(input: {phone: "13600136000"}) { errors { code } } }"""
    )
    assert sent["requestPhoneCode"]["errors"] == []
    code = runtime.sms.outbox[-1].text.split("code is ")[1][:6]  # type: ignore[attr-defined]
    logged_in = await api.data(
        """mutation($c: String!) { loginWithPhone(input: {phone: "13600136000", code: $c}) {
        tokens { accessToken } member { id } errors { code } } }""",
        {"c": code},
    )
    payload = logged_in["loginWithPhone"]
    assert decode_id(payload["member"]["id"], "Member") == member_id
    member = api.as_(payload["tokens"]["accessToken"])

    deleted = await member.data(DELETE, {"confirm": True})

    assert deleted["deleteMyAccount"]["ok"] is True
    row = await MemberRow.get(id=member_id)
    assert (str(row.status), row.display_name, row.data_key) == ("ERASED", "", None)
    # the phone is free again: enrolling it makes a new member
    again = await clerk_a.data(
        """mutation { enrolMember(input: {phone: "13600136000"}) { created member { id } } }"""
    )
    assert again["enrolMember"]["created"] is True
    assert decode_id(again["enrolMember"]["member"]["id"], "Member") != member_id


# --------------------------------------------------------------------------- large exports


async def test_the_export_holds_everything_streamed_page_by_page(
    api: Api, client: httpx.AsyncClient, runtime: Runtime, stores: dict[str, Any], cs: Api
) -> None:
    """Issue 12, 5: the export stopped at 100 orders and 100 ledger entries and left out
    delivery addresses. 250 of each, streamed from GET /me/export and in exportMyData."""
    (mango,) = await make_variants(runtime, ("BIG-1", "1kg", 100))
    await receive(runtime, stores["WH-1"].id, mango, 1_000)
    member = await shopper(api, "open-hoarder", phone="+8613900139000")
    me = Principal(kind=PrincipalKind.MEMBER, id=member.key)
    for n in range(250):
        await place_order(
            runtime.ordering,
            me,
            Checkout(
                SalesChannel.MINI_PROGRAM,
                [StockLine(mango.id, 1)],
                member.key,
                delivery=DeliveryTo(f"{n} Nanjing East Road, Shanghai", 31.235, 121.48),
            ),
            None,
        )
    agent = Principal(kind=PrincipalKind.STAFF, id=new_id(), role=StaffRole.CS_AGENT)
    for n in range(250):
        await adjust_points(runtime.loyalty, agent, member.key, 1, "goodwill", f"gift-{n}")

    async with client.stream(
        "GET", "/me/export", headers={"Authorization": f"Bearer {member.api.token}"}
    ) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("application/json")
        streamed = json.loads(await response.aread())
    # The stream reads as it writes: the record first, then a page (100 items) at a time,
    # each in a transaction of its own, items written one by one.
    stream = export_stream(runtime.members, me)
    first = await anext(stream)
    assert '"orders"' not in first and first.startswith('{"format"')
    with count_sql(cold=False) as statements:
        rest = [chunk async for chunk in stream]
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) >= 3 + 3  # orders and entries, 250 each: three pages each
    assert len(rest) > 500
    assert json.loads(first + "".join(rest)) == {**streamed, "exportedAt": ANY}
    document = (await member.api.data(EXPORT))["exportMyData"]["document"]
    for export in (streamed, document):
        orders = export["orders"]
        assert len(orders) == 250 and len({o["number"] for o in orders}) == 250
        assert {o["deliveryAddress"] for o in orders} == {
            f"{n} Nanjing East Road, Shanghai" for n in range(250)
        }
        assert [e["kind"] for e in export["pointsEntries"]] == ["ADJUST"] * 250
        assert export["points"] == {"balance": 250, "tier": "MEMBER"}

    # Only the member themself, with a valid token.
    assert (await client.get("/me/export")).status_code == 401
    staff = await client.get("/me/export", headers={"Authorization": f"Bearer {cs.token}"})
    assert (staff.status_code, staff.json()["errors"][0]["extensions"]["code"]) == (
        403,
        "FORBIDDEN",
    )


async def test_an_account_with_paid_uncollected_orders_is_not_deleted(
    api: Api, client: httpx.AsyncClient, runtime: Runtime, stores: dict[str, Any], cs: Api
) -> None:
    """Issue 12, 5: deleting orphaned paid orders. Refused while one is paid and not handed
    over or refunded; an unpaid one is cancelled with the deletion (its stock released)."""
    (mango,) = await make_variants(runtime, ("DEL-1", "1kg", 990))
    await receive(runtime, stores["SH-A"].id, mango, 10)
    member = await shopper(api, "open-leaver")
    at_a = encode_id("Location", stores["SH-A"].id)
    paid = await placed(member.api, order_input([(mango, 1)], pickup=at_a))
    await pay_online(client, runtime, member, paid)
    unpaid = await placed(member.api, order_input([(mango, 2)], pickup=at_a))

    refused = (await member.api.data(DELETE, {"confirm": True}))["deleteMyAccount"]
    assert refused["ok"] is False
    [error] = refused["errors"]
    assert error["code"] == "OPEN_ORDERS" and paid["number"] in error["message"]
    assert unpaid["number"] not in error["message"]
    assert (await MemberRow.get(id=member.key)).status == "ACTIVE"
    assert await MemberIdentityRow.filter(member_id=member.key).count() == 1
    assert (await read(cs, unpaid["id"]))["status"] == "PENDING_PAYMENT"

    cancelled = await cs.data(
        'mutation($o: ID!) { cancelOrder(input: {orderId: $o, reason: "customer asked"}) '
        "{ errors { code } } }",
        {"o": paid["id"]},
    )
    assert cancelled["cancelOrder"]["errors"] == []  # refunded: nothing owed any more
    done = (await member.api.data(DELETE, {"confirm": True}))["deleteMyAccount"]
    assert done == {"ok": True, "errors": []}
    assert (await read(cs, unpaid["id"]))["status"] == "CANCELLED"
    assert await level(runtime, stores["SH-A"].id, mango) == (10, 0)
