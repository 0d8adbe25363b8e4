"""What a customer-service agent needs all day (issue 16): an order by its number, members by
a phone's last 4 digits or an order number, internal notes, e-invoice requests, readable
actors on timelines, a member's merge history, and the log of the agent's own reveals."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from api.relay import decode_id
from domain.identity.model import StaffRole
from domain.members.services import SUFFIX_SEARCHES, index_phone_suffixes
from infra.db.models.desk import InvoiceRequestRow, StaffNoteRow
from infra.db.models.members import MemberIdentityRow, PiiAccessRow
from infra.runtime import Runtime
from tests.support import count_sql
from tests.support.api import Api, staff_api
from tests.support.orders import order_input, placed, stepped
from tests.support.payloads import codes, top_level_codes
from tests.support.shoppers import shopper
from tests.support.world import World, paid_pickup, principals

BY_NUMBER = """
query($n: String!) {
  orderByNumber(number: $n) { id number timeline { actor actorName } }
}"""

NUMBER = "query($id: ID!) { order(id: $id) { number } }"

SEARCH = """
query($s: String!) {
  members(search: $s) { nodes { id identities { kind masked } } pageInfo { hasNextPage } }
}"""

ENROL = """
mutation($phone: String!) {
  enrolMember(input: {phone: $phone}) { member { id } errors { code } }
}"""

ADD_NOTE = """
mutation($s: ID!, $t: String!) {
  addNote(input: {subjectId: $s, text: $t}) {
    note { id text author authorName createdAt }
    errors { code field message }
  }
}"""

ORDER_NOTES = "query($id: ID!) { order(id: $id) { notes { text authorName } } }"
MEMBER_NOTES = "query($id: ID!) { member(id: $id) { notes { text authorName } } }"
ME_NOTES = "{ me { notes { text } } }"

REQUEST_INVOICE = """
mutation($o: ID!, $title: String!, $tax: String, $email: String!) {
  requestInvoice(input: {orderId: $o, title: $title, taxId: $tax, email: $email}) {
    invoice { id orderId status title taxId email invoiceNumber }
    errors { code field message }
  }
}"""

ORDER_INVOICE = "query($id: ID!) { order(id: $id) { invoice { status title email } } }"

INVOICES = """
query($status: InvoiceStatus) {
  invoiceRequests(status: $status) { nodes { id orderId status title taxId email } }
}"""

ISSUE = """
mutation($id: ID!, $n: String!) {
  markInvoiceIssued(input: {id: $id, invoiceNumber: $n}) {
    invoice { status invoiceNumber }
    errors { code field }
  }
}"""

TIMELINES = """
{ orders(first: 20) { nodes { timeline { actor actorName } } } }"""

REVEAL = """
mutation($id: ID!) {
  revealIdentifiers(input: {memberId: $id, reason: "ticket 42"}) { errors { code } }
}"""

PII_LOG = """
query($mine: Boolean) { piiAccessLog(mine: $mine) { nodes { actor } } }"""


@pytest.fixture
async def world(api: Api, runtime: Runtime, stores: dict[str, Any]) -> World:
    return await principals(api, runtime, stores)


@pytest.fixture
async def order(client: httpx.AsyncClient, runtime: Runtime, world: World) -> str:
    """Member A's paid pickup order at SH-A."""
    return await paid_pickup(client, runtime, world, world.member_a, "SH-A")


def as_(world: World, who: str) -> Api:
    return world.api.as_(world.tokens[who])


async def number_of(world: World, order: str) -> str:
    number: str = (await world.member_a.api.data(NUMBER, {"id": order}))["order"]["number"]
    return number


async def test_order_by_number_for_cs_and_the_stores_own_staff(world: World, order: str) -> None:
    number = await number_of(world, order)
    await stepped(as_(world, "clerk_a"), "startPreparingOrder", order)
    for who in ("cs_agent", "admin", "clerk_a", "manager_a"):
        found = await as_(world, who).data(BY_NUMBER, {"n": f" {number.lower()} "})
        assert found["orderByNumber"]["id"] == order, who
    # Another store's staff: as if there were no such order.
    assert (await as_(world, "clerk_b").data(BY_NUMBER, {"n": number}))["orderByNumber"] is None
    assert (await as_(world, "cs_agent").data(BY_NUMBER, {"n": "0" * 16}))["orderByNumber"] is None
    for who in ("member_a", "pos_a"):
        body = await as_(world, who)(BY_NUMBER, {"n": number})
        assert top_level_codes(body) == ["FORBIDDEN"], body
    bad = await as_(world, "cs_agent")(BY_NUMBER, {"n": "no-such/number"})
    assert top_level_codes(bad) == ["INVALID_INPUT"], bad
    # The timeline names its actors readably: the clerk's username, not `STAFF:<uuid>`.
    timeline = (await as_(world, "cs_agent").data(BY_NUMBER, {"n": number}))["orderByNumber"][
        "timeline"
    ]
    prepared = [e for e in timeline if e["actor"].startswith("STAFF:")]
    assert [e["actorName"] for e in prepared] == ["clerk-a"], timeline
    assert {e["actorName"] for e in timeline} == {"member", "payment provider devpay", "clerk-a"}


async def test_timelines_name_their_actors_in_constant_sql(
    client: httpx.AsyncClient, runtime: Runtime, world: World, order: str
) -> None:
    cs = as_(world, "cs_agent")
    await stepped(as_(world, "clerk_a"), "startPreparingOrder", order)
    with count_sql() as one:
        first = (await cs.data(TIMELINES))["orders"]["nodes"]
    for _ in range(3):
        more = await paid_pickup(client, runtime, world, world.member_b, "SH-A")
        await stepped(as_(world, "manager_a"), "startPreparingOrder", more)
    with count_sql() as four:
        nodes = (await cs.data(TIMELINES))["orders"]["nodes"]
    assert len(first) == 1 and len(nodes) == 4
    names = {e["actorName"] for n in nodes for e in n["timeline"] if e["actor"].startswith("STAFF")}
    assert names == {"clerk-a", "manager-a"}
    assert len(four) == len(one), (one, four)


async def test_members_by_the_last_four_digits_masked_and_by_order_number(
    runtime: Runtime, world: World, order: str
) -> None:
    pos, cs = as_(world, "pos_a"), as_(world, "cs_agent")
    ids = []
    for phone in ("13800138000", "13900139000", "13700131234"):
        payload = (await pos.data(ENROL, {"phone": phone}))["enrolMember"]
        assert payload["errors"] == [], payload
        ids.append(payload["member"]["id"])
    found = (await cs.data(SEARCH, {"s": "9000"}))["members"]
    assert [m["id"] for m in found["nodes"]] == [ids[1]]
    found = (await cs.data(SEARCH, {"s": "8000"}))["members"]["nodes"]
    assert [m["id"] for m in found] == [ids[0]]
    [phone] = found[0]["identities"]
    assert phone["kind"] == "PHONE" and "****" in phone["masked"], phone  # masked
    assert (await cs.data(SEARCH, {"s": "5555"}))["members"]["nodes"] == []
    # By order number: the order's member.
    by_order = (await cs.data(SEARCH, {"s": await number_of(world, order)}))["members"]["nodes"]
    assert [m["id"] for m in by_order] == [world.member_a.id]

    # Phones linked before the index existed are found once the backfill ran.
    await MemberIdentityRow.all().update(suffix_hash=None)
    assert (await cs.data(SEARCH, {"s": "1234"}))["members"]["nodes"] == []
    assert await index_phone_suffixes(runtime.members, batch=2) == 3
    assert [m["id"] for m in (await cs.data(SEARCH, {"s": "1234"}))["members"]["nodes"]] == [ids[2]]
    assert await index_phone_suffixes(runtime.members) == 0


async def test_last_four_digit_searches_are_rate_limited_per_agent(
    api: Api, runtime: Runtime, world: World
) -> None:
    limit, _ = SUFFIX_SEARCHES
    cs = as_(world, "cs_agent")
    for _ in range(limit):
        assert top_level_codes(await cs(SEARCH, {"s": "0000"})) == []
    assert top_level_codes(await cs(SEARCH, {"s": "0000"})) == ["TOO_MANY_REQUESTS"]
    # Another agent is not slowed down, nor are other searches of this one.
    other = await staff_api(api, runtime, "cs-two", StaffRole.CS_AGENT, [])
    assert top_level_codes(await other(SEARCH, {"s": "0000"})) == []
    assert top_level_codes(await cs(SEARCH, {"s": "Wang"})) == []


async def test_notes_are_for_staff_only_and_store_staff_note_their_stores_orders(
    world: World, order: str
) -> None:
    clerk_a, clerk_b, cs = as_(world, "clerk_a"), as_(world, "clerk_b"), as_(world, "cs_agent")
    note = (await clerk_a.data(ADD_NOTE, {"s": order, "t": "  asked to hold it till 8pm "}))[
        "addNote"
    ]
    assert note["errors"] == [] and note["note"]["text"] == "asked to hold it till 8pm", note
    assert note["note"]["authorName"] == "clerk-a" and note["note"]["author"].startswith("STAFF:")
    refused = (await clerk_b.data(ADD_NOTE, {"s": order, "t": "mine?"}))["addNote"]
    assert codes(refused) == ["NOT_FOUND"] and refused["note"] is None
    empty = (await cs.data(ADD_NOTE, {"s": order, "t": "   "}))["addNote"]
    assert codes(empty) == ["INVALID_INPUT"] and empty["errors"][0]["field"] == ["input", "text"]
    wrong = (await cs.data(ADD_NOTE, {"s": world.store("SH-A"), "t": "x"}))["addNote"]
    assert codes(wrong) == ["INVALID_ID"]
    member_note = (await cs.data(ADD_NOTE, {"s": world.member_a.id, "t": "prefers SMS"}))["addNote"]
    assert member_note["errors"] == [], member_note

    assert (await cs.data(ORDER_NOTES, {"id": order}))["order"]["notes"] == [
        {"text": "asked to hold it till 8pm", "authorName": "clerk-a"}
    ]
    assert (await cs.data(MEMBER_NOTES, {"id": world.member_a.id}))["member"]["notes"] == [
        {"text": "prefers SMS", "authorName": "cs-agent"}
    ]
    # The member never sees notes, on their order or on themselves.
    owner = world.member_a.api
    assert (await owner.data(ORDER_NOTES, {"id": order}))["order"]["notes"] is None
    assert (await owner.data(ME_NOTES))["me"]["notes"] is None
    assert (await world.member_b.api.data(ME_NOTES))["me"]["notes"] is None
    # Another store's clerk does not read the order at all.
    assert (await clerk_b.data(ORDER_NOTES, {"id": order}))["order"] is None
    # Notes are staff-internal: the member's data export leaves them out (README, "Notes").
    export = (await owner.data("mutation { exportMyData { document } }"))["exportMyData"]
    text = json.dumps(export["document"], ensure_ascii=False)
    assert export["document"]["orders"] and "prefers SMS" not in text and "8pm" not in text


LOOKUP_NOTES = """
query($phone: String!) { lookupMember(input: {phone: $phone}) { id notes { text } } }"""


async def test_store_staff_read_and_write_notes_only_on_members_who_ordered_at_their_stores(
    api: Api, client: httpx.AsyncClient, runtime: Runtime, world: World
) -> None:
    buyer = await shopper(api, "open-notes", phone="13800138000")
    clerk_a, clerk_b, cs = as_(world, "clerk_a"), as_(world, "clerk_b"), as_(world, "cs_agent")
    phone = {"phone": "13800138000"}

    async def seen_by(caller: Api) -> list[str] | None:
        found = (await caller.data(LOOKUP_NOTES, phone))["lookupMember"]
        assert found["id"] == buyer.id
        return None if found["notes"] is None else [n["text"] for n in found["notes"]]

    written = (await cs.data(ADD_NOTE, {"s": buyer.id, "t": "VIP, call first"}))["addNote"]
    assert written["errors"] == [], written
    # No orders anywhere yet: no store's staff read or write notes on this member.
    assert [await seen_by(c) for c in (clerk_a, clerk_b)] == [None, None]
    refused = (await clerk_a.data(ADD_NOTE, {"s": buyer.id, "t": "mine"}))["addNote"]
    assert codes(refused) == ["NOT_FOUND"] and refused["note"] is None

    await paid_pickup(client, runtime, world, buyer, "SH-A")
    added = (await clerk_a.data(ADD_NOTE, {"s": buyer.id, "t": "picks up Fridays"}))["addNote"]
    assert added["errors"] == [], added
    assert await seen_by(clerk_a) == ["VIP, call first", "picks up Fridays"]
    assert await seen_by(as_(world, "manager_a")) == ["VIP, call first", "picks up Fridays"]
    # SH-B's clerk serves the member at the till but reads nothing, writes nothing.
    assert await seen_by(clerk_b) is None
    other = (await clerk_b.data(ADD_NOTE, {"s": buyer.id, "t": "x"}))["addNote"]
    assert codes(other) == ["NOT_FOUND"]
    # The till (a device) never reads notes; CS reads every member's.
    assert await seen_by(as_(world, "pos_a")) is None
    notes = (await cs.data(MEMBER_NOTES, {"id": buyer.id}))["member"]["notes"]
    assert [n["text"] for n in notes] == ["VIP, call first", "picks up Fridays"]
    assert await StaffNoteRow.all().count() == 2


async def invoice_messages(runtime: Runtime, order: str) -> list[tuple[str, dict[str, str]]]:
    """The member's messages about the invoice of the order (member id, data)."""
    found = await runtime.repos.outbox.for_orders([decode_id(order, "Order")])
    return [(str(m.member_id), dict(m.data)) for m in found if m.kind == "INVOICE_ISSUED"]


async def test_invoice_requested_once_by_the_member_sealed_and_issued_by_cs(
    runtime: Runtime, world: World, order: str
) -> None:
    member_a, member_b, cs = world.member_a.api, world.member_b.api, as_(world, "cs_agent")
    title, email = "上海某某科技有限公司", "ap@example.com"
    details = {"o": order, "title": title, "tax": "91310000ma1fl0xx1x", "email": email}
    for who, variables, code, field in (
        (member_b, details, "NOT_FOUND", "orderId"),
        (member_a, {**details, "tax": "123"}, "INVALID_TAX_ID", "taxId"),
        (member_a, {**details, "email": "not-an-address"}, "INVALID_EMAIL", "email"),
        (member_a, {**details, "title": " "}, "INVALID_INPUT", "title"),
    ):
        payload = (await who.data(REQUEST_INVOICE, variables))["requestInvoice"]
        assert codes(payload) == [code] and payload["errors"][0]["field"] == ["input", field]
        assert payload["invoice"] is None
    assert await InvoiceRequestRow.all().count() == 0

    made = (await member_a.data(REQUEST_INVOICE, details))["requestInvoice"]
    assert made["errors"] == [], made
    invoice = made["invoice"]
    assert invoice["status"] == "REQUESTED" and invoice["taxId"] == "91310000MA1FL0XX1X"
    again = (await member_a.data(REQUEST_INVOICE, details))["requestInvoice"]
    assert codes(again) == ["INVOICE_ALREADY_REQUESTED"]
    row = await InvoiceRequestRow.get(order_id=decode_id(order, "Order"))
    assert "ap@example.com" not in row.sealed and "科技" not in row.sealed

    assert (await member_a.data(ORDER_INVOICE, {"id": order}))["order"]["invoice"] == {
        "status": "REQUESTED",
        "title": "上海某某科技有限公司",
        "email": "ap@example.com",
    }
    # Member B never reads A's order, nor its invoice.
    assert (await member_b.data(ORDER_INVOICE, {"id": order}))["order"] is None
    # Store staff see the order but not the invoice's personal data.
    assert (await as_(world, "clerk_a").data(ORDER_INVOICE, {"id": order}))["order"][
        "invoice"
    ] is None

    assert await PiiAccessRow.all().count() == 0  # the member reading their own is no reveal
    queue = (await cs.data(INVOICES, {}))["invoiceRequests"]["nodes"]
    assert [n["id"] for n in queue] == [invoice["id"]] and queue[0]["email"] == "ap@example.com"
    assert await invoice_messages(runtime, order) == []
    # The queue showed the member's title and e-mail: a reveal, in the agent's own log.
    [read] = await PiiAccessRow.all()
    assert (str(read.member_id), read.kinds, read.reason) == (
        str(decode_id(world.member_a.id, "Member")),
        ["INVOICE"],
        "invoicing queue",
    )
    assert (await cs.data(PII_LOG, {"mine": True}))["piiAccessLog"]["nodes"] == [
        {"actor": read.actor}
    ]
    issued = (await cs.data(ISSUE, {"id": invoice["id"], "n": "24312000000012345678"}))[
        "markInvoiceIssued"
    ]
    assert issued == {
        "invoice": {"status": "ISSUED", "invoiceNumber": "24312000000012345678"},
        "errors": [],
    }
    twice = (await cs.data(ISSUE, {"id": invoice["id"], "n": "999"}))["markInvoiceIssued"]
    assert codes(twice) == ["INVOICE_ALREADY_ISSUED"]
    # The member is told once, through the outbox, with the number (not the e-mail address).
    [(member_id, data)] = await invoice_messages(runtime, order)
    assert member_id == str(decode_id(world.member_a.id, "Member"))
    assert data["order_number"] == await number_of(world, order)
    assert data["invoice_number"] == "24312000000012345678" and email not in data.values()
    # Issuing showed the details to the caller: a second read; an empty page reveals nothing.
    assert (await cs.data(INVOICES, {}))["invoiceRequests"]["nodes"] == []
    assert sorted(r.reason for r in await PiiAccessRow.all()) == [
        "invoice issued",
        "invoicing queue",
    ]
    issued_queue = (await cs.data(INVOICES, {"status": "ISSUED"}))["invoiceRequests"]["nodes"]
    assert [n["id"] for n in issued_queue] == [invoice["id"]]
    stored = await InvoiceRequestRow.get(id=row.id)
    assert stored.invoice_number == "24312000000012345678"
    # The member's data export lists it, decrypted.
    export = (await member_a.data("mutation { exportMyData { document } }"))["exportMyData"]
    assert export["document"]["invoiceRequests"] == [
        {
            "orderId": str(decode_id(order, "Order")),
            "status": "ISSUED",
            "title": title,
            "taxId": "91310000MA1FL0XX1X",
            "email": email,
            "requestedAt": export["document"]["invoiceRequests"][0]["requestedAt"],
            "invoiceNumber": "24312000000012345678",
        }
    ]


async def test_no_invoice_for_an_unpaid_order(world: World) -> None:
    unpaid = await placed(
        world.member_a.api, order_input([(world.mango, 1)], pickup=world.store("SH-A"))
    )
    payload = (
        await world.member_a.api.data(
            REQUEST_INVOICE, {"o": unpaid["id"], "title": "Wang Fang", "email": "f@example.com"}
        )
    )["requestInvoice"]
    assert codes(payload) == ["ORDER_NOT_PAID"]


async def test_cs_reads_only_its_own_reveals_admin_everyones(
    api: Api, runtime: Runtime, world: World
) -> None:
    cs, admin = as_(world, "cs_agent"), as_(world, "admin")
    other = await staff_api(api, runtime, "cs-two", StaffRole.CS_AGENT, [])
    for agent in (cs, other):
        assert (await agent.data(REVEAL, {"id": world.member_a.id}))["revealIdentifiers"][
            "errors"
        ] == []
    mine = (await cs.data(PII_LOG, {}))["piiAccessLog"]["nodes"]
    theirs = (await other.data(PII_LOG, {"mine": False}))["piiAccessLog"]["nodes"]
    assert len(mine) == 1 and len(theirs) == 1 and mine != theirs
    assert len((await admin.data(PII_LOG, {}))["piiAccessLog"]["nodes"]) == 2
    assert (await admin.data(PII_LOG, {"mine": True}))["piiAccessLog"]["nodes"] == []


MERGE = """
mutation($source: ID!, $target: ID!) {
  mergeMembers(input: {sourceMemberId: $source, targetMemberId: $target, reason: "one person"}) {
    errors { code }
  }
}"""

HISTORY = """
query($id: ID!) {
  member(id: $id) { mergeHistory { sourceMemberId targetMemberId reason actorName } }
}"""


async def test_a_members_merge_history_names_who_merged_and_notes_follow(world: World) -> None:
    cs = as_(world, "cs_agent")
    source, target = world.member_b.id, world.member_a.id
    assert (await cs.data(ADD_NOTE, {"s": source, "t": "second account"}))["addNote"][
        "errors"
    ] == []
    assert (await cs.data(MERGE, {"source": source, "target": target}))["mergeMembers"][
        "errors"
    ] == []
    history = (await cs.data(HISTORY, {"id": target}))["member"]["mergeHistory"]
    assert history == [
        {
            "sourceMemberId": source,
            "targetMemberId": target,
            "reason": "one person",
            "actorName": "cs-agent",
        }
    ]
    notes = (await cs.data(MEMBER_NOTES, {"id": target}))["member"]["notes"]
    assert [n["text"] for n in notes] == ["second account"]
    # The member's own view has no merge history.
    me = await world.member_a.api.data("{ me { mergeHistory { reason } } }")
    assert me["me"]["mergeHistory"] is None


ADJUST = """
mutation($m: ID!) {
  adjustPoints(input: {memberId: $m, delta: 50, reason: "late delivery"}) { errors { code } }
}"""

POINTS_HISTORY = """
query($id: ID!) { member(id: $id) { points { history { nodes { actor actorName } } } } }"""


async def test_the_points_ledger_names_the_agent(world: World) -> None:
    cs = as_(world, "cs_agent")
    assert (await cs.data(ADJUST, {"m": world.member_a.id}))["adjustPoints"]["errors"] == []
    history = (await cs.data(POINTS_HISTORY, {"id": world.member_a.id}))["member"]["points"]
    [entry] = history["history"]["nodes"]
    assert entry["actor"].startswith("STAFF:") and entry["actorName"] == "cs-agent"
