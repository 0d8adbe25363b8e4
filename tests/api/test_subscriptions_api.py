"""Subscriptions over GraphQL: plans (ADMIN), every member operation with its bad inputs, who
may do what, and what `me { subscriptions }` shows after renewals.

The clock is put on a fixed store-local moment before anyone logs in, so "today" is known.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from api.relay import decode_id, encode_id
from domain.catalog.services import ProductDraft, VariantDraft, create_product
from domain.identity.model import Principal, PrincipalKind, StaffRole
from domain.identity.services import create_staff
from domain.ids import new_id
from domain.inventory.model import MovementKind
from domain.inventory.stock import Adjustment, adjust
from domain.subscriptions import renewals
from infra.db.models.subscriptions import PlanRow
from infra.runtime import Runtime
from tests.support import MovableClock, count_sql
from tests.support.api import Api, login

TODAY = date(2027, 3, 10)  # a Wednesday
ADMIN = Principal(kind=PrincipalKind.STAFF, id=new_id(), role=StaffRole.ADMIN)
PRICES = (5000, 1990, 800)  # fen: the catalog price of each variant

WECHAT_LOGIN = """
mutation($code: String!) {
  loginWithWechat(input: {appId: "wx-demo", code: $code}) {
    tokens { accessToken } member { id } errors { code }
  }
}"""

ERRORS = "errors { code message field }"
SUBSCRIPTION = """
  id status nextDeliveryDate upcomingDeliveries pausedUntil cancelReason
  interval { unit count } totalPerDelivery { amount currency }
  pickupLocation { id code }
  lines { quantity unitPrice { amount } variant { id } }
  history { what detail actor }
  cycles { number status scheduledDate orderId attempts }
"""
INPUT_TYPES = {
    "createSubscription": "CreateSubscriptionInput",
    "pauseSubscription": "PauseSubscriptionInput",
    "resumeSubscription": "SubscriptionIdInput",
    "skipNextDelivery": "SubscriptionIdInput",
    "rescheduleNextDelivery": "RescheduleInput",
    "changeSubscriptionInterval": "ChangeIntervalInput",
    "changeSubscriptionFulfilment": "ChangeFulfilmentInput",
    "cancelSubscription": "CancelSubscriptionInput",
}
PLAN = f"""
mutation($input: SubscriptionPlanInput!) {{
  createSubscriptionPlan(input: $input) {{
    plan {{ id name interval {{ unit count }} discountPercent minCycles active variants {{ id }} }}
    {ERRORS}
  }}
}}"""
PLANS = "{ subscriptionPlans { id name interval { unit count } discountPercent variants { id } } }"
ME = f"""{{ me {{ subscriptions {{ edges {{ node {{ {SUBSCRIPTION} }} }} }} }} }}"""


def mutation(name: str) -> str:
    return f"""
mutation($input: {INPUT_TYPES[name]}!) {{
  {name}(input: $input) {{ subscription {{ {SUBSCRIPTION} }} {ERRORS} }}
}}"""


def day(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).isoformat()


@dataclass
class World:
    api: Api
    runtime: Runtime
    clock: MovableClock
    admin: Api
    alice: Api
    bob: Api
    clerk: Api
    cs: Api
    variants: list[str]  # global ids
    variant_keys: list[UUID]
    stores: dict[str, str]  # code -> global id
    plan: str  # weekly, 10 % off, the first two variants

    async def op(self, who: Api, name: str, **input: Any) -> dict[str, Any]:
        payload: dict[str, Any] = (await who.data(mutation(name), {"input": input}))[name]
        return payload

    async def ok(self, who: Api, name: str, **input: Any) -> dict[str, Any]:
        payload = await self.op(who, name, **input)
        assert payload["errors"] == [], payload
        found: dict[str, Any] = payload["subscription"]
        return found

    async def refused(self, who: Api, name: str, **input: Any) -> tuple[str, list[str] | None]:
        payload = await self.op(who, name, **input)
        assert payload["subscription"] is None, payload
        [error] = payload["errors"]
        assert error["message"]
        return error["code"], error["field"]

    def signup(self, **changes: Any) -> dict[str, Any]:
        base: dict[str, Any] = {
            "planId": self.plan,
            "lines": [{"variantId": self.variants[0], "quantity": 2}],
            "fulfilment": {"pickup": {"locationId": self.stores["SH-A"]}},
            "firstDeliveryDate": day(5),
            "paymentAgreement": "wxpay-agreement-1",
        }
        return {**base, **changes}

    async def subscribe(self, who: Api | None = None, **changes: Any) -> dict[str, Any]:
        return await self.ok(who or self.alice, "createSubscription", **self.signup(**changes))

    async def mine(self, who: Api) -> list[dict[str, Any]]:
        edges = (await who.data(ME))["me"]["subscriptions"]["edges"]
        return [e["node"] for e in edges]


async def staff(api: Api, runtime: Runtime, name: str, role: StaffRole, stores: list[Any]) -> Api:
    await create_staff(runtime.auth, name, "correct-horse-battery", role, [s.id for s in stores])
    result = await login(api, name, "correct-horse-battery")
    assert result["errors"] == [], result
    return api.as_(result["tokens"]["accessToken"])


async def member(api: Api, openid: str) -> Api:
    logged = (await api.data(WECHAT_LOGIN, {"code": f"test:{openid}"}))["loginWithWechat"]
    assert logged["errors"] == [], logged
    return api.as_(logged["tokens"]["accessToken"])


@pytest.fixture
async def world(api: Api, runtime: Runtime, clock: MovableClock, stores: dict[str, Any]) -> World:
    clock.put(TODAY)  # before any token is issued
    product = await create_product(
        runtime.catalog,
        ProductDraft(
            name="Fruit",
            variants=[
                VariantDraft(code=f"F-{n}", name=f"box {n}", price=price)
                for n, price in enumerate(PRICES)
            ],
        ),
    )
    variants = sorted(await runtime.repos.catalog.variants_of([product.id]), key=lambda v: v.code)
    for variant in variants:
        for code in ("SH-A", "WH-1"):
            await adjust(
                runtime.inventory,
                ADMIN,
                Adjustment(stores[code].id, variant.id, 100, MovementKind.RECEIPT, "in"),
                None,
            )
    admin = await staff(api, runtime, "admin", StaffRole.ADMIN, [])
    made = World(
        api=api,
        runtime=runtime,
        clock=clock,
        admin=admin,
        alice=await member(api, "alice"),
        bob=await member(api, "bob"),
        clerk=await staff(api, runtime, "clerk-a", StaffRole.STORE_CLERK, [stores["SH-A"]]),
        cs=await staff(api, runtime, "cs-agent", StaffRole.CS_AGENT, []),
        variants=[encode_id("Variant", v.id) for v in variants],
        variant_keys=[v.id for v in variants],
        stores={code: encode_id("Location", loc.id) for code, loc in stores.items()},
        plan="",
    )
    created = await admin.data(
        PLAN,
        {
            "input": {
                "name": "Weekly fruit",
                "variantIds": made.variants[:2],
                "interval": {"unit": "WEEK", "count": 1},
                "discountPercent": 10,
                "minCycles": 2,
            }
        },
    )
    assert created["createSubscriptionPlan"]["errors"] == [], created
    made.plan = created["createSubscriptionPlan"]["plan"]["id"]
    return made


def plan_input(world: World, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "Monthly",
        "variantIds": world.variants[:1],
        "interval": {"unit": "MONTH", "count": 1},
        "discountPercent": 5,
        "minCycles": 0,
    }
    return {"input": {**base, **changes}}


def top_level_code(body: Mapping[str, Any]) -> str:
    [error] = body["errors"]
    code: str = error["extensions"]["code"]
    return code


# --------------------------------------------------------------------------- plans


async def test_admin_creates_plans_and_anyone_lists_the_active_ones(world: World) -> None:
    made = (
        await world.admin.data(
            PLAN,
            plan_input(
                world,
                name="  A monthly box  ",
                variantIds=[world.variants[2], world.variants[0], world.variants[2]],
            ),
        )
    )["createSubscriptionPlan"]
    assert made["errors"] == []
    plan = made["plan"]
    assert decode_id(plan["id"], "SubscriptionPlan")
    assert plan["name"] == "A monthly box"
    assert plan["interval"] == {"unit": "MONTH", "count": 1}
    assert (plan["discountPercent"], plan["minCycles"], plan["active"]) == (5, 0, True)
    assert [v["id"] for v in plan["variants"]] == [world.variants[2], world.variants[0]]

    for who in (world.api, world.alice, world.clerk):
        listed = (await who.data(PLANS))["subscriptionPlans"]
        assert [p["name"] for p in listed] == ["A monthly box", "Weekly fruit"]
        weekly = listed[1]
        assert weekly["id"] == world.plan
        assert weekly["interval"] == {"unit": "WEEK", "count": 1}
        assert weekly["discountPercent"] == 10
        assert [v["id"] for v in weekly["variants"]] == world.variants[:2]


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"name": ""}, "INVALID_INPUT", ["name"]),
        ({"name": "   "}, "INVALID_INPUT", ["name"]),
        ({"name": "x" * 101}, "INVALID_INPUT", ["name"]),
        ({"variantIds": []}, "INVALID_INPUT", ["variantIds"]),
        ({"discountPercent": -1}, "INVALID_INPUT", ["discountPercent"]),
        ({"discountPercent": 51}, "INVALID_INPUT", ["discountPercent"]),
        ({"minCycles": -1}, "INVALID_INPUT", ["minCycles"]),
        ({"minCycles": 53}, "INVALID_INPUT", ["minCycles"]),
        ({"interval": {"unit": "MONTH", "count": 0}}, "INVALID_INPUT", ["interval"]),
        ({"interval": {"unit": "MONTH", "count": 13}}, "INVALID_INPUT", ["interval"]),
        ({"interval": {"unit": "WEEK", "count": 13}}, "INVALID_INPUT", ["interval"]),
        ({"interval": {"unit": "DAY", "count": 91}}, "INVALID_INPUT", ["interval"]),
        ({"variantIds": ["not-an-id"]}, "INVALID_ID", ["variantIds", "0"]),
        ({"variantIds": [encode_id("Variant", uuid4())]}, "NOT_FOUND", ["variantIds"]),
    ],
)
async def test_bad_plans_are_refused(
    world: World, changes: dict[str, Any], code: str, field: list[str]
) -> None:
    payload = (await world.admin.data(PLAN, plan_input(world, **changes)))["createSubscriptionPlan"]
    assert payload["plan"] is None
    [error] = payload["errors"]
    assert (error["code"], error["field"]) == (code, field)
    assert len((await world.api.data(PLANS))["subscriptionPlans"]) == 1  # nothing was made


async def test_a_plan_id_of_another_type_is_refused(world: World) -> None:
    payload = (await world.admin.data(PLAN, plan_input(world, variantIds=[world.stores["SH-A"]])))[
        "createSubscriptionPlan"
    ]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("INVALID_ID", ["variantIds", "0"])
    ]


async def test_only_admin_creates_plans(world: World) -> None:
    for who in (world.alice, world.clerk, world.cs):
        body = await who(PLAN, plan_input(world))
        assert top_level_code(body) == "FORBIDDEN"
        assert body["data"] is None
    assert top_level_code(await world.api(PLAN, plan_input(world))) == "UNAUTHENTICATED"
    assert len((await world.api.data(PLANS))["subscriptionPlans"]) == 1


# --------------------------------------------------------------------------- sign-up


async def test_a_member_subscribes_at_locked_prices(world: World) -> None:
    sub = await world.subscribe(
        lines=[
            {"variantId": world.variants[0], "quantity": 2},
            {"variantId": world.variants[1], "quantity": 1},
        ]
    )
    assert decode_id(sub["id"], "Subscription")
    assert sub["status"] == "ACTIVE"
    assert sub["nextDeliveryDate"] == day(5)
    assert sub["upcomingDeliveries"] == [day(5), day(12), day(19), day(26)]
    assert sub["interval"] == {"unit": "WEEK", "count": 1}
    assert sub["pickupLocation"] == {"id": world.stores["SH-A"], "code": "SH-A"}
    lines = {x["variant"]["id"]: (x["quantity"], x["unitPrice"]["amount"]) for x in sub["lines"]}
    assert lines == {world.variants[0]: (2, 4500), world.variants[1]: (1, 1791)}  # 10 % off
    assert sub["totalPerDelivery"] == {"amount": 2 * 4500 + 1791, "currency": "CNY"}
    assert [h["what"] for h in sub["history"]] == ["CREATED"]
    assert sub["history"][0]["actor"].startswith("MEMBER:")
    assert sub["cycles"] == []
    assert sub["pausedUntil"] is None and sub["cancelReason"] is None

    # the price stays locked when the catalog price changes later
    from infra.db.models.catalog import VariantRow

    await VariantRow.filter(id=world.variant_keys[0]).update(price_amount=9999)
    [mine] = await world.mine(world.alice)
    assert mine["id"] == sub["id"]
    assert {x["unitPrice"]["amount"] for x in mine["lines"]} == {4500, 1791}


async def test_a_member_subscribes_for_delivery(world: World) -> None:
    sub = await world.subscribe(
        fulfilment={
            "delivery": {"address": "88 Nanjing East Rd", "latitude": 31.24, "longitude": 121.5}
        }
    )
    assert sub["status"] == "ACTIVE" and sub["pickupLocation"] is None
    row = await world.runtime.repos.subscriptions.get(decode_id(sub["id"], "Subscription"))
    assert row is not None and row.delivery_address is not None
    assert "Nanjing" not in row.delivery_address  # encrypted at rest


async def test_a_retried_sign_up_with_the_same_key_subscribes_once(world: World) -> None:
    first = await world.subscribe(idempotencyKey="signup-42")
    again = await world.subscribe(idempotencyKey="signup-42")
    assert again["id"] == first["id"]
    assert len(await world.mine(world.alice)) == 1
    # the key is the member's own: another member may use the same string
    other = await world.subscribe(world.bob, idempotencyKey="signup-42")
    assert other["id"] != first["id"]
    # the same key for a different sign-up is a conflict
    code, field = await world.refused(
        world.alice,
        "createSubscription",
        **world.signup(idempotencyKey="signup-42", firstDeliveryDate=day(6)),
    )
    assert (code, field) == ("IDEMPOTENCY_CONFLICT", ["idempotencyKey"])
    code, _ = await world.refused(
        world.alice, "createSubscription", **world.signup(idempotencyKey="k" * 101)
    )
    assert code == "INVALID_INPUT"
    assert len(await world.mine(world.alice)) == 1
    assert len(await world.mine(world.bob)) == 1


def _malformed(kind: str) -> str:
    return base64.b64encode(f"{kind}:not-a-uuid".encode()).decode()


@pytest.mark.parametrize(
    ("case", "code", "field"),
    [
        ("today", "INVALID_DATE", ["firstDeliveryDate"]),
        ("yesterday", "INVALID_DATE", ["firstDeliveryDate"]),
        ("last year", "INVALID_DATE", ["firstDeliveryDate"]),
        ("next year and a day", "INVALID_DATE", ["firstDeliveryDate"]),
        ("9999-12-31", "INVALID_DATE", ["firstDeliveryDate"]),
        ("unknown plan", "PLAN_UNAVAILABLE", ["planId"]),
        ("malformed plan", "INVALID_ID", ["planId"]),
        ("plan id of a variant", "INVALID_ID", ["planId"]),
        ("garbage plan", "INVALID_ID", ["planId"]),
        ("variant not in plan", "VARIANT_NOT_IN_PLAN", ["lines"]),
        ("unknown variant", "VARIANT_NOT_IN_PLAN", ["lines"]),
        ("malformed variant", "INVALID_ID", ["lines", "0", "variantId"]),
        ("quantity 0", "INVALID_INPUT", ["lines", "0", "quantity"]),
        ("quantity -1", "INVALID_INPUT", ["lines", "0", "quantity"]),
        ("quantity 100", "INVALID_INPUT", ["lines", "0", "quantity"]),
        ("no lines", "INVALID_INPUT", ["lines"]),
        ("same variant twice", "INVALID_INPUT", ["lines", "1", "variantId"]),
        ("21 lines", "TOO_MANY_ITEMS", ["lines"]),
        ("both fulfilments", "INVALID_INPUT", ["fulfilment"]),
        ("neither fulfilment", "INVALID_INPUT", ["fulfilment"]),
        ("pickup at a warehouse", "INVALID_INPUT", ["fulfilment", "pickup", "locationId"]),
        ("pickup at an unknown store", "INVALID_INPUT", ["fulfilment", "pickup", "locationId"]),
        ("malformed location", "INVALID_ID", ["fulfilment", "pickup", "locationId"]),
        ("short address", "INVALID_INPUT", ["fulfilment", "delivery", "address"]),
        ("no agreement", "INVALID_INPUT", ["paymentAgreement"]),
        ("blank agreement", "INVALID_INPUT", ["paymentAgreement"]),
        ("long agreement", "INVALID_INPUT", ["paymentAgreement"]),
    ],
)
async def test_bad_sign_ups_are_refused(
    world: World, case: str, code: str, field: list[str]
) -> None:
    v0, v1, v2 = world.variants
    pickup_a = {"pickup": {"locationId": world.stores["SH-A"]}}
    delivery = {"delivery": {"address": "88 Nanjing East Rd", "latitude": 31.2, "longitude": 121.5}}
    cases: dict[str, dict[str, Any]] = {
        "today": {"firstDeliveryDate": day(0)},
        "yesterday": {"firstDeliveryDate": day(-1)},
        "last year": {"firstDeliveryDate": day(-365)},
        "next year and a day": {"firstDeliveryDate": day(367)},
        "9999-12-31": {"firstDeliveryDate": "9999-12-31"},
        "unknown plan": {"planId": encode_id("SubscriptionPlan", uuid4())},
        "malformed plan": {"planId": _malformed("SubscriptionPlan")},
        "plan id of a variant": {"planId": v0},
        "garbage plan": {"planId": "%%%"},
        "variant not in plan": {"lines": [{"variantId": v2, "quantity": 1}]},
        "unknown variant": {"lines": [{"variantId": encode_id("Variant", uuid4()), "quantity": 1}]},
        "malformed variant": {"lines": [{"variantId": "nope", "quantity": 1}]},
        "quantity 0": {"lines": [{"variantId": v0, "quantity": 0}]},
        "quantity -1": {"lines": [{"variantId": v0, "quantity": -1}]},
        "quantity 100": {"lines": [{"variantId": v0, "quantity": 100}]},
        "no lines": {"lines": []},
        "same variant twice": {
            "lines": [{"variantId": v1, "quantity": 1}, {"variantId": v1, "quantity": 2}]
        },
        "21 lines": {"lines": [{"variantId": v0, "quantity": 1}] * 21},
        "both fulfilments": {"fulfilment": {**pickup_a, **delivery}},
        "neither fulfilment": {"fulfilment": {}},
        "pickup at a warehouse": {"fulfilment": {"pickup": {"locationId": world.stores["WH-1"]}}},
        "pickup at an unknown store": {
            "fulfilment": {"pickup": {"locationId": encode_id("Location", uuid4())}}
        },
        "malformed location": {"fulfilment": {"pickup": {"locationId": "x"}}},
        "short address": {
            "fulfilment": {"delivery": {"address": "1 a", "latitude": 31.2, "longitude": 121.5}}
        },
        "no agreement": {"paymentAgreement": ""},
        "blank agreement": {"paymentAgreement": "    "},
        "long agreement": {"paymentAgreement": "a" * 101},
    }
    changes = cases[case]
    got_code, got_field = await world.refused(
        world.alice, "createSubscription", **world.signup(**changes)
    )
    assert (got_code, got_field) == (code, field)
    assert await world.mine(world.alice) == []


async def test_only_members_subscribe(world: World) -> None:
    name = "createSubscription"
    for who in (world.admin, world.clerk, world.cs):
        body = await who(mutation(name), {"input": world.signup()})
        assert top_level_code(body) == "FORBIDDEN"
    body = await world.api(mutation(name), {"input": world.signup()})
    assert top_level_code(body) == "UNAUTHENTICATED"
    response = await world.api.as_("not-a-token").raw(mutation(name), {"input": world.signup()})
    assert response.status_code == 401
    assert top_level_code(response.json()) == "UNAUTHENTICATED"
    assert await world.mine(world.alice) == []


# --------------------------------------------------------------------------- member operations


async def test_pause_and_resume(world: World) -> None:
    sub = await world.subscribe()
    paused = await world.ok(world.alice, "pauseSubscription", id=sub["id"], until=day(20))
    assert (paused["status"], paused["pausedUntil"]) == ("PAUSED", day(20))
    assert paused["upcomingDeliveries"] == []
    assert await world.refused(world.alice, "pauseSubscription", id=sub["id"]) == (
        "ILLEGAL_STATE",
        ["id"],
    )
    resumed = await world.ok(world.alice, "resumeSubscription", id=sub["id"])
    assert (resumed["status"], resumed["pausedUntil"]) == ("ACTIVE", None)
    assert resumed["nextDeliveryDate"] == day(5)  # still ahead: kept
    assert await world.refused(world.alice, "resumeSubscription", id=sub["id"]) == (
        "ILLEGAL_STATE",
        ["id"],
    )
    indefinitely = await world.ok(world.alice, "pauseSubscription", id=sub["id"])
    assert (indefinitely["status"], indefinitely["pausedUntil"]) == ("PAUSED", None)
    assert [h["what"] for h in indefinitely["history"]] == [
        "CREATED",
        "PAUSED",
        "RESUMED",
        "PAUSED",
    ]


@pytest.mark.parametrize("until", [day(0), day(-1), day(-400), day(367), "9999-12-31"])
async def test_a_pause_until_a_date_not_ahead_is_refused(world: World, until: str) -> None:
    sub = await world.subscribe()
    assert await world.refused(world.alice, "pauseSubscription", id=sub["id"], until=until) == (
        "INVALID_DATE",
        ["until"],
    )
    [mine] = await world.mine(world.alice)
    assert mine["status"] == "ACTIVE"


async def test_resuming_after_the_dates_passed_rolls_forward(world: World) -> None:
    sub = await world.subscribe()
    await world.ok(world.alice, "pauseSubscription", id=sub["id"])
    world.clock.put(TODAY + timedelta(days=13))  # two deliveries missed
    alice = await member(world.api, "alice")  # the old access token has expired by now
    resumed = await world.ok(alice, "resumeSubscription", id=sub["id"])
    assert resumed["nextDeliveryDate"] == day(19)
    assert resumed["upcomingDeliveries"][:2] == [day(19), day(26)]
    assert resumed["cycles"] == []


async def test_skip_the_next_delivery(world: World) -> None:
    sub = await world.subscribe()
    skipped = await world.ok(world.alice, "skipNextDelivery", id=sub["id"])
    assert skipped["nextDeliveryDate"] == day(12)
    assert skipped["upcomingDeliveries"] == [day(12), day(19), day(26), day(33)]
    assert [
        (c["number"], c["status"], c["scheduledDate"], c["orderId"]) for c in skipped["cycles"]
    ] == [(1, "SKIPPED", day(5), None)]
    assert skipped["history"][-1]["what"] == "SKIPPED"
    twice = await world.ok(world.alice, "skipNextDelivery", id=sub["id"])
    assert twice["nextDeliveryDate"] == day(19)
    assert [c["status"] for c in twice["cycles"]] == ["SKIPPED", "SKIPPED"]


async def test_reschedule_within_three_days_of_the_scheduled_date(world: World) -> None:
    sub = await world.subscribe()
    for target in (day(8), day(2), day(5)):
        moved = await world.ok(world.alice, "rescheduleNextDelivery", id=sub["id"], date=target)
        assert moved["nextDeliveryDate"] == target
        assert moved["upcomingDeliveries"][1:3] == [day(12), day(19)]  # the schedule stays
    for bad, code in (
        (day(9), "OUTSIDE_WINDOW"),
        (day(1), "OUTSIDE_WINDOW"),
        (day(60), "OUTSIDE_WINDOW"),
        (day(0), "INVALID_DATE"),
        (day(-1), "INVALID_DATE"),
    ):
        got = await world.refused(world.alice, "rescheduleNextDelivery", id=sub["id"], date=bad)
        assert got == (code, ["date"]), bad
    [mine] = await world.mine(world.alice)
    assert mine["nextDeliveryDate"] == day(5)
    assert [h["what"] for h in mine["history"]].count("RESCHEDULED") == 3


async def test_the_next_delivery_cannot_be_moved_into_the_past(world: World) -> None:
    sub = await world.subscribe(firstDeliveryDate=day(2))
    # inside the window (-3 days) but not after today
    for bad in (day(-1), day(0)):
        got = await world.refused(world.alice, "rescheduleNextDelivery", id=sub["id"], date=bad)
        assert got == ("INVALID_DATE", ["date"])
    assert (await world.ok(world.alice, "rescheduleNextDelivery", id=sub["id"], date=day(1)))[
        "nextDeliveryDate"
    ] == day(1)


async def test_change_the_interval(world: World) -> None:
    sub = await world.subscribe()
    changed = await world.ok(
        world.alice,
        "changeSubscriptionInterval",
        id=sub["id"],
        interval={"unit": "WEEK", "count": 2},
    )
    assert changed["interval"] == {"unit": "WEEK", "count": 2}
    assert changed["upcomingDeliveries"] == [day(5), day(19), day(33), day(47)]
    monthly = await world.ok(
        world.alice,
        "changeSubscriptionInterval",
        id=sub["id"],
        interval={"unit": "MONTH", "count": 1},
    )
    assert monthly["upcomingDeliveries"] == [
        "2027-03-15",
        "2027-04-15",
        "2027-05-15",
        "2027-06-15",
    ]
    for bad in ({"unit": "WEEK", "count": 0}, {"unit": "MONTH", "count": 13}):
        got = await world.refused(
            world.alice, "changeSubscriptionInterval", id=sub["id"], interval=bad
        )
        assert got == ("INVALID_INPUT", ["interval"])
    [mine] = await world.mine(world.alice)
    assert mine["interval"] == {"unit": "MONTH", "count": 1}
    assert [h["what"] for h in mine["history"]] == ["CREATED", "INTERVAL", "INTERVAL"]


async def test_change_the_fulfilment(world: World) -> None:
    sub = await world.subscribe()
    to_b = await world.ok(
        world.alice,
        "changeSubscriptionFulfilment",
        id=sub["id"],
        fulfilment={"pickup": {"locationId": world.stores["SH-B"]}},
    )
    assert to_b["pickupLocation"] == {"id": world.stores["SH-B"], "code": "SH-B"}
    home = await world.ok(
        world.alice,
        "changeSubscriptionFulfilment",
        id=sub["id"],
        fulfilment={"delivery": {"address": "1 Century Ave", "latitude": 31.2, "longitude": 121.5}},
    )
    assert home["pickupLocation"] is None
    both = {
        "pickup": {"locationId": world.stores["SH-A"]},
        "delivery": {"address": "1 Century Ave", "latitude": 31.2, "longitude": 121.5},
    }
    for bad, field in (
        (both, ["fulfilment"]),
        ({}, ["fulfilment"]),
        (
            {"pickup": {"locationId": world.stores["WH-1"]}},
            ["fulfilment", "pickup", "locationId"],
        ),
        ({"pickup": {"locationId": "bad"}}, ["fulfilment", "pickup", "locationId"]),
        (
            {"delivery": {"address": "x", "latitude": 31.2, "longitude": 121.5}},
            ["fulfilment", "delivery", "address"],
        ),
    ):
        got = await world.refused(
            world.alice, "changeSubscriptionFulfilment", id=sub["id"], fulfilment=bad
        )
        assert got[1] == field, bad
        assert got[0] in ("INVALID_INPUT", "INVALID_ID")
    [mine] = await world.mine(world.alice)
    assert mine["pickupLocation"] is None
    assert [h["what"] for h in mine["history"]] == ["CREATED", "FULFILMENT", "FULFILMENT"]


async def test_cancel_and_nothing_after_it(world: World) -> None:
    sub = await world.subscribe()
    for bad in ("", " x ", "y" * 201):
        got = await world.refused(world.alice, "cancelSubscription", id=sub["id"], reason=bad)
        assert got == ("INVALID_INPUT", ["reason"])
    cancelled = await world.ok(
        world.alice, "cancelSubscription", id=sub["id"], reason="  moving abroad "
    )
    assert (cancelled["status"], cancelled["cancelReason"]) == ("CANCELLED", "moving abroad")
    assert cancelled["upcomingDeliveries"] == []
    interval = {"unit": "WEEK", "count": 2}
    pickup = {"pickup": {"locationId": world.stores["SH-B"]}}
    for name, extra in (
        ("pauseSubscription", {}),
        ("resumeSubscription", {}),
        ("skipNextDelivery", {}),
        ("rescheduleNextDelivery", {"date": day(6)}),
        ("changeSubscriptionInterval", {"interval": interval}),
        ("changeSubscriptionFulfilment", {"fulfilment": pickup}),
        ("cancelSubscription", {"reason": "again"}),
    ):
        got = await world.refused(world.alice, name, id=sub["id"], **extra)
        assert got == ("ILLEGAL_STATE", ["id"]), name
    [mine] = await world.mine(world.alice)
    assert mine["status"] == "CANCELLED"
    assert [h["what"] for h in mine["history"]] == ["CREATED", "CANCELLED"]


OPERATIONS: list[tuple[str, dict[str, Any]]] = [
    ("pauseSubscription", {}),
    ("resumeSubscription", {}),
    ("skipNextDelivery", {}),
    ("rescheduleNextDelivery", {"date": day(6)}),
    ("changeSubscriptionInterval", {"interval": {"unit": "WEEK", "count": 2}}),
    ("changeSubscriptionFulfilment", {"fulfilment": {"pickup": {"locationId": "SH-B"}}}),
    ("cancelSubscription", {"reason": "not mine"}),
]


def _extra(world: World, extra: dict[str, Any]) -> dict[str, Any]:
    if "fulfilment" in extra:
        return {"fulfilment": {"pickup": {"locationId": world.stores["SH-B"]}}}
    return extra


@pytest.mark.parametrize(("name", "extra"), OPERATIONS, ids=[n for n, _ in OPERATIONS])
async def test_another_members_subscription_is_not_found(
    world: World, name: str, extra: dict[str, Any]
) -> None:
    sub = await world.subscribe()
    if name == "resumeSubscription":
        await world.ok(world.alice, "pauseSubscription", id=sub["id"])
    got = await world.refused(world.bob, name, id=sub["id"], **_extra(world, extra))
    assert got == ("NOT_FOUND", ["id"])
    unknown = encode_id("Subscription", uuid4())
    got = await world.refused(world.alice, name, id=unknown, **_extra(world, extra))
    assert got == ("NOT_FOUND", ["id"])
    [mine] = await world.mine(world.alice)
    assert len(mine["history"]) == (2 if name == "resumeSubscription" else 1)
    assert await world.mine(world.bob) == []


@pytest.mark.parametrize(("name", "extra"), OPERATIONS, ids=[n for n, _ in OPERATIONS])
async def test_malformed_subscription_ids_are_refused(
    world: World, name: str, extra: dict[str, Any]
) -> None:
    for bad in ("not-an-id", _malformed("Subscription"), world.plan, world.variants[0]):
        got = await world.refused(world.alice, name, id=bad, **_extra(world, extra))
        assert got == ("INVALID_ID", ["id"]), bad


@pytest.mark.parametrize(("name", "extra"), OPERATIONS, ids=[n for n, _ in OPERATIONS])
async def test_staff_and_anonymous_callers_cannot_change_subscriptions(
    world: World, name: str, extra: dict[str, Any]
) -> None:
    sub = await world.subscribe()
    variables = {"input": {"id": sub["id"], **_extra(world, extra)}}
    for who in (world.admin, world.clerk, world.cs):
        body = await who(mutation(name), variables)
        assert top_level_code(body) == "FORBIDDEN", who
        assert body["data"] is None
    assert top_level_code(await world.api(mutation(name), variables)) == "UNAUTHENTICATED"
    [mine] = await world.mine(world.alice)
    assert [h["what"] for h in mine["history"]] == ["CREATED"]


# --------------------------------------------------------------------------- reading


async def test_me_shows_only_my_subscriptions_with_cycles_after_renewal(world: World) -> None:
    soon = await world.subscribe(firstDeliveryDate=day(2))
    later = await world.subscribe(firstDeliveryDate=day(9))
    bobs = await world.subscribe(world.bob, firstDeliveryDate=day(2))
    await renewals.renew_due(world.runtime.subscriptions)
    await renewals.renew_due(world.runtime.subscriptions)

    mine = {s["id"]: s for s in await world.mine(world.alice)}
    assert set(mine) == {soon["id"], later["id"]}
    renewed = mine[soon["id"]]
    assert renewed["status"] == "ACTIVE"
    assert renewed["nextDeliveryDate"] == day(9)
    assert [
        (c["number"], c["status"], c["scheduledDate"], c["attempts"]) for c in renewed["cycles"]
    ] == [(1, "PAID", day(2), 1)]
    order_id = renewed["cycles"][0]["orderId"]
    assert decode_id(order_id, "Order")
    assert [h["what"] for h in renewed["history"]] == ["CREATED", "ORDERED", "PAID"]
    assert [h["actor"] for h in renewed["history"]][1:] == ["SYSTEM", "SYSTEM"]
    assert mine[later["id"]]["cycles"] == []
    assert [s["id"] for s in await world.mine(world.bob)] == [bobs["id"]]

    order = await world.alice.data(
        "query($id: ID!) { order(id: $id) { status total { amount } } }", {"id": order_id}
    )
    assert order["order"] == {"status": "PAID", "total": {"amount": 2 * 4500}}


async def test_subscription_history_and_cycles_cost_the_same_sql_for_2_or_6(
    world: World,
) -> None:
    """Per-request loaders: one query for the page's histories, one for its cycles."""
    for _ in range(6):
        await world.subscribe(firstDeliveryDate=day(2))
    await renewals.renew_due(world.runtime.subscriptions)
    query = f"{{ me {{ subscriptions(first: $n) {{ nodes {{ {SUBSCRIPTION} }} }} }} }}"
    query = "query($n: Int!) " + query
    counted = []
    for size in (2, 6):
        with count_sql() as statements:
            nodes = (await world.alice.data(query, {"n": size}))["me"]["subscriptions"]["nodes"]
        assert len(nodes) == size
        assert all(s["history"] and s["cycles"] for s in nodes), nodes
        counted.append(len(statements))
    assert counted[0] == counted[1], counted


async def test_customer_service_sees_a_members_subscriptions_and_store_staff_do_not(
    world: World,
) -> None:
    sub = await world.subscribe()
    me = await world.alice.data("{ me { id } }")
    member_id = me["me"]["id"]
    query = "query($id: ID!) { member(id: $id) { subscriptions { nodes { id status } } } }"
    seen = await world.cs.data(query, {"id": member_id})
    assert seen["member"]["subscriptions"]["nodes"] == [{"id": sub["id"], "status": "ACTIVE"}]
    refused = await world.clerk(query, {"id": member_id})
    assert top_level_code(refused) == "FORBIDDEN"


async def test_a_renewal_order_is_picked_up_over_the_api_and_earns_points(world: World) -> None:
    sub = await world.subscribe(firstDeliveryDate=day(1))
    await renewals.renew_due(world.runtime.subscriptions)
    [mine] = await world.mine(world.alice)
    [cycle] = mine["cycles"]
    assert cycle["status"] == "PAID"
    order_id = cycle["orderId"]
    for step in ("startPreparingOrder", "markOrderReadyForPickup"):
        done = await world.clerk.data(
            f"mutation($o: ID!) {{ {step}(input: {{orderId: $o}}) {{ errors {{ code }} }} }}",
            {"o": order_id},
        )
        assert done[step]["errors"] == [], step
    code = (
        await world.alice.data(
            "query($o: ID!) { order(id: $o) { status pickup { code } } }", {"o": order_id}
        )
    )["order"]
    assert code["status"] == "READY_FOR_PICKUP"
    handed = await world.clerk.data(
        """mutation($l: ID!, $c: String!) { completePickup(input: {locationId: $l, pickupCode: $c})
        { order { status } errors { code } } }""",
        {"l": world.stores["SH-A"], "c": code["pickup"]["code"]},
    )
    assert handed["completePickup"] == {"order": {"status": "PICKED_UP"}, "errors": []}
    points = (await world.alice.data("{ me { points { balance } } }"))["me"]["points"]
    assert points["balance"] == 2 * 4500 // 100  # one point per yuan paid
    [after] = await world.mine(world.alice)
    assert after["id"] == sub["id"] and after["nextDeliveryDate"] == day(8)


async def test_export_my_data_has_the_subscriptions(world: World) -> None:
    sub = await world.subscribe()
    await world.subscribe(world.bob)
    await world.ok(world.alice, "skipNextDelivery", id=sub["id"])
    exported = (await world.alice.data("mutation { exportMyData { document errors { code } } }"))[
        "exportMyData"
    ]
    assert exported["errors"] == []
    [section] = exported["document"]["subscriptions"]
    assert section["status"] == "ACTIVE"
    assert section["every"] == "1 WEEK"
    assert section["nextDeliveries"] == [day(12), day(19), day(26), day(33)]
    assert section["lines"] == [
        {"variantId": str(world.variant_keys[0]), "quantity": 2, "unitPrice": 4500}
    ]


# ------------------------------------------------------------
# What a member and a store met with subscriptions: a renewal order names its subscription and
# delivery date, the store's queue shows it on that date (not the two days before, when it is
# placed), a paused subscription has no delivery to skip, and ADMIN edits and retires plans
# without touching the terms existing subscriptions locked.
#
# The world (a store-local TODAY, a weekly plan at 10 % off) is the one above;
# dates are store-local days from it.

ORDER = """query($o: ID!) { order(id: $o) { id status subscriptionId deliveryDate
  total { amount } } }"""
QUEUE = """query($l: ID!, $d: Date) { pickupQueue(locationId: $l, forDate: $d) {
  edges { node { id deliveryDate } } } }"""
UPDATE = f"""
mutation($input: UpdateSubscriptionPlanInput!) {{
  updateSubscriptionPlan(input: $input) {{
    plan {{ id name interval {{ unit count }} discountPercent minCycles active variants {{ id }} }}
    {ERRORS}
  }}
}}"""
RETIRE = f"""
mutation($id: ID!) {{
  retireSubscriptionPlan(input: {{id: $id}}) {{ plan {{ id active }} {ERRORS} }}
}}"""


async def renew(world: World) -> None:
    await renewals.renew_due(world.runtime.subscriptions)


async def queue(world: World, for_date: str | None = None) -> list[dict[str, Any]]:
    found = await world.clerk.data(QUEUE, {"l": world.stores["SH-A"], "d": for_date})
    return [e["node"] for e in found["pickupQueue"]["edges"]]


async def move_to(world: World, days: int) -> None:
    """Put the clock `days` store-local days ahead and log the clerk in again (tokens expire)."""
    world.clock.put(TODAY + timedelta(days=days))
    result = await login(world.api, "clerk-a", "correct-horse-battery")
    assert result["errors"] == [], result
    world.clerk = world.api.as_(result["tokens"]["accessToken"])


async def the_order(world: World, order_id: str) -> dict[str, Any]:
    found: dict[str, Any] = (await world.alice.data(ORDER, {"o": order_id}))["order"]
    return found


# --------------------------------------------------------------------------- renewal orders


async def test_a_renewal_order_names_its_subscription_and_delivery_date(world: World) -> None:
    sub = await world.subscribe(firstDeliveryDate=day(2))
    await renew(world)
    [mine] = await world.mine(world.alice)
    [cycle] = mine["cycles"]
    order = await the_order(world, cycle["orderId"])
    assert order["status"] == "PAID"
    assert order["subscriptionId"] == sub["id"]
    assert order["deliveryDate"] == day(2)
    # store staff see the same fields on the order they prepare
    staff_view = (await world.clerk.data(ORDER, {"o": cycle["orderId"]}))["order"]
    assert (staff_view["subscriptionId"], staff_view["deliveryDate"]) == (sub["id"], day(2))


async def test_the_queue_shows_a_renewal_order_on_its_delivery_date(world: World) -> None:
    await world.subscribe(firstDeliveryDate=day(2))
    await renew(world)  # placed and paid today, two days ahead
    [mine] = await world.mine(world.alice)
    order_id = mine["cycles"][0]["orderId"]

    assert await queue(world) == []  # today's queue: not due yet
    assert await queue(world, day(1)) == []
    assert await queue(world, day(2)) == [{"id": order_id, "deliveryDate": day(2)}]

    await move_to(world, 2)  # its day: the default queue has it
    assert await queue(world) == [{"id": order_id, "deliveryDate": day(2)}]


async def test_the_queue_still_shows_ordinary_orders_and_overdue_renewals(world: World) -> None:
    await world.subscribe(firstDeliveryDate=day(1))
    await renew(world)
    [mine] = await world.mine(world.alice)
    order_id = mine["cycles"][0]["orderId"]
    await move_to(world, 3)  # not collected on its day: still queued
    assert [o["id"] for o in await queue(world)] == [order_id]
    # an earlier date than a queued order's only hides renewal orders due after it
    assert await queue(world, day(0)) == []


# --------------------------------------------------------------------------- skipping


async def test_skipping_a_paused_subscription_is_refused_and_changes_nothing(
    world: World,
) -> None:
    sub = await world.subscribe()
    await world.ok(world.alice, "pauseSubscription", id=sub["id"])
    code, field = await world.refused(world.alice, "skipNextDelivery", id=sub["id"])
    assert (code, field) == ("SUBSCRIPTION_PAUSED", ["id"])
    [mine] = await world.mine(world.alice)
    assert mine["status"] == "PAUSED"
    assert mine["nextDeliveryDate"] == day(5)
    assert mine["cycles"] == []
    assert [h["what"] for h in mine["history"]] == ["CREATED", "PAUSED"]
    resumed = await world.ok(world.alice, "resumeSubscription", id=sub["id"])
    skipped = await world.ok(world.alice, "skipNextDelivery", id=resumed["id"])
    assert skipped["nextDeliveryDate"] == day(12)


# --------------------------------------------------------------------------- plan edits


async def test_a_plan_edit_affects_new_sign_ups_only(world: World) -> None:
    alice = await world.subscribe(firstDeliveryDate=day(1))
    edited = await world.admin.data(
        UPDATE,
        {
            "input": {
                **plan_input(
                    world,
                    name="Fortnightly fruit",
                    variantIds=world.variants[:1],
                    interval={"unit": "WEEK", "count": 2},
                    discountPercent=20,
                    minCycles=3,
                )["input"],
                "id": world.plan,
            }
        },
    )
    payload = edited["updateSubscriptionPlan"]
    assert payload["errors"] == []
    assert payload["plan"] == {
        "id": world.plan,
        "name": "Fortnightly fruit",
        "interval": {"unit": "WEEK", "count": 2},
        "discountPercent": 20,
        "minCycles": 3,
        "active": True,
        "variants": [{"id": world.variants[0]}],
    }

    # alice keeps what she locked: price, interval, schedule; her renewal is at that price
    [mine] = await world.mine(world.alice)
    assert mine["id"] == alice["id"]
    assert mine["interval"] == {"unit": "WEEK", "count": 1}
    assert [x["unitPrice"]["amount"] for x in mine["lines"]] == [4500]
    assert mine["upcomingDeliveries"] == [day(1), day(8), day(15), day(22)]
    await renew(world)
    [renewed] = await world.mine(world.alice)
    order = await the_order(world, renewed["cycles"][0]["orderId"])
    assert (order["status"], order["total"]["amount"]) == ("PAID", 2 * 4500)
    assert renewed["nextDeliveryDate"] == day(8)

    # bob signs up on the new terms
    bob = await world.subscribe(world.bob)
    assert bob["interval"] == {"unit": "WEEK", "count": 2}
    assert [x["unitPrice"]["amount"] for x in bob["lines"]] == [4000]
    assert bob["upcomingDeliveries"] == [day(5), day(19), day(33), day(47)]
    # a variant the edit dropped is no longer offered
    code, _ = await world.refused(
        world.bob,
        "createSubscription",
        **world.signup(lines=[{"variantId": world.variants[1], "quantity": 1}]),
    )
    assert code == "VARIANT_NOT_IN_PLAN"


async def test_a_bad_plan_edit_is_refused_and_changes_nothing(world: World) -> None:
    before = await PlanRow.get(id=_plan_key(world))
    for changes, code, field in (
        ({"discountPercent": 51}, "INVALID_INPUT", ["discountPercent"]),
        ({"name": " "}, "INVALID_INPUT", ["name"]),
        ({"variantIds": []}, "INVALID_INPUT", ["variantIds"]),
        ({"interval": {"unit": "DAY", "count": 0}}, "INVALID_INPUT", ["interval"]),
        ({"id": encode_id("SubscriptionPlan", world.variant_keys[0])}, "NOT_FOUND", ["id"]),
        ({"id": world.variants[0]}, "INVALID_ID", ["id"]),
    ):
        sent = {**plan_input(world)["input"], "id": world.plan, **changes}
        payload = (await world.admin.data(UPDATE, {"input": sent}))["updateSubscriptionPlan"]
        assert payload["plan"] is None, changes
        [error] = payload["errors"]
        assert (error["code"], error["field"]) == (code, field), changes
    after = await PlanRow.get(id=_plan_key(world))
    assert (after.name, after.discount_percent, after.interval_count, after.variant_ids) == (
        before.name,
        before.discount_percent,
        before.interval_count,
        before.variant_ids,
    )


def _plan_key(world: World) -> Any:
    return decode_id(world.plan, "SubscriptionPlan")


# --------------------------------------------------------------------------- retiring


async def test_a_retired_plan_takes_no_sign_ups_and_existing_ones_continue(
    world: World,
) -> None:
    await world.subscribe(firstDeliveryDate=day(1))
    retired = (await world.admin.data(RETIRE, {"id": world.plan}))["retireSubscriptionPlan"]
    assert retired == {"plan": {"id": world.plan, "active": False}, "errors": []}

    assert (await world.alice.data(PLANS))["subscriptionPlans"] == []
    code, field = await world.refused(world.bob, "createSubscription", **world.signup())
    assert (code, field) == ("PLAN_UNAVAILABLE", ["planId"])

    await renew(world)  # alice's subscription renews as before
    [mine] = await world.mine(world.alice)
    assert mine["status"] == "ACTIVE"
    assert [c["status"] for c in mine["cycles"]] == ["PAID"]
    assert mine["nextDeliveryDate"] == day(8)

    # a retired plan is not edited or retired again
    again = (await world.admin.data(RETIRE, {"id": world.plan}))["retireSubscriptionPlan"]
    assert (again["plan"], [e["code"] for e in again["errors"]]) == (None, ["PLAN_UNAVAILABLE"])
    sent = {**plan_input(world)["input"], "id": world.plan}
    edit = (await world.admin.data(UPDATE, {"input": sent}))["updateSubscriptionPlan"]
    assert [e["code"] for e in edit["errors"]] == ["PLAN_UNAVAILABLE"]


# --------------------------------------------------------------------------- prepaid plans

PREPAID_SUB = """
mutation($input: CreateSubscriptionInput!) {
  createSubscription(input: $input) {
    subscription { id status prepaidDeliveries prepaidDeliveriesLeft prepaymentOrderId
      totalPerDelivery { amount } }
    errors { code message field }
  }
}"""


async def test_a_member_prepays_a_prepaid_plan_with_pay_order(world: World) -> None:
    made = await world.admin.data(
        UPDATE.replace("updateSubscriptionPlan", "createSubscriptionPlan")
        .replace("UpdateSubscriptionPlanInput", "SubscriptionPlanInput")
        .replace("minCycles active", "minCycles active prepaidDeliveries"),
        plan_input(world, prepaidDeliveries=4, discountPercent=10),
    )
    plan = made["createSubscriptionPlan"]["plan"]
    assert plan["prepaidDeliveries"] == 4
    signup = world.signup(planId=plan["id"])
    del signup["paymentAgreement"]  # a prepaid plan needs none
    created = (await world.alice.data(PREPAID_SUB, {"input": signup}))["createSubscription"]
    assert created["errors"] == []
    sub = created["subscription"]
    assert (sub["prepaidDeliveries"], sub["prepaidDeliveriesLeft"]) == (4, 4)
    order = await the_order(world, sub["prepaymentOrderId"])
    assert (order["status"], order["total"]["amount"]) == ("PENDING_PAYMENT", 4 * 2 * 4500)
    assert (order["subscriptionId"], order["deliveryDate"]) == (sub["id"], day(5))
    paying = await world.alice.data(
        'mutation($o: ID!) { payOrder(input: {orderId: $o, provider: "devpay"}) '
        "{ errors { code } } }",
        {"o": sub["prepaymentOrderId"]},
    )
    assert paying["payOrder"]["errors"] == []

    # an agreement plan still needs its agreement
    signup = world.signup()
    del signup["paymentAgreement"]
    refused = (await world.bob.data(PREPAID_SUB, {"input": signup}))["createSubscription"]
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [
        ("INVALID_INPUT", ["paymentAgreement"])
    ]


async def test_the_queue_holds_a_renewal_at_its_store_after_the_member_moves(
    world: World,
) -> None:
    sub = await world.subscribe(firstDeliveryDate=day(2))
    await renew(world)
    [mine] = await world.mine(world.alice)
    order_id = mine["cycles"][0]["orderId"]
    await world.ok(
        world.alice,
        "changeSubscriptionFulfilment",
        id=sub["id"],
        fulfilment={"pickup": {"locationId": world.stores["SH-B"]}},
    )
    # the placed order stays at SH-A, held back there until its day
    assert await queue(world) == []
    assert await queue(world, day(2)) == [{"id": order_id, "deliveryDate": day(2)}]
