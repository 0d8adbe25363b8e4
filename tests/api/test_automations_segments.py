"""The ENTERED_SEGMENT automation trigger over the API, on PostgreSQL and SQLite: the members
in the segment when the automation is created are its baseline (not hit); a member whose facts
move into the segment is hit once, staying is not entering again, leaving and coming back
another day is; consent, the frequency cap and quiet hours hold as for every trigger; the dry
run counts who the next run would hit; a paused automation or an archived segment finds no
one; two runs at once note and hit each member once (PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from api.relay import decode_id, encode_id
from infra.db.models.automations import AutomationSegmentMemberRow
from infra.db.models.facts import MemberFactsRow
from infra.repositories.facts import FACT_COLUMNS
from infra.runtime import Runtime
from tests.support import MovableClock
from tests.support.api import Api, relogin
from tests.support.automations import (
    CREATE,
    DRY,
    automation_input,
    consent,
    create,
    detail,
    messages,
    move,
    run,
)
from tests.support.shoppers import Shopper, shopper

pytestmark = pytest.mark.usefixtures("store_morning")
SEGMENT = """mutation($i: CreateSegmentInput!) { createSegment(input: $i) {
  segment { id } errors { code } } }"""
ARCHIVE = """mutation($i: ArchiveSegmentInput!) { archiveSegment(input: $i) { errors { code } } }"""
UPDATE = """mutation($i: UpdateAutomationInput!) { updateAutomation(input: $i) {
  errors { code field } } }"""
TRIGGER = "query($id: ID!) { automation(id: $id) { trigger { kind segmentId } } }"
RULE = "orders_365 >= 2"


async def _segment(admin: Api, name: str = "复购会员") -> str:
    made = (await admin.data(SEGMENT, {"i": {"name": name, "rule": RULE}}))["createSegment"]
    assert made["errors"] == [], made
    segment_id: str = made["segment"]["id"]
    return segment_id


async def _orders(who: Shopper, orders_365: int, clock: MovableClock) -> None:
    """The member's facts say `orders_365` (what the facts handlers and rebuild keep)."""
    if not await MemberFactsRow.filter(member_id=who.key).update(orders_365=orders_365):
        row: dict[str, Any] = dict.fromkeys(FACT_COLUMNS, 0)
        row |= {c: None for c in ("first_order_at", "last_order_at", "preferred_store_id")}
        row |= {c: None for c in ("preferred_channel", "tier", "birthday", "rfm_segment")}
        row |= {c: None for c in ("r_score", "f_score", "m_score")}
        row |= {"marketing_sms": False, "marketing_wechat": False, "updated_at": clock.now()}
        row |= {"member_id": who.key, "orders_365": orders_365}
        await MemberFactsRow(**row).save(force_create=True)


async def _entering(admin: Api, segment_id: str, **fields: Any) -> dict[str, Any]:
    return await create(
        admin,
        name="进入复购",
        trigger={"kind": "ENTERED_SEGMENT", "segmentId": segment_id},
        action={"kind": "SEND_MESSAGE", "channel": "WECHAT", "text": "欢迎成为复购会员"},
        **fields,
    )


async def _sends(api: Api, made: dict[str, Any]) -> list[tuple[str, str, str]]:
    admin = await relogin(api, "admin")  # tokens live 15 minutes
    nodes = (await detail(admin, made))["sends"]["nodes"]
    return sorted((s["memberId"], s["periodKey"], s["outcome"]) for s in nodes)


async def _dry(api: Api, made: dict[str, Any]) -> dict[str, int]:
    admin = await relogin(api, "admin")
    found: dict[str, int] = (await admin.data(DRY, {"id": made["id"]}))["dryRunAutomation"]
    return found


def _period(segment_id: str, clock: MovableClock) -> str:
    return f"segment:{decode_id(segment_id, 'Segment')}:{clock.today().isoformat()}"


async def test_entering_hits_once_staying_does_not_and_coming_back_another_day_does(
    api: Api, admin: Api, runtime: Runtime, clock: MovableClock
) -> None:
    already, mover = await shopper(api, "seg-in"), await shopper(api, "seg-move")
    for who in (already, mover):
        await consent(who)
    await _orders(already, 3, clock)
    await _orders(mover, 1, clock)
    segment_id = await _segment(admin)
    made = await _entering(admin, segment_id)
    shown = await admin.data(TRIGGER, {"id": made["id"]})
    assert shown["automation"]["trigger"] == {"kind": "ENTERED_SEGMENT", "segmentId": segment_id}
    # The baseline: who is in the segment at creation is noted, not hit.
    [noted] = await AutomationSegmentMemberRow.all()
    assert (noted.member_id, noted.automation_id) == (
        already.key,
        decode_id(made["id"], "Automation"),
    )
    assert (await _dry(api, made))["candidates"] == 0
    await run(runtime)
    assert await _sends(api, made) == [] and await messages() == []
    # The mover's facts move into the segment: the dry run counts them, the run hits them.
    await _orders(mover, 2, clock)
    dry = await _dry(api, made)
    assert (dry["candidates"], dry["wouldHit"]) == (1, 1)
    await run(runtime)
    first = _period(segment_id, clock)
    assert await _sends(api, made) == [(mover.id, first, "DONE")]
    assert len(await messages(mover)) == 1 and await messages(already) == []
    # Staying is not entering again.
    await run(runtime)
    assert (await _dry(api, made))["candidates"] == 0
    assert len(await _sends(api, made)) == 1
    # Leaving and coming back the same day: the day's period is taken, nothing more.
    await _orders(mover, 0, clock)
    await run(runtime)
    await _orders(mover, 2, clock)
    assert (await _dry(api, made))["candidates"] == 0
    await run(runtime)
    assert len(await _sends(api, made)) == 1
    # Leaving and coming back another day is entering again.
    await _orders(mover, 0, clock)
    await run(runtime)
    clock.put(clock.today() + timedelta(days=1), hour=10)
    await _orders(mover, 5, clock)
    await run(runtime)
    second = _period(segment_id, clock)
    assert await _sends(api, made) == sorted(
        [(mover.id, first, "DONE"), (mover.id, second, "DONE")]
    )
    assert len(await messages(mover)) == 2 and await messages(already) == []


async def test_consent_cap_and_quiet_hours_hold_for_members_entering(
    api: Api, admin: Api, runtime: Runtime, clock: MovableClock
) -> None:
    willing, silent = await shopper(api, "seg-yes"), await shopper(api, "seg-no")
    await consent(willing)
    segment_id = await _segment(admin)
    made = await _entering(admin, segment_id, frequencyCap={"messages": 1, "days": 7})
    # Quiet hours: entering at 22:00 store time waits until 09:00, it is not dropped.
    today = clock.today()
    clock.put(today, hour=22)
    for who in (willing, silent):
        await _orders(who, 2, clock)
    await run(runtime)
    period = _period(segment_id, clock)
    assert await _sends(api, made) == sorted(
        [(willing.id, period, "PENDING"), (silent.id, period, "PENDING")]
    )
    assert await messages() == []
    clock.put(today + timedelta(days=1), hour=9)
    await run(runtime)
    # Consent: the member without it gets nothing.
    assert await _sends(api, made) == sorted(
        [(willing.id, period, "DONE"), (silent.id, period, "BLOCKED_CONSENT")]
    )
    assert len(await messages(willing)) == 1 and await messages(silent) == []
    # The cap (1 in 7 days): coming back the next day is entering, but over the cap.
    for who in (willing, silent):
        await _orders(who, 0, clock)
    await run(runtime)
    clock.put(today + timedelta(days=2), hour=10)
    await _orders(willing, 2, clock)
    dry = await _dry(api, made)
    assert (dry["candidates"], dry["blockedCap"], dry["wouldHit"]) == (1, 1, 0)
    await run(runtime)
    again = _period(segment_id, clock)
    assert (willing.id, again, "BLOCKED_CAP") in await _sends(api, made)
    assert len(await messages(willing)) == 1


async def test_a_paused_automation_or_an_archived_segment_finds_no_one(
    api: Api, admin: Api, runtime: Runtime, clock: MovableClock
) -> None:
    who = await shopper(api, "seg-pause")
    await consent(who)
    segment_id = await _segment(admin)
    made = await _entering(admin, segment_id)
    await move(admin, "pauseAutomation", made)
    await _orders(who, 2, clock)
    await run(runtime)
    assert await _sends(api, made) == []
    assert await AutomationSegmentMemberRow.all().count() == 0  # a paused one does not scan
    admin = await relogin(api, "admin")
    archived = await admin.data(ARCHIVE, {"i": {"id": segment_id}})
    assert archived["archiveSegment"]["errors"] == []
    await move(admin, "resumeAutomation", made)
    await run(runtime)
    assert await _sends(api, made) == []
    dry = await _dry(api, made)
    assert dry["candidates"] == 0


async def test_another_segment_is_a_new_baseline(
    api: Api, admin: Api, runtime: Runtime, clock: MovableClock
) -> None:
    regular, big = await shopper(api, "seg-reg"), await shopper(api, "seg-big")
    for who in (regular, big):
        await consent(who)
    await _orders(regular, 2, clock)
    await _orders(big, 9, clock)
    repeat = await _segment(admin)
    made = await _entering(admin, repeat)
    made_big = await admin.data(SEGMENT, {"i": {"name": "大客户", "rule": "orders_365 >= 5"}})
    loyal = made_big["createSegment"]["segment"]["id"]
    given = automation_input(
        name="进入大客户",
        trigger={"kind": "ENTERED_SEGMENT", "segmentId": loyal},
        action={"kind": "SEND_MESSAGE", "channel": "WECHAT", "text": "欢迎"},
    )
    updated = await admin.data(UPDATE, {"i": {"id": made["id"], "automation": given}})
    assert updated["updateAutomation"]["errors"] == []
    # Who is in the new segment now is its baseline; the old segment's notes are forgotten.
    noted = await AutomationSegmentMemberRow.all().values_list("member_id", flat=True)
    assert [str(m) for m in noted] == [str(big.key)]
    await run(runtime)
    assert await _sends(api, made) == []
    await _orders(regular, 5, clock)
    await run(runtime)
    assert await _sends(api, made) == [(regular.id, _period(loyal, clock), "DONE")]


@pytest.mark.parametrize(
    ("trigger", "code"),
    [
        ({"kind": "ENTERED_SEGMENT"}, "INVALID_INPUT"),
        ({"kind": "BIRTHDAY", "segmentId": "SEGMENT"}, "INVALID_INPUT"),
        ({"kind": "ENTERED_SEGMENT", "segmentId": "MISSING"}, "NOT_FOUND"),
        ({"kind": "ENTERED_SEGMENT", "segmentId": "ARCHIVED"}, "INVALID_INPUT"),
    ],
)
async def test_the_segment_is_checked_on_save_and_nothing_is_saved(
    admin: Api, trigger: dict[str, Any], code: str
) -> None:
    live, gone = await _segment(admin, "live"), await _segment(admin, "gone")
    await admin.data(ARCHIVE, {"i": {"id": gone}})
    ids = {"SEGMENT": live, "MISSING": encode_id("Segment", UUID(int=7)), "ARCHIVED": gone}
    if "segmentId" in trigger:
        trigger = trigger | {"segmentId": ids[trigger["segmentId"]]}
    payload = (await admin.data(CREATE, {"i": automation_input(trigger=trigger)}))[
        "createAutomation"
    ]
    assert payload["automation"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        (code, ["trigger", "segmentId"])
    ]
    assert await AutomationSegmentMemberRow.all().count() == 0


@pytest.mark.usefixtures("postgres")
async def test_two_runs_at_once_note_and_hit_each_member_once(
    api: Api, admin: Api, runtime: Runtime, clock: MovableClock
) -> None:
    members = [await shopper(api, f"seg-r{n}") for n in range(6)]
    for who in members:
        await consent(who)
    segment_id = await _segment(admin)
    made = await _entering(admin, segment_id)
    for who in members:
        await _orders(who, 2, clock)
    await asyncio.gather(run(runtime), run(runtime), run(runtime))
    period = _period(segment_id, clock)
    assert await _sends(api, made) == sorted((m.id, period, "DONE") for m in members)
    noted = await AutomationSegmentMemberRow.all().values_list("member_id", flat=True)
    assert sorted(map(str, noted)) == sorted(str(m.key) for m in members)
    for who in members:
        assert len(await messages(who)) == 1
