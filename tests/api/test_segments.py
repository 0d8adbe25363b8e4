"""Segments (engagement, issue 19) over the API: ADMIN saves a rule under a name and a wrong
rule is refused with INVALID_RULE saying what and where (nothing is saved); the built-ins exist
once; a segment's size and members are exactly the members `segment_rules.matches` picks from
the facts rows read back; members page by id in a constant number of statements; a store
manager counts only members with an order at their stores; the daily size job is idempotent."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest

from api.relay import decode_id, encode_id
from domain.engagement import segment_rules as rules
from domain.engagement.deps import SegmentDeps
from domain.engagement.segments import facts, record_segment_sizes
from domain.engagement.segments_model import BUILT_INS
from domain.identity.model import StaffRole
from infra.db.models.facts import MemberFactsRow
from infra.db.models.members import PiiAccessRow
from infra.db.models.segments import SegmentSizeRow
from infra.db.models.tags import MemberTagRow, TagRow
from infra.repositories.facts import FACT_COLUMNS
from infra.runtime import Runtime
from tests.support import count_sql
from tests.support.api import Api, relogin, staff_api
from tests.support.clock import MovableClock
from tests.support.orders import lid, make_variants, order_input, pay_online, placed, receive
from tests.support.shoppers import Shopper, shopper

CREATE = """mutation($i: CreateSegmentInput!) { createSegment(input: $i) {
  segment { id name rule builtIn status } errors { code field message } } }"""
UPDATE = """mutation($i: UpdateSegmentInput!) { updateSegment(input: $i) {
  segment { id name rule status } errors { code field message } } }"""
ARCHIVE = """mutation($i: ArchiveSegmentInput!) { archiveSegment(input: $i) {
  segment { status } errors { code } } }"""
LIST = """query($s: SegmentStatus) { segments(status: $s, first: 50) {
  nodes { id name rule builtIn status } } }"""
ONE = """query($id: ID!, $first: Int, $after: String) { segment(id: $id) {
  name size members(first: $first, after: $after) {
    nodes { id displayName } pageInfo { hasNextPage endCursor } } } }"""
PREVIEW = """query($r: String!) { previewSegment(rule: $r) {
  rule size errors { code field message } } }"""
HISTORY = """query($id: ID!) { segment(id: $id) { sizeHistory(days: 30) { day size } } }"""


@pytest.fixture
async def cs(api: Api, runtime: Runtime) -> Api:
    return await staff_api(api, runtime, "seg-cs", StaffRole.CS_AGENT, [])


async def _segment(admin: Api, name: str, rule: str) -> str:
    made = (await admin.data(CREATE, {"i": {"name": name, "rule": rule}}))["createSegment"]
    assert made["errors"] == [], made
    segment_id: str = made["segment"]["id"]
    return segment_id


def _facts(member: UUID, now: datetime, **values: Any) -> MemberFactsRow:
    row: dict[str, Any] = dict.fromkeys(FACT_COLUMNS, 0)
    row |= {c: None for c in ("first_order_at", "last_order_at", "preferred_store_id")}
    row |= {c: None for c in ("preferred_channel", "tier", "birthday", "rfm_segment")}
    row |= {c: None for c in ("r_score", "f_score", "m_score")}
    row |= {"marketing_sms": False, "marketing_wechat": False, "updated_at": now}
    return MemberFactsRow(**(row | {"member_id": member} | values))


async def _members(api: Api, now: datetime) -> list[Shopper]:
    """Eight members with facts around the built-ins' boundaries, one of them tagged 'vip'."""
    people = [await shopper(api, f"seg-{n}", name=f"王{n}") for n in range(8)]
    day = timedelta(days=1)
    shapes: list[dict[str, Any]] = [
        {"first_order_at": now - 3 * day, "last_order_at": now - 3 * day, "orders_30": 1},
        {"first_order_at": now - 400 * day, "last_order_at": now - 59 * day, "orders_365": 4},
        {"first_order_at": now - 400 * day, "last_order_at": now - 60 * day, "orders_365": 2},
        {"first_order_at": now - 200 * day, "last_order_at": now - 95 * day, "orders_365": 1},
        {
            "first_order_at": now - 90 * day,
            "last_order_at": now - day,
            "orders_30": 3,
            "avg_order_value": 80_001,
            "tier": "GOLD",
            "marketing_sms": True,
        },
        {"orders_30": 3, "avg_order_value": 80_000, "last_order_at": now - 29 * day},
        {"rfm_segment": "lost", "last_order_at": now - 89 * day, "marketing_wechat": True},
        {},  # never ordered
    ]
    for person, shape in zip(people, shapes, strict=True):
        await _facts(person.key, now, **shape).save(force_create=True)
    vip = await TagRow.create(
        id=UUID(int=1), name="vip", kind="MANUAL", description="", created_by="t", created_at=now
    )
    await MemberTagRow.create(
        id=UUID(int=2), member_id=people[6].key, tag_id=vip.id, actor="t", reason="r", tagged_at=now
    )
    return people


async def _expected(deps: SegmentDeps, rule: str, now: datetime) -> set[str]:
    """The members `matches` picks from the facts rows as stored (read back)."""
    tree = rules.parse(rule, facts(deps))
    tags: dict[UUID, set[str]] = {}
    names = {t.id: t.name for t in await TagRow.all()}
    for mt in await MemberTagRow.all():
        tags.setdefault(mt.member_id, set()).add(names[mt.tag_id])
    found = set()
    for row in await MemberFactsRow.all():
        values = {c: getattr(row, c) for c in FACT_COLUMNS}
        if rules.matches(tree, values, tags.get(row.member_id, set()), now):
            found.add(encode_id("Member", row.member_id))
    return found


async def test_a_wrong_rule_is_refused_with_what_and_where(
    admin: Api, cs: Api, runtime: Runtime
) -> None:
    await _segment(admin, "Big spenders", "spend_365 >= ¥5000")
    refused = [
        ("last_order_dayz > 60", "INVALID_RULE", "Unknown fact 'last_order_dayz'", "character 1"),
        ("orders_30 >= 2.5", "INVALID_RULE", "compares with a whole number", "character 14"),
        ("tier = 'PLATINUM'", "INVALID_RULE", "tier is one of 'MEMBER', 'SILVER'", "character 8"),
        ("(orders_30 > 1", "INVALID_RULE", "Expected ')'", "character 15"),
        ("TAG 'nobody'", "INVALID_RULE", "No tag is named 'nobody'", ""),
        ("", "INVALID_RULE", "The rule is empty", "character 1"),
    ]
    for rule, code, message, where in refused:
        made = await admin.data(CREATE, {"i": {"name": "New", "rule": rule}})
        [error] = made["createSegment"]["errors"]
        assert (error["code"], error["field"]) == (code, ["input", "rule"]), rule
        assert message in error["message"] and where in error["message"], error
        preview = (await cs.data(PREVIEW, {"r": rule}))["previewSegment"]
        assert [(e["code"], e["field"]) for e in preview["errors"]] == [(code, ["rule"])]
        assert preview["errors"][0]["message"] == error["message"] and preview["size"] is None
    taken = await admin.data(CREATE, {"i": {"name": "Big spenders", "rule": "orders_30 > 1"}})
    assert [e["code"] for e in taken["createSegment"]["errors"]] == ["SEGMENT_EXISTS"]
    blank = await admin.data(CREATE, {"i": {"name": " ", "rule": "orders_30 > 1"}})
    assert [e["code"] for e in blank["createSegment"]["errors"]] == ["INVALID_INPUT"]
    names = [n["name"] for n in (await cs.data(LIST))["segments"]["nodes"]]
    assert "New" not in names and names.count("Big spenders") == 1
    forbidden = await cs(CREATE, {"i": {"name": "CS", "rule": "orders_30 > 1"}})
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # A rule is saved as the language renders it: case, money and keywords normalised.
    saved = await admin.data(
        CREATE, {"i": {"name": "Gold", "rule": "tier = 'gold' and spend_30 > 8"}}
    )
    assert saved["createSegment"]["segment"]["rule"] == "tier = 'GOLD' AND spend_30 > ¥8"


async def test_built_ins_exist_once_editable_and_archived_not_deleted(admin: Api, cs: Api) -> None:
    listed = (await cs.data(LIST))["segments"]["nodes"]
    again = (await admin.data(LIST))["segments"]["nodes"]
    assert listed == again
    built = {n["name"]: n["rule"] for n in listed if n["builtIn"]}
    assert set(built) == {name for name, _ in BUILT_INS}
    assert built["churned"] == "last_order_days >= 90"
    assert built["high_value"] == "orders_30 >= 3 AND avg_order_value > ¥800"
    churned = next(n["id"] for n in listed if n["name"] == "churned")
    edited = await admin.data(UPDATE, {"i": {"id": churned, "rule": "last_order_days >= 120"}})
    assert edited["updateSegment"]["segment"]["rule"] == "last_order_days >= 120"
    bad = await admin.data(UPDATE, {"i": {"id": churned, "rule": "last_order_days >= x"}})
    assert [e["code"] for e in bad["updateSegment"]["errors"]] == ["INVALID_RULE"]
    renamed = await admin.data(UPDATE, {"i": {"id": churned, "name": "new"}})
    assert [e["code"] for e in renamed["updateSegment"]["errors"]] == ["SEGMENT_EXISTS"]
    assert {n["name"] for n in (await cs.data(LIST))["segments"]["nodes"]} >= {"churned", "new"}
    archived = await admin.data(ARCHIVE, {"i": {"id": churned}})
    assert archived["archiveSegment"]["segment"]["status"] == "ARCHIVED"
    active = (await cs.data(LIST, {"s": "ACTIVE"}))["segments"]["nodes"]
    assert "churned" not in {n["name"] for n in active}
    kept = (await cs.data(LIST, {"s": "ARCHIVED"}))["segments"]["nodes"]
    assert [(n["name"], n["rule"]) for n in kept] == [("churned", "last_order_days >= 120")]
    # The archived built-in is not made again.
    assert len((await cs.data(LIST))["segments"]["nodes"]) == len(BUILT_INS)


async def test_size_and_members_are_what_matches_picks(
    api: Api, admin: Api, cs: Api, runtime: Runtime, clock: MovableClock
) -> None:
    now = clock.now()
    await _members(api, now)
    listed = (await cs.data(LIST))["segments"]["nodes"]
    checked = [(n["id"], n["rule"]) for n in listed]
    for rule in (
        "TAG 'vip' OR tier = 'GOLD'",
        "NOT orders_365 >= 2 AND marketing_sms = FALSE",
        "rfm_segment IN ('lost', 'champions') OR marketing_wechat = TRUE",
        "last_order_days NOT IN (59, 60)",
    ):
        checked.append((await _segment(admin, rule[:20], rule), rule))
    sizes = set()
    for segment_id, rule in checked:
        expected = await _expected(runtime.segments, rule, clock.now())
        got = (await cs.data(ONE, {"id": segment_id, "first": 100}))["segment"]
        assert got["size"] == len(expected), rule
        assert {m["id"] for m in got["members"]["nodes"]} == expected, rule
        preview = (await cs.data(PREVIEW, {"r": rule}))["previewSegment"]
        assert (preview["rule"], preview["size"], preview["errors"]) == (rule, len(expected), [])
        sizes.add(len(expected))
    assert len(sizes) > 3  # the world tells the rules apart
    by_name = {n["name"]: n["id"] for n in listed}
    new = (await cs.data(ONE, {"id": by_name["new"], "first": 10}))["segment"]
    assert new["size"] == 1 and new["members"]["nodes"][0]["displayName"] == "王0"


async def test_members_page_by_id_in_constant_statements(
    api: Api, admin: Api, cs: Api, runtime: Runtime, clock: MovableClock
) -> None:
    await _members(api, clock.now())
    everyone = await _segment(admin, "Everyone", "orders_365 >= 0")
    expected = sorted(
        await _expected(runtime.segments, "orders_365 >= 0", clock.now()),
        key=lambda g: decode_id(g, "Member"),
    )
    seen: list[str] = []
    after = None
    while True:
        page = (await cs.data(ONE, {"id": everyone, "first": 3, "after": after}))["segment"]
        seen += [m["id"] for m in page["members"]["nodes"]]
        if not page["members"]["pageInfo"]["hasNextPage"]:
            break
        after = page["members"]["pageInfo"]["endCursor"]
    assert seen == expected and len(seen) == 8

    async def statements(first: int) -> int:
        with count_sql() as sent:
            got = (await cs.data(ONE, {"id": everyone, "first": first}))["segment"]
        assert len(got["members"]["nodes"]) == first
        return len(sent)

    assert await statements(2) == await statements(7)


async def test_a_store_manager_counts_only_their_stores_members(
    api: Api,
    client: httpx.AsyncClient,
    runtime: Runtime,
    admin: Api,
    manager_a: Api,
    stores: dict[str, Any],
    clock: MovableClock,
) -> None:
    manager_b = await staff_api(api, runtime, "seg-mb", StaffRole.STORE_MANAGER, [stores["SH-B"]])
    [mango] = await make_variants(runtime, ("MANGO", "1kg", 3000))
    await receive(runtime, stores["SH-A"].id, mango, 10)
    people = await _members(api, clock.now())
    order = await placed(people[7].api, order_input([(mango, 1)], pickup=lid(stores, "SH-A")))
    await pay_online(client, runtime, people[7], order)
    everyone = await _segment(admin, "Everyone", "orders_365 >= 0")
    seen_a = (await manager_a.data(ONE, {"id": everyone, "first": 50}))["segment"]
    assert seen_a["size"] == 1
    assert [m["id"] for m in seen_a["members"]["nodes"]] == [people[7].id]
    seen_b = (await manager_b.data(ONE, {"id": everyone, "first": 50}))["segment"]
    assert seen_b["size"] == 0 and seen_b["members"]["nodes"] == []
    assert (await manager_b.data(PREVIEW, {"r": "orders_365 >= 0"}))["previewSegment"]["size"] == 0
    whole = await manager_a(HISTORY, {"id": everyone})
    assert whole["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await admin.data(ONE, {"id": everyone}))["segment"]["size"] == 8


async def test_the_size_job_records_one_size_per_day(
    api: Api, admin: Api, cs: Api, runtime: Runtime, clock: MovableClock
) -> None:
    await _members(api, clock.now())
    recent = await _segment(admin, "Recent", "last_order_days < 60")
    gone = await _segment(admin, "Gone", "orders_365 >= 1")
    await admin.data(ARCHIVE, {"i": {"id": gone}})
    recorded = await record_segment_sizes(runtime.segments)
    assert recorded == len(BUILT_INS) + 1
    await record_segment_sizes(runtime.segments)  # the same day again: the same rows
    assert await SegmentSizeRow.filter(segment_id=decode_id(recent, "Segment")).count() == 1
    assert await SegmentSizeRow.filter(segment_id=decode_id(gone, "Segment")).count() == 0
    size = len(await _expected(runtime.segments, "last_order_days < 60", clock.now()))
    clock.advance(timedelta(days=1))
    await record_segment_sizes(runtime.segments)
    cs = await relogin(api, "seg-cs")
    history = (await cs.data(HISTORY, {"id": recent}))["segment"]["sizeHistory"]
    assert [h["size"] for h in history] == [
        size,
        len(await _expected(runtime.segments, "last_order_days < 60", clock.now())),
    ]
    assert history[0]["day"] < history[1]["day"]


async def _csv(caller: Api, segment_id: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {caller.token}"}
    url = f"/engagement/segments/{segment_id}/members.csv"
    return await caller.client.get(url, headers=headers)


async def test_cs_exports_member_ids_with_masked_names_logged(
    api: Api,
    admin: Api,
    cs: Api,
    clerk_a: Api,
    runtime: Runtime,
    clock: MovableClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    people = await _members(api, clock.now())
    everyone = await _segment(admin, "Everyone", "orders_365 >= 0")
    # Pages of 3: the export reads 8 members in three keyset pages.
    monkeypatch.setattr(runtime, "segments", replace(runtime.segments, export_batch=3))
    response = await _csv(cs, everyone)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    lines = response.text.splitlines()
    assert lines[0] == "member_id,name"
    by_id = sorted(people, key=lambda p: p.key)
    assert lines[1:] == [f"{p.id},王**" for p in by_id]
    logged = await PiiAccessRow.filter(reason="segment export: Everyone").order_by("member_id")
    assert [r.member_id for r in logged] == [p.key for p in by_id]
    assert {(r.actor.startswith("STAFF:"), tuple(r.kinds)) for r in logged} == {
        (True, ("NAME_MASKED",))
    }
    missing = await _csv(cs, encode_id("Segment", UUID(int=7)))
    assert missing.status_code == 404
    assert (await _csv(clerk_a, everyone)).status_code == 403
    assert (await _csv(api, everyone)).status_code == 401


async def test_a_page_of_segments_counts_every_size_in_one_statement(
    api: Api, admin: Api, cs: Api, manager_a: Api, runtime: Runtime, clock: MovableClock
) -> None:
    await _members(api, clock.now())
    sized = """query($first: Int) { segments(first: $first, status: ACTIVE) {
      nodes { rule size } } }"""
    await cs.data(LIST)  # the built-ins exist

    async def statements(caller: Api, first: int) -> tuple[int, list[dict[str, Any]]]:
        with count_sql() as sent:
            nodes = (await caller.data(sized, {"first": first}))["segments"]["nodes"]
        assert len(nodes) == first
        return len(sent), nodes

    two, _ = await statements(cs, 2)
    seven, nodes = await statements(cs, 7)
    assert two == seven
    for node in nodes:
        assert node["size"] == len(await _expected(runtime.segments, node["rule"], clock.now()))
    # A store manager's sizes in the same single statement: nobody ordered at their store.
    _, theirs = await statements(manager_a, 7)
    assert [n["size"] for n in theirs] == [0] * 7


async def test_a_saved_rule_today_s_tiers_no_longer_read_says_so(
    api: Api, admin: Api, cs: Api, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    gold = await _segment(admin, "Gold", "tier = 'GOLD'")
    policy = runtime.segments.loyalty_policy
    tiers = tuple(t for t in policy.tiers if t.name != "GOLD")
    fewer = replace(runtime.segments, loyalty_policy=replace(policy, tiers=tiers))
    monkeypatch.setattr(runtime, "segments", fewer)
    answer = await cs(ONE, {"id": gold, "first": 5})
    [error] = answer["errors"]
    assert error["extensions"]["code"] == "INVALID_RULE"
    assert "The saved rule no longer reads: tier is one of 'MEMBER', 'SILVER'" in error["message"]
    assert await record_segment_sizes(fewer) == len(BUILT_INS)  # the others are recorded
    assert await SegmentSizeRow.filter(segment_id=decode_id(gold, "Segment")).count() == 0
