"""Member facts kept current by loyalty's and members' events (engagement, issue 19), on
PostgreSQL and SQLite, without the nightly rebuild: a points adjustment shows in the balance
(also for a member who had no facts row yet) and in a segment over `points_balance`; a consent
withdrawn or granted shows in the consent columns and in a segment over them; a hand-over
that lifts the member to a new tier shows the tier; the rebuild then gives the same rows."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from domain.engagement.facts import rebuild_member_facts
from domain.identity.model import StaffRole
from infra.db.models.facts import MemberFactsRow
from infra.repositories.facts import FACT_COLUMNS
from infra.runtime import Runtime
from tests.support.api import Api, staff_api
from tests.support.automations import consent
from tests.support.orders import make_variants, receive
from tests.support.referrals import handed_over
from tests.support.shoppers import Shopper, shopper

FACTS = """query($id: ID!) { node(id: $id) { ... on Member {
  facts { tier pointsBalance marketingSms marketingWechat } } } }"""
ADJUST = """mutation($i: AdjustPointsInput!) { adjustPoints(input: $i) {
  entry { balanceAfter } errors { code } } }"""
PREVIEW = "query($r: String!) { previewSegment(rule: $r) { size errors { code } } }"


@pytest.fixture
async def cs(api: Api, runtime: Runtime) -> Api:
    return await staff_api(api, runtime, "facts-cs", StaffRole.CS_AGENT, [])


async def _facts(admin: Api, who: Shopper) -> dict[str, Any] | None:
    found: dict[str, Any] | None = (await admin.data(FACTS, {"id": who.id}))["node"]["facts"]
    return found


async def _size(admin: Api, rule: str) -> int:
    preview = (await admin.data(PREVIEW, {"r": rule}))["previewSegment"]
    assert preview["errors"] == [], preview
    size: int = preview["size"]
    return size


async def _adjust(cs: Api, who: Shopper, delta: int) -> None:
    given = await cs.data(ADJUST, {"i": {"memberId": who.id, "delta": delta, "reason": "goodwill"}})
    assert given["adjustPoints"]["errors"] == [], given


async def _rows() -> list[dict[str, Any]]:
    rows = await MemberFactsRow.all().order_by("member_id").values(*FACT_COLUMNS[:-1])
    return list(rows)


async def test_a_points_adjustment_shows_in_facts_and_segments_without_a_rebuild(
    api: Api, admin: Api, cs: Api, runtime: Runtime
) -> None:
    rich, poor = await shopper(api, "facts-1"), await shopper(api, "facts-2")
    await consent(poor)  # a facts row for poor (consents), none for rich yet
    assert await _facts(admin, rich) is None
    assert await _size(admin, "points_balance >= 500") == 0
    await _adjust(cs, rich, 800)
    await _adjust(cs, poor, 100)
    assert (await _facts(admin, rich) or {})["pointsBalance"] == 800
    assert (await _facts(admin, poor) or {})["pointsBalance"] == 100
    assert await _size(admin, "points_balance >= 500") == 1
    await _adjust(cs, rich, -400)
    assert (await _facts(admin, rich) or {})["pointsBalance"] == 400
    assert await _size(admin, "points_balance >= 500") == 0
    kept = await _rows()
    await rebuild_member_facts(runtime.member_facts)
    assert await _rows() == kept  # what the rebuild would have written


async def test_a_consent_withdrawn_or_granted_shows_in_facts_and_segments_without_a_rebuild(
    api: Api, admin: Api, runtime: Runtime
) -> None:
    who, other = await shopper(api, "facts-3"), await shopper(api, "facts-4")
    await consent(who)
    await consent(other)
    assert await _size(admin, "marketing_wechat = TRUE") == 2
    await consent(who, granted=False)
    facts = await _facts(admin, who)
    assert facts is not None and facts["marketingWechat"] is False
    assert await _size(admin, "marketing_wechat = TRUE") == 1
    await consent(who, "MARKETING_SMS")
    assert (await _facts(admin, who) or {})["marketingSms"] is True
    assert await _size(admin, "marketing_sms = TRUE AND marketing_wechat = FALSE") == 1
    kept = await _rows()
    await rebuild_member_facts(runtime.member_facts)
    assert await _rows() == kept


async def test_a_hand_over_that_lifts_the_tier_shows_it_without_a_rebuild(
    client: httpx.AsyncClient,
    api: Api,
    admin: Api,
    clerk_a: Api,
    runtime: Runtime,
    stores: dict[str, Any],
) -> None:
    [big] = await make_variants(runtime, ("HAMPER", "gift", 120_000))
    await receive(runtime, stores["SH-A"].id, big, 5)
    who = await shopper(api, "facts-5")
    await handed_over(client, runtime, clerk_a, who, stores, big)  # ¥1,200: SILVER from ¥1,000
    facts = await _facts(admin, who)
    assert facts is not None and facts["tier"] == "SILVER" and facts["pointsBalance"] > 0
    assert await _size(admin, 'tier = "SILVER"') == 1
    kept = await _rows()
    await rebuild_member_facts(runtime.member_facts)
    assert await _rows() == kept
