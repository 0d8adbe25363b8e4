"""Customer service acting for a member (issue 16): consents, data export, deletion, pausing
and cancelling a subscription, each with a reason written to the staff action log in the
same transaction as the change."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from infra.db.models.desk import StaffNoteRow
from infra.db.models.identity import StaffActionRow
from infra.db.models.members import ConsentRecordRow, PiiAccessRow
from infra.runtime import Runtime
from tests.support.api import Api
from tests.support.payloads import codes
from tests.support.world import World, paid_pickup, principals, weekly_subscription

CONSENTS = """
mutation($m: ID!, $reason: String!) {
  updateConsentsForMember(input: {memberId: $m, reason: $reason, policyVersion: "2026-10",
      changes: [{purpose: MARKETING_SMS, granted: true}]}) {
    consents { history { purpose granted channel } }
    errors { code field }
  }
}"""

EXPORT = """
mutation($m: ID!) {
  exportMemberData(input: {memberId: $m, reason: "ticket 7: asked by e-mail"}) {
    document errors { code }
  }
}"""

DELETE = """
mutation($m: ID!, $confirm: Boolean!) {
  deleteMemberAccount(input: {memberId: $m, reason: "ticket 9: phoned in", confirm: $confirm}) {
    ok errors { code field }
  }
}"""

PAUSE = """
mutation($m: ID!, $s: ID!) {
  pauseSubscriptionForMember(input: {memberId: $m, id: $s, reason: "travelling, ticket 3"}) {
    subscription { status history { what actor } } errors { code field }
  }
}"""

CANCEL = """
mutation($m: ID!, $s: ID!) {
  cancelSubscriptionForMember(input: {memberId: $m, id: $s, reason: "moved away, ticket 4"}) {
    subscription { status } errors { code field }
  }
}"""

AUDIT = "{ staffActions { nodes { actor action subject reason } } }"


@pytest.fixture
async def world(api: Api, runtime: Runtime, stores: dict[str, Any]) -> World:
    return await principals(api, runtime, stores)


def as_(world: World, who: str) -> Api:
    return world.api.as_(world.tokens[who])


async def audit(world: World) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = (await as_(world, "admin").data(AUDIT))["staffActions"]["nodes"]
    return nodes


async def test_consents_for_a_member_are_recorded_on_channel_cs_with_the_reason(
    world: World,
) -> None:
    cs = as_(world, "cs_agent")
    short = (await cs.data(CONSENTS, {"m": world.member_a.id, "reason": " x "}))[
        "updateConsentsForMember"
    ]
    assert codes(short) == ["INVALID_INPUT"] and short["errors"][0]["field"] == ["input", "reason"]
    assert await ConsentRecordRow.all().count() == 0 and await StaffActionRow.all().count() == 0

    done = (await cs.data(CONSENTS, {"m": world.member_a.id, "reason": "phoned in, ticket 5"}))[
        "updateConsentsForMember"
    ]
    assert done["errors"] == [], done
    assert done["consents"]["history"] == [
        {"purpose": "MARKETING_SMS", "granted": True, "channel": "CS"}
    ]
    [entry] = await audit(world)
    assert entry["action"] == "CONSENTS_FOR_MEMBER" and entry["actor"].startswith("STAFF:")
    assert entry["reason"] == "phoned in, ticket 5"
    assert entry["subject"].startswith("member:")
    # The member sees the change in their own history.
    mine = await world.member_a.api.data("{ me { consents { history { channel granted } } } }")
    assert mine["me"]["consents"]["history"] == [{"channel": "CS", "granted": True}]


async def test_an_export_for_a_member_is_logged_as_a_pii_read(world: World) -> None:
    cs = as_(world, "cs_agent")
    payload = (await cs.data(EXPORT, {"m": world.member_a.id}))["exportMemberData"]
    assert payload["errors"] == [], payload
    assert payload["document"]["format"].startswith("omnishelf.member-export/")
    [read] = await PiiAccessRow.all()
    assert read.reason == "export: ticket 7: asked by e-mail" and read.actor.startswith("STAFF:")
    assert [e["action"] for e in await audit(world)] == ["EXPORT_FOR_MEMBER"]


async def test_a_deletion_for_a_member_is_the_same_erasure_and_refused_without_trace(
    client: httpx.AsyncClient, runtime: Runtime, world: World
) -> None:
    cs = as_(world, "cs_agent")
    unconfirmed = (await cs.data(DELETE, {"m": world.member_b.id, "confirm": False}))[
        "deleteMemberAccount"
    ]
    assert codes(unconfirmed) == ["INVALID_INPUT"]
    await paid_pickup(client, runtime, world, world.member_a, "SH-A")
    open_orders = (await cs.data(DELETE, {"m": world.member_a.id, "confirm": True}))[
        "deleteMemberAccount"
    ]
    assert codes(open_orders) == ["OPEN_ORDERS"]
    assert await StaffActionRow.all().count() == 0  # the refusal rolled the record back

    note = 'mutation($m: ID!) { addNote(input: {subjectId: $m, text: "lives nearby"}) {\n'
    note += "errors { code } } }"
    assert (await cs.data(note, {"m": world.member_b.id}))["addNote"]["errors"] == []
    erased = (await cs.data(DELETE, {"m": world.member_b.id, "confirm": True}))[
        "deleteMemberAccount"
    ]
    assert erased == {"ok": True, "errors": []}
    member = await cs.data(
        "query($id: ID!) { member(id: $id) { status } }", {"id": world.member_b.id}
    )
    assert member["member"]["status"] == "ERASED"
    assert [e["action"] for e in await audit(world)] == ["DELETE_FOR_MEMBER"]
    assert await StaffNoteRow.all().count() == 0  # notes on an erased member go with it


async def test_a_subscription_paused_and_cancelled_for_its_member_only(
    runtime: Runtime, world: World
) -> None:
    cs = as_(world, "cs_agent")
    subscription = await weekly_subscription(runtime, world, world.member_a, "SH-A")
    other = (await cs.data(PAUSE, {"m": world.member_b.id, "s": subscription}))[
        "pauseSubscriptionForMember"
    ]
    assert codes(other) == ["NOT_FOUND"] and other["subscription"] is None
    paused = (await cs.data(PAUSE, {"m": world.member_a.id, "s": subscription}))[
        "pauseSubscriptionForMember"
    ]
    assert paused["errors"] == [] and paused["subscription"]["status"] == "PAUSED", paused
    assert paused["subscription"]["history"][-1]["what"] == "PAUSED"
    assert paused["subscription"]["history"][-1]["actor"].startswith("STAFF:")
    cancelled = (await cs.data(CANCEL, {"m": world.member_a.id, "s": subscription}))[
        "cancelSubscriptionForMember"
    ]
    assert cancelled == {"subscription": {"status": "CANCELLED"}, "errors": []}
    actions = [e["action"] for e in await audit(world)]
    assert actions.count("PAUSE_SUBSCRIPTION_FOR_MEMBER") == 1
    assert actions.count("CANCEL_SUBSCRIPTION_FOR_MEMBER") == 1
    # Store staff may not act for members.
    body = await as_(world, "manager_a")(CANCEL, {"m": world.member_a.id, "s": subscription})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
