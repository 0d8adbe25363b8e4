"""Shopping-guide attribution (导购, issue 18) over the API: a clerk's share code binds a member
at login or through bindGuide (first touch wins, a repeat changes nothing, an unknown code
binds no one, a deactivated guide binds no one new but keeps their members); the store's
manager or CS assign and clear guides with a reason (a manager of another store cannot);
who sees a member's guide; orders placed by a bound member are attributed to the guide at
checkout; guidePerformance per guide and per store, for the store's manager and CS only, in a
number of statements that does not grow with the guides."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from api.relay import decode_id, encode_id
from domain.catalog.model import Variant
from domain.identity.model import StaffRole
from infra.db.models.guides import GuideBindingRow, GuideOrderRow
from infra.db.models.identity import StaffActionRow, StaffStoreRow, StaffUserRow
from infra.runtime import Runtime
from tests.support import count_sql
from tests.support.aftersales import approve, asked, line_ids, request_input
from tests.support.api import Api, staff_api
from tests.support.members import send_code
from tests.support.orders import (
    CANCEL,
    lid,
    make_variants,
    order_input,
    pay_online,
    placed,
    receive,
)
from tests.support.referrals import handed_over
from tests.support.shoppers import Shopper, shopper

PRICE = 3000
SHARE = "query($s: ID) { guideShare(storeId: $s) { code sharePath scene } }"
LOGIN = """mutation($code: String!, $guide: String) {
  loginWithWechat(input: {appId: "wx-demo", code: $code, guideCode: $guide}) {
    tokens { accessToken } created member { id } errors { code message field } } }"""
BIND = """mutation($c: String!) { bindGuide(input: {guideCode: $c}) {
  bound guide { staffName staffId store { id } } errors { code field } } }"""
MY_GUIDE = "{ me { guide { staffName staffId source store { id } } } }"
GUIDE = "guide { staffName staffId active source assignedBy reason store { id } }"
NODE = f"query($id: ID!) {{ node(id: $id) {{ ... on Member {{ {GUIDE} }} }} }}"
LOOKUP = f"query($p: String!) {{ lookupMember(input: {{phone: $p}}) {{ id {GUIDE} }} }}"
SET = f"""mutation($i: SetMemberGuideInput!) {{ setMemberGuide(input: $i) {{ {GUIDE}
  errors {{ code field }} }} }}"""
CLEAR = """mutation($i: ClearMemberGuideInput!) { clearMemberGuide(input: $i) {
  cleared errors { code field } } }"""
STATS = "staffId staffName orders gmv newMembers repurchasingMembers"
PERFORMANCE = f"""query($s: ID!, $m: String!) {{ guidePerformance(storeId: $s, month: $m) {{
  month guides {{ {STATS} }} total {{ {STATS} }} }} }}"""


@pytest.fixture
async def mango(runtime: Runtime, stores: dict[str, Any]) -> Variant:
    [variant] = await make_variants(runtime, ("MANGO", "1kg", PRICE))
    await receive(runtime, stores["SH-A"].id, variant, 50)
    return variant


@pytest.fixture
async def clerk_b(api: Api, runtime: Runtime, stores: dict[str, Any]) -> Api:
    return await staff_api(api, runtime, "clerk-b", StaffRole.STORE_CLERK, [stores["SH-B"]])


@pytest.fixture
async def manager_b(api: Api, runtime: Runtime, stores: dict[str, Any]) -> Api:
    return await staff_api(api, runtime, "manager-b", StaffRole.STORE_MANAGER, [stores["SH-B"]])


@pytest.fixture
async def cs(api: Api, runtime: Runtime) -> Api:
    return await staff_api(api, runtime, "guide-cs", StaffRole.CS_AGENT, [])


async def _code(staff: Api) -> str:
    code: str = (await staff.data(SHARE))["guideShare"]["code"]
    return code


async def _login(api: Api, openid: str, guide: str | None) -> Shopper:
    """loginWithWechat with a guide's code: it must succeed whatever growth decides."""
    payload = (await api.data(LOGIN, {"code": f"test:{openid}", "guide": guide}))["loginWithWechat"]
    assert payload["errors"] == [], payload
    token = payload["tokens"]["accessToken"]
    return Shopper(payload["member"]["id"], api.as_(token), openid, "")


async def _mine(who: Shopper) -> dict[str, Any] | None:
    guide: dict[str, Any] | None = (await who.api.data(MY_GUIDE))["me"]["guide"]
    return guide


async def _staff_id(runtime: Runtime, username: str) -> str:
    row = await StaffUserRow.get(username=username)
    return encode_id("StaffUser", row.id)


async def _seen_by(caller: Api, who: Shopper) -> dict[str, Any] | None:
    found = (await caller.data(NODE, {"id": who.id}))["node"]
    return found["guide"] if found else None


async def test_a_share_binds_at_login_and_first_touch_wins(
    api: Api, clerk_a: Api, clerk_b: Api, stores: dict[str, Any]
) -> None:
    share = (await clerk_a.data(SHARE))["guideShare"]
    code = share["code"]
    assert share["sharePath"].endswith(f"?guide={code}") and share["scene"] == f"g={code}"
    assert await _code(clerk_a) == code  # stable
    ann = await _login(api, "ann", code)
    assert await _mine(ann) == {
        "staffName": "clerk-a",
        "staffId": None,  # the member sees the name only
        "source": None,
        "store": None,
    }
    # Another guide's share later: the member keeps their guide; a repeat is nothing.
    other = (await ann.api.data(BIND, {"c": await _code(clerk_b)}))["bindGuide"]
    assert other["errors"] == [] and other["bound"] is False
    assert other["guide"]["staffName"] == "clerk-a"
    again = (await ann.api.data(BIND, {"c": code}))["bindGuide"]
    assert again["bound"] is False and again["guide"]["staffName"] == "clerk-a"
    # A returning login with another code changes nothing either.
    await _login(api, "ann", await _code(clerk_b))
    assert (await _mine(ann) or {})["staffName"] == "clerk-a"
    assert await GuideBindingRow.all().count() == 1


async def test_bind_guide_binds_a_member_without_one(api: Api, clerk_b: Api) -> None:
    bob = await shopper(api, "bob")
    assert await _mine(bob) is None
    bound = (await bob.api.data(BIND, {"c": (await _code(clerk_b)).lower()}))["bindGuide"]
    assert bound["errors"] == [] and bound["bound"] is True
    assert bound["guide"] == {"staffName": "clerk-b", "staffId": None, "store": None}


async def test_unknown_codes_bind_no_one_and_login_goes_on(api: Api) -> None:
    cat = await _login(api, "cat", "GNOTACODE")
    assert await _mine(cat) is None
    refused = (await cat.api.data(BIND, {"c": "GNOTACODE"}))["bindGuide"]
    assert refused["errors"] == [{"code": "UNKNOWN_GUIDE_CODE", "field": ["guideCode"]}]
    assert refused["guide"] is None and await GuideBindingRow.all().count() == 0
    # Text that cannot be a code (too long for the column, other scripts, nothing) is an
    # unknown code too, at login and at bindGuide: never an internal error.
    for text in ("Ж" * 18, "G" * 40, "G23456789X", ""):
        odd = await _login(api, f"odd-{len(text)}", text)
        assert await _mine(odd) is None
        answer = (await odd.api.data(BIND, {"c": text}))["bindGuide"]
        assert answer["errors"] == [{"code": "UNKNOWN_GUIDE_CODE", "field": ["guideCode"]}]


async def test_a_deactivated_guide_keeps_members_but_binds_no_one_new(
    api: Api, clerk_a: Api, cs: Api
) -> None:
    code = await _code(clerk_a)
    dan = await _login(api, "dan", code)
    await StaffUserRow.filter(username="clerk-a").update(is_active=False)
    eve = await shopper(api, "eve")
    refused = (await eve.api.data(BIND, {"c": code}))["bindGuide"]
    assert refused["errors"] == [{"code": "GUIDE_INACTIVE", "field": ["guideCode"]}]
    assert await _mine(eve) is None
    assert (await _login(api, "fay", code)) and await GuideBindingRow.all().count() == 1
    kept = await _seen_by(cs, dan)
    assert kept is not None and kept["staffName"] == "clerk-a" and kept["active"] is False
    assigned = {"memberId": eve.id, "staffId": kept["staffId"], "reason": "asked for her"}
    assert (await cs.data(SET, {"i": assigned}))["setMemberGuide"]["errors"] == [
        {"code": "GUIDE_INACTIVE", "field": ["staffId"]}
    ]


async def test_who_sees_a_members_guide(
    api: Api,
    runtime: Runtime,
    clerk_a: Api,
    clerk_b: Api,
    manager_a: Api,
    manager_b: Api,
    cs: Api,
    stores: dict[str, Any],
) -> None:
    gus = await shopper(api, "gus", phone="13800138011")
    await gus.api.data(BIND, {"c": await _code(clerk_a)})
    seen = await _seen_by(cs, gus)
    assert seen == {
        "staffName": "clerk-a",
        "staffId": await _staff_id(runtime, "clerk-a"),
        "active": True,
        "source": "SHARE",
        "assignedBy": None,
        "reason": None,
        "store": {"id": lid(stores, "SH-A")},
    }
    for caller, visible in (
        (clerk_a, True),
        (manager_a, True),
        (clerk_b, False),
        (manager_b, False),
    ):
        found = (await caller.data(LOOKUP, {"p": "13800138011"}))["lookupMember"]
        assert found["id"] == gus.id
        assert (found["guide"] is not None) is visible, caller
    hal = await shopper(api, "hal")
    assert await _seen_by(hal.api, gus) is None  # another member sees no one's member


async def test_managers_and_cs_assign_and_clear_guides(
    api: Api,
    runtime: Runtime,
    clerk_a: Api,
    clerk_b: Api,
    manager_a: Api,
    manager_b: Api,
    cs: Api,
    stores: dict[str, Any],
) -> None:
    ivy = await shopper(api, "ivy")
    clerk_a_id, clerk_b_id = (
        await _staff_id(runtime, "clerk-a"),
        await _staff_id(runtime, "clerk-b"),
    )
    given = {"memberId": ivy.id, "staffId": clerk_a_id, "reason": "regular at SH-A"}
    # A manager of another store cannot hand out store A's clerks.
    refused = (await manager_b.data(SET, {"i": given}))["setMemberGuide"]
    assert refused["errors"] == [{"code": "FORBIDDEN", "field": ["staffId"]}]
    blank = (await manager_a.data(SET, {"i": {**given, "reason": "  "}}))["setMemberGuide"]
    assert blank["errors"] == [{"code": "INVALID_INPUT", "field": ["reason"]}]
    assert await GuideBindingRow.all().count() == 0
    done = (await manager_a.data(SET, {"i": given}))["setMemberGuide"]
    assert done["errors"] == [], done
    assert done["guide"]["source"] == "ASSIGNED" and done["guide"]["reason"] == "regular at SH-A"
    assert done["guide"]["assignedBy"].startswith("STAFF:")
    # Store B's manager takes no member from store A's guide, nor clears them.
    moved = {**given, "staffId": clerk_b_id, "reason": "moved"}
    assert (await manager_b.data(SET, {"i": moved}))["setMemberGuide"]["errors"] == [
        {"code": "FORBIDDEN", "field": ["memberId"]}
    ]
    clear = {"memberId": ivy.id, "reason": "asked"}
    assert (await manager_b.data(CLEAR, {"i": clear}))["clearMemberGuide"]["errors"] == [
        {"code": "FORBIDDEN", "field": ["memberId"]}
    ]
    # CS moves the member anywhere; a clerk is not a guide's manager.
    assert (await cs.data(SET, {"i": moved}))["setMemberGuide"]["errors"] == []
    assert (await _mine(ivy) or {})["staffName"] == "clerk-b"
    not_guide = {**given, "staffId": await _staff_id(runtime, "guide-cs")}
    assert (await cs.data(SET, {"i": not_guide}))["setMemberGuide"]["errors"] == [
        {"code": "NOT_A_GUIDE", "field": ["staffId"]}
    ]
    cleared = (await cs.data(CLEAR, {"i": clear}))["clearMemberGuide"]
    assert cleared == {"cleared": True, "errors": []}
    assert await _mine(ivy) is None
    assert (await cs.data(CLEAR, {"i": clear}))["clearMemberGuide"]["cleared"] is False
    actions = await StaffActionRow.filter(action__in=["SET_MEMBER_GUIDE", "CLEAR_MEMBER_GUIDE"])
    assert sorted(a.action for a in actions) == [
        "CLEAR_MEMBER_GUIDE",
        "SET_MEMBER_GUIDE",
        "SET_MEMBER_GUIDE",
    ]


async def _paid_order(
    client: httpx.AsyncClient, runtime: Runtime, who: Shopper, stores: dict[str, Any], v: Variant
) -> dict[str, Any]:
    order = await placed(who.api, order_input([(v, 1)], pickup=lid(stores, "SH-A")))
    await pay_online(client, runtime, who, order)
    return order


def _month(runtime: Runtime) -> str:
    from domain.growth.referrals_model import reward_month

    return reward_month(runtime.clock.now())


async def test_orders_are_attributed_and_a_store_reads_its_month(
    api: Api,
    client: httpx.AsyncClient,
    runtime: Runtime,
    clerk_a: Api,
    manager_a: Api,
    manager_b: Api,
    cs: Api,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    code = await _code(clerk_a)
    jo, kim = await _login(api, "jo", code), await _login(api, "kim", code)
    lou = await shopper(api, "lou")  # no guide: nothing attributed
    first = await _paid_order(client, runtime, jo, stores, mango)
    await _paid_order(client, runtime, jo, stores, mango)
    await _paid_order(client, runtime, kim, stores, mango)
    await placed(kim.api, order_input([(mango, 1)], pickup=lid(stores, "SH-A")))  # unpaid
    await _paid_order(client, runtime, lou, stores, mango)
    assert await GuideOrderRow.all().count() == 4
    attributed = await GuideOrderRow.get(order_id=decode_id(first["id"], "Order"))
    assert attributed.staff_id == (await StaffUserRow.get(username="clerk-a")).id
    month = _month(runtime)
    store = lid(stores, "SH-A")
    found = (await manager_a.data(PERFORMANCE, {"s": store, "m": month}))["guidePerformance"]
    clerk = await _staff_id(runtime, "clerk-a")
    row = {"orders": 3, "gmv": 3 * PRICE, "newMembers": 2, "repurchasingMembers": 1}
    assert found == {
        "month": month,
        "guides": [{"staffId": clerk, "staffName": "clerk-a", **row}],
        "total": {"staffId": None, "staffName": "", **row},
    }
    assert (await cs.data(PERFORMANCE, {"s": store, "m": month}))["guidePerformance"] == found
    other = await manager_b(PERFORMANCE, {"s": store, "m": month})
    assert other["data"] is None and other["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    bad = await manager_a(PERFORMANCE, {"s": store, "m": "2026-13"})
    assert bad["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    # A new guide later: the orders placed so far stay with the guide of their checkout.
    moved = {"memberId": jo.id, "staffId": await _staff_id(runtime, "manager-a"), "reason": "x"}
    assert (await manager_a.data(SET, {"i": moved}))["setMemberGuide"]["errors"] == []
    assert await GuideOrderRow.filter(staff_id=decode_id(clerk, "StaffUser")).count() == 4


async def test_performance_statements_do_not_grow_with_guides(
    api: Api,
    client: httpx.AsyncClient,
    runtime: Runtime,
    manager_a: Api,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    store, month = lid(stores, "SH-A"), _month(runtime)

    async def guide_with_a_buyer(n: int) -> None:
        clerk = await staff_api(
            api, runtime, f"g-clerk-{n}", StaffRole.STORE_CLERK, [stores["SH-A"]]
        )
        buyer = await _login(api, f"g-buyer-{n}", await _code(clerk))
        await _paid_order(client, runtime, buyer, stores, mango)

    async def statements() -> int:
        with count_sql() as seen:
            found = await manager_a.data(PERFORMANCE, {"s": store, "m": month})
        assert found["guidePerformance"]["guides"]
        return len(seen)

    await guide_with_a_buyer(1)
    one = await statements()
    for n in (2, 3, 4):
        await guide_with_a_buyer(n)
    found = (await manager_a.data(PERFORMANCE, {"s": store, "m": month}))["guidePerformance"]
    assert len(found["guides"]) == 4 and found["total"]["orders"] == 4
    assert await statements() == one


MERGE = """mutation($s: ID!, $t: ID!) { mergeMembers(input: {sourceMemberId: $s,
  targetMemberId: $t, reason: "same person"}) { errors { code } } }"""


async def test_a_merge_keeps_the_survivors_guide_and_moves_the_orders(
    api: Api,
    client: httpx.AsyncClient,
    runtime: Runtime,
    clerk_a: Api,
    clerk_b: Api,
    cs: Api,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    kept = await _login(api, "keep", await _code(clerk_a))
    gone = await _login(api, "gone", await _code(clerk_b))
    await _paid_order(client, runtime, gone, stores, mango)
    unbound = await shopper(api, "unbound")
    taker = await _login(api, "taker", await _code(clerk_b))

    for source, target in ((gone, kept), (taker, unbound)):
        merged = await cs.data(MERGE, {"s": source.id, "t": target.id})
        assert merged["mergeMembers"]["errors"] == [], merged

    assert (await _seen_by(cs, kept) or {})["staffName"] == "clerk-a"  # the survivor's
    assert (await _seen_by(cs, unbound) or {})["staffName"] == "clerk-b"  # taken over
    assert await GuideBindingRow.filter(member_id__in=[gone.key, taker.key]).count() == 0
    [order] = await GuideOrderRow.all()
    assert order.member_id == kept.key
    assert order.staff_id == (await StaffUserRow.get(username="clerk-b")).id


PHONE_LOGIN = """mutation($phone: String!, $code: String!, $g: String) {
  loginWithPhone(input: {phone: $phone, code: $code, guideCode: $g}) {
    tokens { accessToken } member { id } errors { code } } }"""
EXPORT = "mutation { exportMyData { document errors { code } } }"


async def test_a_phone_login_binds_and_the_export_names_the_guide(
    api: Api, runtime: Runtime, clerk_b: Api
) -> None:
    sms = await send_code(api, runtime, "13800138022", "+8613800138022")
    variables = {"phone": "13800138022", "code": sms, "g": await _code(clerk_b)}
    payload = (await api.data(PHONE_LOGIN, variables))["loginWithPhone"]
    assert payload["errors"] == [], payload
    who = Shopper(payload["member"]["id"], api.as_(payload["tokens"]["accessToken"]), "", "")
    assert (await _mine(who) or {})["staffName"] == "clerk-b"
    exported = (await who.api.data(EXPORT))["exportMyData"]["document"]["guide"]
    assert exported["guide"] == "clerk-b" and exported["source"] == "SHARE"


async def test_a_guide_moved_to_another_store_binds_no_one_there(
    api: Api, clerk_a: Api, stores: dict[str, Any]
) -> None:
    code = await _code(clerk_a)
    clerk = await StaffUserRow.get(username="clerk-a")
    await StaffStoreRow.filter(staff_id=clerk.id).update(location_id=stores["SH-B"].id)
    who = await shopper(api, "moved")
    refused = (await who.api.data(BIND, {"c": code}))["bindGuide"]
    assert refused["errors"] == [{"code": "GUIDE_INACTIVE", "field": ["guideCode"]}]


MEMBERS = f"""query($q: String!) {{ members(search: $q, first: 20) {{
  nodes {{ id {GUIDE} }} }} }}"""


async def test_a_list_of_members_reads_their_guides_in_constant_statements(
    api: Api, clerk_a: Api, cs: Api
) -> None:
    code = await _code(clerk_a)

    async def bound(n: int) -> None:
        who = await shopper(api, f"listed-{n}", name=f"Guided{n}")
        assert (await who.api.data(BIND, {"c": code}))["bindGuide"]["bound"] is True

    async def statements(count: int) -> int:
        with count_sql() as seen:
            nodes = (await cs.data(MEMBERS, {"q": "Guided"}))["members"]["nodes"]
        assert len(nodes) == count and all(n["guide"]["staffName"] == "clerk-a" for n in nodes)
        return len(seen)

    await bound(1)
    one = await statements(1)
    for n in (2, 3, 4):
        await bound(n)
    assert await statements(4) == one


async def test_staff_of_two_stores_name_the_store_of_their_share(
    api: Api, runtime: Runtime, clerk_a: Api, stores: dict[str, Any]
) -> None:
    both = [stores["SH-A"], stores["SH-B"]]
    roamer = await staff_api(api, runtime, "roamer", StaffRole.STORE_CLERK, both)
    unnamed = await roamer(SHARE)
    assert unnamed["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    at_a = (await roamer.data(SHARE, {"s": lid(stores, "SH-A")}))["guideShare"]["code"]
    at_b = (await roamer.data(SHARE, {"s": lid(stores, "SH-B")}))["guideShare"]["code"]
    assert at_a != at_b
    foreign = await clerk_a(SHARE, {"s": lid(stores, "SH-B")})
    assert foreign["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # A member bound through the SH-B share is bound at SH-B: SH-A's clerk does not see them.
    who = await shopper(api, "roamed", phone="13800138033")
    assert (await who.api.data(BIND, {"c": at_b}))["bindGuide"]["bound"] is True
    found = (await clerk_a.data(LOOKUP, {"p": "13800138033"}))["lookupMember"]
    assert found["guide"] is None


async def test_a_cancelled_paid_order_counts_for_nothing(
    api: Api,
    client: httpx.AsyncClient,
    runtime: Runtime,
    clerk_a: Api,
    manager_a: Api,
    cs: Api,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    who = await _login(api, "undo", await _code(clerk_a))
    await _paid_order(client, runtime, who, stores, mango)
    undone = await _paid_order(client, runtime, who, stores, mango)
    cancelled = (await cs.data(CANCEL, {"o": undone["id"], "r": "customer asked"}))["cancelOrder"]
    assert cancelled["errors"] == [] and cancelled["order"]["status"] == "CANCELLED", cancelled
    variables = {"s": lid(stores, "SH-A"), "m": _month(runtime)}
    found = (await manager_a.data(PERFORMANCE, variables))["guidePerformance"]["total"]
    assert found == {
        "staffId": None,
        "staffName": "",
        "orders": 1,
        "gmv": PRICE,
        "newMembers": 1,
        "repurchasingMembers": 0,
    }


async def test_money_refunded_after_hand_over_comes_off_the_gmv(
    api: Api,
    client: httpx.AsyncClient,
    runtime: Runtime,
    clerk_a: Api,
    manager_a: Api,
    cs: Api,
    stores: dict[str, Any],
    mango: Variant,
) -> None:
    who = await _login(api, "refunded", await _code(clerk_a))
    order = await handed_over(client, runtime, clerk_a, who, stores, mango)
    await _paid_order(client, runtime, who, stores, mango)
    [line] = await line_ids(who.api, order)
    after_sale = await asked(who.api, request_input(order, [(line, 1)], "REFUND_ONLY"))
    assert (await approve(cs, after_sale))["errors"] == []
    variables = {"s": lid(stores, "SH-A"), "m": _month(runtime)}
    found = (await manager_a.data(PERFORMANCE, variables))["guidePerformance"]["total"]
    # Both orders count (the first was handed over); only the second's money stays.
    assert (found["orders"], found["gmv"], found["repurchasingMembers"]) == (2, PRICE, 1)
