"""What a member and a store met with subscriptions: a renewal order names its subscription and
delivery date, the store's queue shows it on that date (not the two days before, when it is
placed), a paused subscription has no delivery to skip, and ADMIN edits and retires plans
without touching the terms existing subscriptions locked.

The world (a store-local TODAY, a weekly plan at 10 % off) is the one of
test_subscriptions_api.py; dates are store-local days from it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from api.relay import decode_id, encode_id
from domain.subscriptions import renewals
from infra.db.models.subscriptions import PlanRow
from tests.api.test_subscriptions_api import (
    ERRORS,
    PLANS,
    TODAY,
    World,
    day,
    plan_input,
    world,
)
from tests.support.api import login

__all__ = ["world"]  # the fixture, shared with test_subscriptions_api.py

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
