"""Tags, member facts and RFM (engagement, issue 19) over the API: ADMIN defines tags (bad
input is refused with a code and changes nothing); CS tags any member and a store manager only
members with an order at their stores, with a reason recorded, a repeat changing nothing;
tags are for staff, never the member; member search filters by tags; facts follow orders and a
refund in the payment's transaction, and the nightly rebuild gives the same rows; RFM scores
on a known world; a merge moves facts and tags to the survivor, erasure deletes them; a page of
members reads tags and facts in a number of statements that does not grow with the page."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest

from domain.catalog.model import Variant
from domain.engagement.facts import rebuild_member_facts
from domain.engagement.rfm import scores, segment_of
from domain.identity.model import StaffRole
from infra.db.models.facts import MemberFactsRow
from infra.db.models.identity import StaffActionRow
from infra.db.models.tags import MemberTagRow
from infra.repositories.facts import FACT_COLUMNS
from infra.runtime import Runtime
from tests.support import count_sql, is_postgres
from tests.support.api import Api, relogin, staff_api
from tests.support.clock import MovableClock
from tests.support.orders import (
    CANCEL,
    lid,
    make_variants,
    order_input,
    pay_online,
    placed,
    receive,
)
from tests.support.shoppers import Shopper, shopper

PRICE = 3000
CREATE = """mutation($i: CreateTagInput!) { createTag(input: $i) {
  tag { id name kind rule } errors { code field } } }"""
TAG = """mutation($i: TagMemberInput!) { tagMember(input: $i) {
  added tag { name } errors { code field } } }"""
UNTAG = """mutation($i: TagMemberInput!) { untagMember(input: $i) {
  removed errors { code field } } }"""
TAGS_OF = """query($id: ID!) { node(id: $id) { ... on Member {
  tags { tag { name } actor reason } } } }"""
LOOKUP = """query($p: String!) { lookupMember(input: {phone: $p}) {
  tags { tag { name } actor reason } } }"""
MY_TAGS = "{ me { tags { tag { name } } facts { orders30 } rfm { segment } } }"
FACTS = """query($id: ID!) { node(id: $id) { ... on Member {
  facts { firstOrderAt lastOrderAt lastOrderDays orders30 orders365 spend30 spend365
          avgOrderValue preferredChannel preferredStore { id } tier pointsBalance
          marketingSms referralsCount groupBuysCount }
  rfm { rScore fScore mScore segment } } } }"""
SEARCH = """query($q: String!, $t: [ID!]) { members(search: $q, tagIds: $t, first: 20) {
  nodes { id } } }"""
SUMMARY = "{ rfmSummary { segment members } }"


@pytest.fixture
async def mango(runtime: Runtime, stores: dict[str, Any]) -> Variant:
    [variant] = await make_variants(runtime, ("MANGO", "1kg", PRICE))
    await receive(runtime, stores["SH-A"].id, variant, 60)
    return variant


@pytest.fixture
async def cs(api: Api, runtime: Runtime) -> Api:
    return await staff_api(api, runtime, "tag-cs", StaffRole.CS_AGENT, [])


@pytest.fixture
async def manager_b(api: Api, runtime: Runtime, stores: dict[str, Any]) -> Api:
    return await staff_api(api, runtime, "manager-b", StaffRole.STORE_MANAGER, [stores["SH-B"]])


async def _tag(admin: Api, name: str, kind: str = "MANUAL", rule: str | None = None) -> str:
    made = await admin.data(CREATE, {"i": {"name": name, "kind": kind, "rule": rule}})
    assert made["createTag"]["errors"] == [], made
    tag_id: str = made["createTag"]["tag"]["id"]
    return tag_id


async def _paid(
    client: httpx.AsyncClient, runtime: Runtime, who: Shopper, stores: dict[str, Any], v: Variant
) -> dict[str, Any]:
    order = await placed(who.api, order_input([(v, 1)], pickup=lid(stores, "SH-A")))
    await pay_online(client, runtime, who, order)
    return order


async def _facts_rows() -> dict[Any, tuple[Any, ...]]:
    rows = await MemberFactsRow.all()
    columns = [c for c in FACT_COLUMNS if c != "updated_at"]
    return {r.member_id: tuple(getattr(r, c) for c in columns) for r in rows}


async def test_admin_defines_tags_and_bad_input_changes_nothing(admin: Api, cs: Api) -> None:
    vip = await _tag(admin, "VIP")
    auto = await _tag(admin, "Frequent", "AUTOMATIC", "orders_365 >= 3")
    refused = [
        ({"name": "VIP", "kind": "MANUAL"}, "TAG_EXISTS", ["input", "name"]),
        ({"name": "  ", "kind": "MANUAL"}, "INVALID_INPUT", ["input", "name"]),
        ({"name": "X", "kind": "AUTOMATIC", "rule": "age > 3"}, "INVALID_TAG_RULE", None),
        ({"name": "Y", "kind": "AUTOMATIC"}, "INVALID_TAG_RULE", None),
        ({"name": "Z", "kind": "AUTOMATIC", "rule": "orders_30 >= x"}, "INVALID_TAG_RULE", None),
        ({"name": "W", "kind": "MANUAL", "rule": "orders_30 >= 1"}, "INVALID_TAG_RULE", None),
    ]
    for given, code, field in refused:
        errors = (await admin.data(CREATE, {"i": given}))["createTag"]["errors"]
        assert [e["code"] for e in errors] == [code], given
        assert field is None or errors[0]["field"] == field
    listed = (await cs.data("{ tags { id name kind rule } }"))["tags"]
    assert [(t["id"], t["name"], t["kind"], t["rule"]) for t in listed] == [
        (auto, "Frequent", "AUTOMATIC", "orders_365 >= 3"),
        (vip, "VIP", "MANUAL", None),
    ]
    forbidden = await cs(CREATE, {"i": {"name": "Nope", "kind": "MANUAL"}})
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_manual_tags_follow_the_notes_scope_and_are_recorded(
    api: Api,
    client: httpx.AsyncClient,
    runtime: Runtime,
    admin: Api,
    cs: Api,
    manager_a: Api,
    manager_b: Api,
    clerk_a: Api,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    vip = await _tag(admin, "VIP")
    auto = await _tag(admin, "Frequent", "AUTOMATIC", "orders_365 >= 3")
    buyer = await shopper(api, "buyer", phone="13800138041")
    await _paid(client, runtime, buyer, stores, mango)  # an order at SH-A
    stranger = await shopper(api, "stranger")  # no order anywhere

    def tag_input(who: Shopper, tag: str = vip, reason: str = "big spender") -> dict[str, Any]:
        return {"i": {"memberId": who.id, "tagId": tag, "reason": reason}}

    first = (await manager_a.data(TAG, tag_input(buyer)))["tagMember"]
    assert first == {"added": True, "tag": {"name": "VIP"}, "errors": []}
    again = (await manager_a.data(TAG, tag_input(buyer, reason="again")))["tagMember"]
    assert again["added"] is False and again["errors"] == []
    for caller, who in ((manager_b, buyer), (manager_a, stranger)):
        errors = (await caller.data(TAG, tag_input(who)))["tagMember"]["errors"]
        assert errors == [{"code": "NOT_FOUND", "field": ["input", "memberId"]}]
    assert (await cs.data(TAG, tag_input(stranger)))["tagMember"]["added"] is True
    bad = [
        (tag_input(buyer, auto), "TAG_NOT_MANUAL"),
        (tag_input(buyer, reason=" "), "INVALID_INPUT"),
        ({"i": {"memberId": buyer.id, "tagId": buyer.id, "reason": "r"}}, "INVALID_ID"),
    ]
    for given, code in bad:
        assert [e["code"] for e in (await cs.data(TAG, given))["tagMember"]["errors"]] == [code]
    assert await MemberTagRow.all().count() == 2  # refusals changed nothing

    seen = (await clerk_a.data(LOOKUP, {"p": "13800138041"}))["lookupMember"]["tags"]
    assert seen == [{"tag": {"name": "VIP"}, "actor": seen[0]["actor"], "reason": "big spender"}]
    assert seen[0]["actor"].startswith("STAFF:")
    assert (await manager_b.data(LOOKUP, {"p": "13800138041"}))["lookupMember"]["tags"] is None
    assert (await cs.data(TAGS_OF, {"id": buyer.id}))["node"]["tags"] == seen
    mine = (await buyer.api.data(MY_TAGS))["me"]
    assert mine == {"tags": None, "facts": None, "rfm": None}  # never shown to the member
    logged = await StaffActionRow.filter(action="TAG_MEMBER").values_list("subject", flat=True)
    assert sorted(logged) == sorted([f"member:{buyer.key}", f"member:{stranger.key}"])

    assert (await manager_a.data(UNTAG, tag_input(buyer)))["untagMember"]["removed"] is True
    assert (await manager_a.data(UNTAG, tag_input(buyer)))["untagMember"]["removed"] is False
    assert await StaffActionRow.filter(action="UNTAG_MEMBER").count() == 1


async def test_member_search_filters_by_tags(api: Api, admin: Api, cs: Api) -> None:
    vip, late = await _tag(admin, "VIP"), await _tag(admin, "Late payer")
    ann = await shopper(api, "ann", name="Tagged Ann")
    bob = await shopper(api, "bob", name="Tagged Bob")
    await shopper(api, "cat", name="Tagged Cat")
    for who, tag in ((ann, vip), (bob, vip), (bob, late)):
        variables = {"i": {"memberId": who.id, "tagId": tag, "reason": "r"}}
        assert (await cs.data(TAG, variables))["tagMember"]["added"] is True

    async def found(search: str | None, tags: list[str]) -> set[str]:
        nodes = (await cs.data(SEARCH, {"q": search or "", "t": tags}))["members"]["nodes"]
        return {n["id"] for n in nodes}

    assert await found(None, [vip]) == {ann.id, bob.id}
    assert await found(None, [vip, late]) == {bob.id}
    assert await found("Tagged", [late]) == {bob.id}
    assert len(await found("Tagged", [])) == 3
    empty = await cs(SEARCH, {"q": "", "t": []})
    assert empty["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


async def test_facts_follow_orders_and_a_refund_and_the_rebuild_agrees(
    api: Api,
    client: httpx.AsyncClient,
    runtime: Runtime,
    clock: MovableClock,
    cs: Api,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    buyer = await shopper(api, "facts-buyer")
    first = await _paid(client, runtime, buyer, stores, mango)
    clock.advance(timedelta(days=40))
    buyer, cs = await shopper(api, "facts-buyer"), await relogin(api, "tag-cs")  # tokens expired
    await _paid(client, runtime, buyer, stores, mango)
    refunded = await _paid(client, runtime, buyer, stores, mango)
    facts = (await cs.data(FACTS, {"id": buyer.id}))["node"]["facts"]
    assert (facts["orders30"], facts["orders365"]) == (2, 3)
    assert (facts["spend30"], facts["spend365"], facts["avgOrderValue"]) == (
        2 * PRICE,
        3 * PRICE,
        PRICE,
    )
    assert facts["firstOrderAt"] < facts["lastOrderAt"] and facts["lastOrderDays"] == 0
    assert facts["preferredStore"] == {"id": lid(stores, "SH-A")}
    assert facts["preferredChannel"] == first["channel"]

    # A paid order cancelled: its money goes back, it no longer counts.
    cancelled = await cs.data(CANCEL, {"o": refunded["id"], "r": "customer asked"})
    assert cancelled["cancelOrder"]["errors"] == [], cancelled
    facts = (await cs.data(FACTS, {"id": buyer.id}))["node"]["facts"]
    assert (facts["orders30"], facts["orders365"], facts["spend365"]) == (1, 2, 2 * PRICE)

    incremental = await _facts_rows()
    assert set(incremental) == {buyer.key}  # only members with events so far
    done = await rebuild_member_facts(runtime.member_facts)
    rebuilt = await _facts_rows()
    assert done.members == len(rebuilt) and rebuilt[buyer.key] == incremental[buyer.key]
    again = await rebuild_member_facts(runtime.member_facts)  # idempotent
    assert again.members == done.members and await _facts_rows() == rebuilt


@pytest.mark.usefixtures("cs")
async def test_the_preferred_store_is_the_most_ordered_in_a_year_then_the_latest(
    api: Api,
    client: httpx.AsyncClient,
    runtime: Runtime,
    clock: MovableClock,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    """Orders that count in 365 days, per store: the most, a tie to the latest; the event's
    refresh and the rebuild agree at each step."""
    await receive(runtime, stores["SH-B"].id, mango, 20)

    async def orders(store: str, count: int) -> str:
        buyer = await shopper(api, "facts-stores")  # a fresh session: the clock moves
        for _ in range(count):
            order = await placed(buyer.api, order_input([(mango, 1)], pickup=lid(stores, store)))
            await pay_online(client, runtime, buyer, order)
        cs = await relogin(api, "tag-cs")
        facts = (await cs.data(FACTS, {"id": buyer.id}))["node"]["facts"]
        assert facts["preferredChannel"] == order["channel"]
        before = await _facts_rows()
        await rebuild_member_facts(runtime.member_facts)
        assert await _facts_rows() == before
        return str(facts["preferredStore"]["id"])

    a, b = lid(stores, "SH-A"), lid(stores, "SH-B")
    assert await orders("SH-A", 2) == a
    clock.advance(timedelta(days=10))
    assert await orders("SH-B", 2) == b  # 2 each: the latest
    assert await orders("SH-A", 2) == a  # 4 to 2
    clock.advance(timedelta(days=360))
    assert await orders("SH-B", 1) == b  # the first two at SH-A are over a year old: 2 to 3


async def test_rfm_scores_and_segments_on_a_known_world(
    api: Api,
    client: httpx.AsyncClient,
    runtime: Runtime,
    clock: MovableClock,
    admin: Api,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    members = []
    for n in range(1, 6):  # member n orders n times, later than member n - 1
        who = await shopper(api, f"rfm-{n}")
        for _ in range(n):
            await _paid(client, runtime, who, stores, mango)
        clock.advance(timedelta(minutes=1))
        members.append(who)
    idle = await shopper(api, "rfm-idle")
    await rebuild_member_facts(runtime.member_facts)

    counts = list(range(1, 6))
    expected = list(
        zip(scores(counts), scores(counts), scores([c * PRICE for c in counts]), strict=True)
    )
    assert expected == [(1, 1, 1), (2, 2, 2), (3, 3, 3), (4, 4, 4), (5, 5, 5)]
    for who, (r, f, m) in zip(members, expected, strict=True):
        rfm = (await admin.data(FACTS, {"id": who.id}))["node"]["rfm"]
        assert rfm == {"rScore": r, "fScore": f, "mScore": m, "segment": segment_of(r, f, m).name}
    assert (await admin.data(FACTS, {"id": idle.id}))["node"]["rfm"] is None
    summary = {s["segment"]: s["members"] for s in (await admin.data(SUMMARY))["rfmSummary"]}
    assert summary == {
        "CHAMPIONS": 2,
        "LOYAL": 0,
        "POTENTIAL": 1,
        "AT_RISK": 0,
        "HIBERNATING": 1,
        "LOST": 1,
    }

    # An automatic tag follows its rule at the rebuild.
    frequent = await _tag(admin, "Frequent", "AUTOMATIC", "orders_365 >= 4")
    await rebuild_member_facts(runtime.member_facts)
    tagged = {r.member_id for r in await MemberTagRow.all()}
    assert tagged == {members[3].key, members[4].key}
    nodes = (await admin.data(SEARCH, {"q": "", "t": [frequent]}))["members"]["nodes"]
    assert {n["id"] for n in nodes} == {members[3].id, members[4].id}


MERGE = """mutation($s: ID!, $t: ID!) { mergeMembers(input: {sourceMemberId: $s,
  targetMemberId: $t, reason: "same person"}) { errors { code } } }"""
DELETE = "mutation { deleteMyAccount(input: {confirm: true}) { ok errors { code } } }"


async def test_a_merge_moves_facts_and_tags_and_erasure_deletes_them(
    api: Api,
    client: httpx.AsyncClient,
    runtime: Runtime,
    admin: Api,
    cs: Api,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    vip, late = await _tag(admin, "VIP"), await _tag(admin, "Late payer")
    kept = await shopper(api, "kept")
    gone = await shopper(api, "gone")
    await _paid(client, runtime, kept, stores, mango)
    await _paid(client, runtime, gone, stores, mango)
    for who, tag in ((kept, vip), (gone, vip), (gone, late)):
        variables = {"i": {"memberId": who.id, "tagId": tag, "reason": "r"}}
        assert (await cs.data(TAG, variables))["tagMember"]["added"] is True

    merged = await cs.data(MERGE, {"s": gone.id, "t": kept.id})
    assert merged["mergeMembers"]["errors"] == [], merged
    facts = (await cs.data(FACTS, {"id": kept.id}))["node"]["facts"]
    assert (facts["orders365"], facts["spend365"]) == (2, 2 * PRICE)
    assert await MemberFactsRow.filter(member_id=gone.key).count() == 0
    tags = (await cs.data(TAGS_OF, {"id": kept.id}))["node"]["tags"]
    assert sorted(t["tag"]["name"] for t in tags) == ["Late payer", "VIP"]
    assert await MemberTagRow.filter(member_id=gone.key).count() == 0
    incremental = await _facts_rows()
    await rebuild_member_facts(runtime.member_facts)
    assert (await _facts_rows())[kept.key] == incremental[kept.key]

    leaving = await shopper(api, "leaving")
    variables = {"i": {"memberId": leaving.id, "tagId": vip, "reason": "r"}}
    assert (await cs.data(TAG, variables))["tagMember"]["added"] is True
    await rebuild_member_facts(runtime.member_facts)
    assert await MemberFactsRow.filter(member_id=leaving.key).count() == 1
    deleted = (await leaving.api.data(DELETE))["deleteMyAccount"]
    assert deleted == {"ok": True, "errors": []}
    assert await MemberFactsRow.filter(member_id=leaving.key).count() == 0
    assert await MemberTagRow.filter(member_id=leaving.key).count() == 0


LIST = """query($q: String!) { members(search: $q, first: 20) { nodes { id
  tags { tag { name } actorName } facts { orders365 preferredStore { id } } rfm { segment } } } }"""


async def test_a_page_of_members_reads_tags_and_facts_in_constant_statements(
    api: Api, runtime: Runtime, admin: Api, cs: Api
) -> None:
    vip = await _tag(admin, "VIP")

    async def listed(n: int) -> None:
        who = await shopper(api, f"page-{n}", name=f"Paged{n}")
        variables = {"i": {"memberId": who.id, "tagId": vip, "reason": "r"}}
        assert (await cs.data(TAG, variables))["tagMember"]["added"] is True

    async def statements(count: int) -> int:
        await rebuild_member_facts(runtime.member_facts)
        with count_sql() as seen:
            nodes = (await cs.data(LIST, {"q": "Paged"}))["members"]["nodes"]
        assert len(nodes) == count
        assert all(n["tags"][0]["tag"]["name"] == "VIP" and n["facts"] for n in nodes)
        return len(seen)

    await listed(1)
    one = await statements(1)
    for n in (2, 3, 4):
        await listed(n)
    assert await statements(4) == one


async def test_concurrent_taggings_of_one_member_leave_one_tag_and_one_record(
    api: Api, runtime: Runtime, admin: Api, cs: Api
) -> None:
    if not is_postgres(runtime.settings.database_url):
        pytest.skip("SQLite runs one writer at a time")
    vip = await _tag(admin, "VIP")
    who = await shopper(api, "raced")
    variables = {"i": {"memberId": who.id, "tagId": vip, "reason": "at once"}}
    payloads = await asyncio.gather(*(cs.data(TAG, variables) for _ in range(8)))
    added = [p["tagMember"]["added"] for p in payloads]
    assert sorted(added) == [False] * 7 + [True]
    assert all(p["tagMember"]["errors"] == [] for p in payloads)
    assert await MemberTagRow.filter(member_id=who.key).count() == 1
    assert await StaffActionRow.filter(action="TAG_MEMBER").count() == 1
