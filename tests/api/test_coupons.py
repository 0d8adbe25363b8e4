"""Coupons over GraphQL: ADMIN's templates, members' claims and codes, CS grants, `me {
coupons }`, and claims racing across two API processes (PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from api.relay import encode_id
from domain.identity.model import StaffRole
from infra.db.models.coupons import CouponRow, CouponTemplateRow
from infra.runtime import Runtime
from tests.support import count_sql, is_postgres
from tests.support.api import Api, staff_api
from tests.support.members import wechat_member
from tests.support.processes import second_api

TEMPLATE_FIELDS = """template { id name status issued totalQuantity perMemberLimit validDays
  stackableWithPoints stackableWithCoupons
  rules { kind text amountOff percentOffBasisPoints maxDiscount threshold } }
  errors { code field message }"""
CREATE = f"""mutation($i: CouponTemplateInput!) {{ createCouponTemplate(input: $i) {{
  {TEMPLATE_FIELDS} }} }}"""
UPDATE = f"""mutation($i: UpdateCouponTemplateInput!) {{ updateCouponTemplate(input: $i) {{
  {TEMPLATE_FIELDS} }} }}"""
PAUSE = f"""mutation($i: PauseCouponTemplateInput!) {{ pauseCouponTemplate(input: $i) {{
  {TEMPLATE_FIELDS} }} }}"""
END = f"""mutation($i: CouponTemplateIdInput!) {{ endCouponTemplate(input: $i) {{
  {TEMPLATE_FIELDS} }} }}"""
TEMPLATES = """query($s: CouponTemplateStatus) { couponTemplates(status: $s) {
  nodes { id name issued status } } }"""
COUPON_FIELDS = """coupon { id name status source validFrom validUntil
  rules { text amountOff threshold } } errors { code field message }"""
CLAIM = f"""mutation($t: ID!, $k: String) {{ claimCoupon(input: {{templateId: $t,
  idempotencyKey: $k}}) {{ {COUPON_FIELDS} }} }}"""
GRANT = f"""mutation($i: GrantCouponInput!) {{ grantCoupon(input: $i) {{ {COUPON_FIELDS} }} }}"""
CODES = """mutation($t: ID!, $n: Int!) { createCouponCodes(input: {templateId: $t, count: $n}) {
  codes errors { code field } } }"""
REDEEM = f"""mutation($c: String!) {{ redeemCouponCode(input: {{code: $c}}) {{ {COUPON_FIELDS}
  }} }}"""
MINE = """query($s: CouponListStatus) { me { coupons(status: $s) { nodes { id name status
  rules { text } validUntil } } } }"""

OFF_20_FROM_99 = {
    "name": "满99减20",
    "kind": "AMOUNT_OFF",
    "amountOff": 2000,
    "threshold": 9900,
    "validDays": 30,
    "totalQuantity": 100,
}


@pytest.fixture
async def cs(api: Api, runtime: Runtime) -> Api:
    return await staff_api(api, runtime, "coupon-cs", StaffRole.CS_AGENT, [])


async def create(admin: Api, **changes: Any) -> dict[str, Any]:
    payload = (await admin.data(CREATE, {"i": {**OFF_20_FROM_99, **changes}}))[
        "createCouponTemplate"
    ]
    assert payload["errors"] == [], payload
    template: dict[str, Any] = payload["template"]
    return template


async def test_admin_runs_a_template_and_a_member_claims_once(api: Api, admin: Api) -> None:
    template = await create(admin)
    assert template["rules"] == {
        "kind": "AMOUNT_OFF",
        "text": "¥20.00 off orders from ¥99.00",
        "amountOff": 2000,
        "percentOffBasisPoints": 0,
        "maxDiscount": None,
        "threshold": 9900,
    }
    assert (template["status"], template["stackableWithPoints"]) == ("ACTIVE", True)
    assert template["stackableWithCoupons"] is False

    member, _ = await wechat_member(api, "test:coupon-claimer")
    first = (await member.data(CLAIM, {"t": template["id"], "k": "c-1"}))["claimCoupon"]
    assert first["errors"] == [] and first["coupon"]["status"] == "AVAILABLE"
    assert first["coupon"]["rules"]["text"] == "¥20.00 off orders from ¥99.00"
    assert (await member.data(CLAIM, {"t": template["id"], "k": "c-1"}))["claimCoupon"] == first
    again = (await member.data(CLAIM, {"t": template["id"], "k": "c-2"}))["claimCoupon"]
    assert again["coupon"] is None
    assert [e["code"] for e in again["errors"]] == ["COUPON_LIMIT_REACHED"]

    mine = (await member.data(MINE, {"s": "AVAILABLE"}))["me"]["coupons"]["nodes"]
    assert [c["id"] for c in mine] == [first["coupon"]["id"]]
    assert (await member.data(MINE, {"s": "USED"}))["me"]["coupons"]["nodes"] == []
    listed = (await admin.data(TEMPLATES, {"s": "ACTIVE"}))["couponTemplates"]["nodes"]
    assert [(t["id"], t["issued"]) for t in listed] == [(template["id"], 1)]


async def test_bad_templates_are_refused_and_change_nothing(admin: Api) -> None:
    for changes, code, field in (
        ({"amountOff": 0}, "INVALID_INPUT", ["amountOff"]),
        ({"threshold": 100}, "INVALID_INPUT", ["threshold"]),
        ({"validDays": None}, "INVALID_INPUT", ["endsAt"]),
        (
            {
                "kind": "PERCENT_OFF",
                "amountOff": 0,
                "percentOff": 15,
                "percentOffBasisPoints": 1500,
            },
            "INVALID_INPUT",
            ["percentOff"],
        ),
        ({"scope": {"productIds": ["nope"]}}, "INVALID_ID", ["scope", "productIds", "0"]),
        ({"scope": {"channels": ["TV"]}}, "INVALID_INPUT", ["scope", "channels", "0"]),
    ):
        payload = (await admin.data(CREATE, {"i": {**OFF_20_FROM_99, **changes}}))[
            "createCouponTemplate"
        ]
        assert payload["template"] is None
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)], changes
    assert await CouponTemplateRow.all().count() == 0


async def test_percent_off_in_whole_percent_with_a_cap(admin: Api) -> None:
    template = await create(
        admin, kind="PERCENT_OFF", amountOff=0, threshold=0, percentOff=15, maxDiscount=3000
    )
    assert template["rules"]["percentOffBasisPoints"] == 1500
    assert template["rules"]["text"] == "15% off, at most ¥30.00, no minimum"


async def test_pause_resume_end_and_edit(api: Api, admin: Api) -> None:
    template = await create(admin)
    tid = template["id"]
    member, _ = await wechat_member(api, "test:coupon-pauser")
    paused = (await admin.data(PAUSE, {"i": {"templateId": tid}}))["pauseCouponTemplate"]
    assert paused["template"]["status"] == "PAUSED"
    refused = (await member.data(CLAIM, {"t": tid}))["claimCoupon"]
    assert [e["code"] for e in refused["errors"]] == ["TEMPLATE_NOT_ACTIVE"]
    resumed = await admin.data(PAUSE, {"i": {"templateId": tid, "paused": False}})
    assert resumed["pauseCouponTemplate"]["template"]["status"] == "ACTIVE"
    assert (await member.data(CLAIM, {"t": tid}))["claimCoupon"]["errors"] == []

    # Issued: the rules stay; the quantity cannot drop below the issued.
    other_rules = {**OFF_20_FROM_99, "amountOff": 3000}
    edit = await admin.data(UPDATE, {"i": {"templateId": tid, "template": other_rules}})
    assert [e["code"] for e in edit["updateCouponTemplate"]["errors"]] == ["ILLEGAL_STATE"]
    fewer = {**OFF_20_FROM_99, "name": "renamed", "totalQuantity": 50}
    edited = await admin.data(UPDATE, {"i": {"templateId": tid, "template": fewer}})
    assert edited["updateCouponTemplate"]["template"]["name"] == "renamed"
    assert edited["updateCouponTemplate"]["template"]["totalQuantity"] == 50

    roomy = await create(admin, perMemberLimit=2)
    assert (await member.data(CLAIM, {"t": roomy["id"]}))["claimCoupon"]["errors"] == []
    tighter = {**OFF_20_FROM_99, "perMemberLimit": 1}
    narrowed = await admin.data(UPDATE, {"i": {"templateId": roomy["id"], "template": tighter}})
    assert [e["field"] for e in narrowed["updateCouponTemplate"]["errors"]] == [["perMemberLimit"]]

    ended = (await admin.data(END, {"i": {"templateId": tid}}))["endCouponTemplate"]
    assert ended["template"]["status"] == "ENDED"
    back = await admin.data(PAUSE, {"i": {"templateId": tid, "paused": False}})
    assert [e["code"] for e in back["pauseCouponTemplate"]["errors"]] == ["ILLEGAL_STATE"]
    # still usable by its holder
    mine = (await member.data(MINE, {"s": "AVAILABLE"}))["me"]["coupons"]["nodes"]
    assert sorted(c["name"] for c in mine) == ["renamed", "满99减20"]


async def test_cs_grants_with_a_reason_once_per_key(
    api: Api, admin: Api, cs: Api, runtime: Runtime
) -> None:
    template = await create(admin, perMemberLimit=1)
    template2 = await create(admin, name="another")
    member, login = await wechat_member(api, "test:coupon-granted")
    grant = {
        "templateId": template["id"],
        "memberId": login["member"]["id"],
        "reason": "parcel arrived late",
        "idempotencyKey": "g-1",
    }
    first = (await cs.data(GRANT, {"i": grant}))["grantCoupon"]
    assert first["errors"] == [] and first["coupon"]["source"] == "GRANT"
    assert (await cs.data(GRANT, {"i": grant}))["grantCoupon"] == first
    # A grant is the agent's decision: the claim limit leaves it out, and the member may
    # still claim their own.
    assert (await member.data(CLAIM, {"t": template["id"]}))["claimCoupon"]["errors"] == []
    [granted] = await CouponRow.filter(source="GRANT").values_list("id", flat=True)
    assert encode_id("Coupon", granted) == first["coupon"]["id"]
    audit = await admin.data("{ staffActions { nodes { action subject reason } } }")
    assert audit["staffActions"]["nodes"] == [
        {"action": "GRANT_COUPON", "subject": f"coupon:{granted}", "reason": "parcel arrived late"}
    ]
    other = await cs.data(GRANT, {"i": {**grant, "templateId": template2["id"]}})
    assert [e["code"] for e in other["grantCoupon"]["errors"]] == ["IDEMPOTENCY_CONFLICT"]
    # Another agent's "g-1" is another grant.
    colleague = await staff_api(api, runtime, "coupon-cs-2", StaffRole.CS_AGENT, [])
    second = (await colleague.data(GRANT, {"i": grant}))["grantCoupon"]
    assert second["errors"] == [] and second["coupon"]["id"] != first["coupon"]["id"]
    empty = await cs.data(GRANT, {"i": {**grant, "reason": " ", "idempotencyKey": "g-2"}})
    assert [e["field"] for e in empty["grantCoupon"]["errors"]] == [["reason"]]


async def test_redemption_codes_are_shown_once_and_work_once(api: Api, admin: Api) -> None:
    template = await create(admin, perMemberLimit=5)
    made = (await admin.data(CODES, {"t": template["id"], "n": 3}))["createCouponCodes"]
    assert made["errors"] == [] and len(set(made["codes"])) == 3
    member, _ = await wechat_member(api, "test:coupon-redeemer")
    first = (await member.data(REDEEM, {"c": made["codes"][0]}))["redeemCouponCode"]
    assert first["errors"] == [] and first["coupon"]["source"] == "CODE"
    twice = (await member.data(REDEEM, {"c": made["codes"][0]}))["redeemCouponCode"]
    assert [e["code"] for e in twice["errors"]] == ["COUPON_CODE_USED"]
    wrong = (await member.data(REDEEM, {"c": "NOTACODE1234"}))["redeemCouponCode"]
    assert [(e["code"], e["field"]) for e in wrong["errors"]] == [("INVALID_COUPON_CODE", ["code"])]
    too_many = (await admin.data(CODES, {"t": template["id"], "n": 1001}))["createCouponCodes"]
    assert [e["field"] for e in too_many["errors"]] == [["count"]]


async def test_claims_race_across_two_api_processes(api: Api, admin: Api, runtime: Runtime) -> None:
    if not is_postgres(runtime.settings.database_url) or not runtime.settings.redis_url:
        pytest.skip("two API processes share PostgreSQL and Redis")
    template = await create(admin, totalQuantity=20)
    members = [await wechat_member(api, f"test:coupon-racer-{n}") for n in range(60)]
    async with second_api(runtime.settings) as other:

        async def there(token: str) -> dict[str, Any]:
            response = await other.post(
                "/graphql",
                json={"query": CLAIM, "variables": {"t": template["id"]}},
                headers={"Authorization": f"Bearer {token}"},
            )
            body: dict[str, Any] = response.json()
            return body

        bodies = await asyncio.gather(
            *(
                there(m.token or "") if n % 2 else m(CLAIM, {"t": template["id"]})
                for n, (m, _) in enumerate(members)
            )
        )
    claims = [b["data"]["claimCoupon"] for b in bodies]
    answers = Counter("issued" if c["coupon"] else c["errors"][0]["code"] for c in claims)
    assert answers == {"issued": 20, "TEMPLATE_SOLD_OUT": 40}
    assert (await CouponTemplateRow.all().values_list("issued", flat=True)) == [20]
    assert await CouponRow.all().count() == 20


async def test_my_coupons_cost_the_same_statements_for_one_or_many(
    api: Api, admin: Api, runtime: Runtime
) -> None:
    member, _ = await wechat_member(api, "test:coupon-collector")

    async def statements() -> tuple[int, int]:
        with count_sql() as seen:
            mine = (await member.data(MINE, {"s": "AVAILABLE"}))["me"]["coupons"]["nodes"]
        return len(seen), len(mine)

    first = await create(admin)
    await member.data(CLAIM, {"t": first["id"]})
    one = await statements()
    for n in range(6):
        made = await create(admin, name=f"coupon {n}")
        await member.data(CLAIM, {"t": made["id"]})
    many = await statements()
    assert (one[1], many[1]) == (1, 7)
    assert many[0] == one[0] >= 2  # the coupons, their templates (and the member)


async def test_templates_page_newest_first_by_cursor_with_a_status_filter(admin: Api) -> None:
    made = [(await create(admin, name=f"page-{n}"))["id"] for n in range(5)]
    await admin.data(PAUSE, {"i": {"templateId": made[1]}})
    await admin.data(PAUSE, {"i": {"templateId": made[3]}})
    query = """query($s: CouponTemplateStatus, $a: String) {
      couponTemplates(status: $s, first: 2, after: $a) {
        edges { cursor node { id } } pageInfo { hasNextPage } } }"""

    async def walk(status: str | None) -> list[str]:
        seen: list[str] = []
        after = None
        while True:
            found = (await admin.data(query, {"s": status, "a": after}))["couponTemplates"]
            seen += [e["node"]["id"] for e in found["edges"]]
            if not found["pageInfo"]["hasNextPage"]:
                return seen
            after = found["edges"][-1]["cursor"]

    everything = await walk(None)
    assert [t for t in everything if t in made] == list(reversed(made))
    assert len(everything) == len(set(everything))
    assert await walk("PAUSED") == [made[3], made[1]]
    refused = await admin(query, {"s": None, "a": "not a cursor"})
    assert refused["errors"][0]["extensions"]["code"] == "INVALID_INPUT", refused
