"""Group-buys (拼团, issue 18) over GraphQL on PostgreSQL and SQLite: ADMIN runs campaigns; a
leader opens a group and members join it, each with an order at the group price paid through
payOrder; the group completes when every seat is paid (only then may the store prepare the
orders), a join beyond the size is refused before payment (GROUP_FULL), an unpaid seat comes
free when its order times out, and a group not complete at its time limit fails: every order
is cancelled, the paid ones refunded, stock given back. Concurrency:
tests/integration/test_group_buy_concurrency.py."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from api.relay import decode_any_id, encode_id
from domain.catalog.model import Variant
from domain.events import MemberErased
from domain.growth.group_buys import fail_expired_groups, group_topic
from domain.identity.model import StaffRole
from domain.members.merge import merge_members
from domain.ordering.lifecycle import cancel_unpaid
from domain.promotions.coupons import grant_coupon
from domain.promotions.coupons_model import Coupon, CouponKind, CouponRules, CouponStatus
from infra.runtime import Runtime
from tests.support.api import Api, staff_api
from tests.support.coupons import ADMIN, template
from tests.support.group_buys import (
    CANCEL_CAMPAIGN,
    CREATE,
    JOIN,
    LIST,
    OPEN,
    created,
    group_of,
    join,
    members,
    open_group,
    pickup,
    terms,
)
from tests.support.orders import (
    ROOT,
    level,
    make_variants,
    notice,
    pay_online,
    read,
    receive,
    start_payment,
    step,
    webhook,
)
from tests.support.payloads import refusal
from tests.support.shoppers import shopper


@pytest.fixture
async def peach(runtime: Runtime, stores: dict[str, Any]) -> Variant:
    """Peaches 2kg at 59.00, 20 on the shelf of SH-A."""
    [variant] = await make_variants(runtime, ("P-2", "2kg", 5900))
    await receive(runtime, stores["SH-A"].id, variant, 20)
    return variant


# ---------------------------------------------------------------- campaigns


async def test_admin_creates_a_campaign_the_list_shows_and_cancels_it(
    admin: Api, api: Api, runtime: Runtime, stores: dict[str, Any], peach: Variant
) -> None:
    campaign = await created(admin, terms(runtime, stores, peach, size=3))
    assert (campaign["price"], campaign["groupSize"], campaign["unitsTaken"]) == (
        {"amount": 3900},
        3,
        0,
    )
    assert (campaign["variant"], campaign["timeLimitMinutes"]) == ({"code": "P-2"}, 1440)
    listed = (await api.data(LIST, {"a": True}))["groupBuyCampaigns"]  # anonymous
    assert [c["id"] for c in listed] == [campaign["id"]]
    cancelled = (
        await admin.data(CANCEL_CAMPAIGN, {"input": {"id": campaign["id"], "reason": "stop"}})
    )["cancelGroupBuyCampaign"]
    assert cancelled["campaign"]["cancelReason"] == "stop"
    assert (await api.data(LIST, {"a": True}))["groupBuyCampaigns"] == []
    leader = await shopper(api, "leader")
    assert refusal(await open_group(leader, campaign, stores)) == (
        "CAMPAIGN_NOT_LIVE",
        ["campaignId"],
    )


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"price": 5900}, "INVALID_PRICE", ["price"]),
        ({"size": 1}, "INVALID_INPUT", ["groupSize"]),
        ({"minutes": 1}, "INVALID_INPUT", ["timeLimitMinutes"]),
        ({"units": 2}, "INVALID_INPUT", ["unitsOffered"]),
        ({"where": ()}, "INVALID_INPUT", ["locationIds"]),
        ({"where": ("WH-1",)}, "NOT_FOUND", ["locationIds"]),
    ],
)
async def test_bad_terms_are_refused_with_a_code_and_change_nothing(
    admin: Api,
    api: Api,
    runtime: Runtime,
    stores: dict[str, Any],
    peach: Variant,
    change: dict[str, Any],
    code: str,
    field: list[str],
) -> None:
    payload = (await admin.data(CREATE, {"input": terms(runtime, stores, peach, **change)}))[
        "createGroupBuyCampaign"
    ]
    assert refusal(payload) == (code, field)
    assert (await api.data(LIST, {"a": None}))["groupBuyCampaigns"] == []


# ---------------------------------------------------------------- a group completes


async def test_a_group_completes_when_every_seat_is_paid_and_only_then_is_prepared(
    admin: Api,
    api: Api,
    client: httpx.AsyncClient,
    runtime: Runtime,
    stores: dict[str, Any],
    peach: Variant,
) -> None:
    campaign = await created(admin, terms(runtime, stores, peach, size=3))
    leader, second, third = await members(api, 3)
    opened = await open_group(leader, campaign, stores)
    assert opened["errors"] == [], opened
    group_id = opened["group"]["id"]
    assert opened["order"]["total"] == {"amount": 3900}  # the group price
    assert opened["group"]["members"] == [{"label": "Z**", "leader": True, "paid": False}]
    assert await level(runtime, stores["SH-A"].id, peach) == (20, 1)  # reserved on joining
    orders = [opened["order"]]
    for who in (second, third):
        joined = await join(who, group_id, stores)
        assert joined["errors"] == [], joined
        orders.append(joined["order"])
    assert await level(runtime, stores["SH-A"].id, peach) == (20, 3)
    clerk = await staff_api(api, runtime, "clerk", StaffRole.STORE_CLERK, [stores["SH-A"]])
    for who, order in zip((leader, second), orders, strict=False):
        await pay_online(client, runtime, who, order)
    seen = await group_of(api, group_id)
    assert (seen["status"], seen["remaining"], seen["seatsTaken"]) == ("OPEN", 1, 3)
    held = await step(clerk, "startPreparingOrder", orders[0]["id"])
    assert refusal(held) == ("ILLEGAL_TRANSITION", ["orderId"])
    assert (await read(leader.api, orders[0]["id"]))["status"] == "PAID"

    async with runtime.live.subscribe(group_topic(decode_any_id(group_id)[1])) as events:
        await pay_online(client, runtime, third, orders[2])
        event = await anext(aiter(events))
    assert (event.payload["status"], event.payload["remaining"]) == ("COMPLETED", "0")
    seen = await group_of(api, group_id)
    assert (seen["status"], seen["remaining"]) == ("COMPLETED", 0)
    assert [m["paid"] for m in seen["members"]] == [True, True, True]
    prepared = await step(clerk, "startPreparingOrder", orders[0]["id"])
    assert prepared["errors"] == [] and prepared["order"]["status"] == "PREPARING"


async def test_a_join_beyond_the_size_is_refused_before_payment_and_changes_nothing(
    admin: Api, api: Api, runtime: Runtime, stores: dict[str, Any], peach: Variant
) -> None:
    campaign = await created(admin, terms(runtime, stores, peach, size=2))
    leader, second, late = await members(api, 3)
    group_id = (await open_group(leader, campaign, stores))["group"]["id"]
    assert (await join(second, group_id, stores))["errors"] == []
    before = await level(runtime, stores["SH-A"].id, peach)
    refused = await join(late, group_id, stores)
    assert refusal(refused) == ("GROUP_FULL", ["groupId"])
    assert refused["order"] is None
    assert await level(runtime, stores["SH-A"].id, peach) == before
    assert refusal(await join(second, group_id, stores))[0] in ("ALREADY_IN_GROUP", "GROUP_FULL")


async def test_refusals_name_the_rule_and_change_nothing(
    admin: Api, api: Api, runtime: Runtime, stores: dict[str, Any], peach: Variant
) -> None:
    campaign = await created(admin, terms(runtime, stores, peach, size=3, limit=1))
    leader, other = await members(api, 2)
    group_id = (await open_group(leader, campaign, stores))["group"]["id"]
    assert refusal(await join(leader, group_id, stores)) == ("ALREADY_IN_GROUP", ["groupId"])
    assert refusal(await join(other, group_id, stores, "SH-B")) == (
        "FULFILMENT_NOT_OFFERED",
        ["pickupLocationId"],
    )
    # The per-member limit counts seats across the campaign's groups.
    assert refusal(await open_group(leader, campaign, stores)) == (
        "GROUP_LIMIT_REACHED",
        ["groupId"],
    )
    seen = await group_of(api, group_id)
    assert (seen["seatsTaken"], len(seen["members"])) == (1, 1)
    unknown = await join(other, campaign["id"], stores)  # a campaign's id is no group's
    assert refusal(unknown)[0] == "INVALID_ID"


async def test_an_unpaid_seat_comes_free_when_its_order_times_out(
    admin: Api, api: Api, runtime: Runtime, stores: dict[str, Any], peach: Variant
) -> None:
    campaign = await created(admin, terms(runtime, stores, peach, size=2))
    leader, idle, next_one = await members(api, 3)
    group_id = (await open_group(leader, campaign, stores))["group"]["id"]
    assert (await join(idle, group_id, stores))["errors"] == []
    assert refusal(await join(next_one, group_id, stores))[0] == "GROUP_FULL"
    runtime.clock.advance(timedelta(minutes=16))  # type: ignore[attr-defined]
    assert await cancel_unpaid(runtime.ordering) == 2  # the leader did not pay either
    next_one = await shopper(api, "m-2")  # signed in again: the token has expired
    seen = await group_of(api, group_id)
    assert (seen["status"], seen["seatsTaken"], seen["members"]) == ("OPEN", 0, [])
    joined = await join(next_one, group_id, stores)
    assert joined["errors"] == [] and joined["group"]["seatsTaken"] == 1


# ---------------------------------------------------------------- a group fails


async def test_a_group_not_complete_at_its_time_limit_fails_and_every_order_is_refunded(
    admin: Api,
    api: Api,
    client: httpx.AsyncClient,
    runtime: Runtime,
    stores: dict[str, Any],
    peach: Variant,
) -> None:
    campaign = await created(admin, terms(runtime, stores, peach, size=3, minutes=30))
    leader, payer, late = await members(api, 3)
    opened = await open_group(leader, campaign, stores)
    group_id = opened["group"]["id"]
    joined = await join(payer, group_id, stores)
    await pay_online(client, runtime, leader, opened["order"])
    runtime.clock.advance(timedelta(minutes=10))  # type: ignore[attr-defined]
    late = await shopper(api, "m-2")
    last = await join(late, group_id, stores)
    started = await start_payment(late.api, last["order"]["id"])  # pays too late, below
    await pay_online(client, runtime, payer, joined["order"])
    assert await level(runtime, stores["SH-A"].id, peach) == (20, 3)

    runtime.clock.advance(timedelta(minutes=21))  # past the 30 minutes
    assert await fail_expired_groups(runtime.group_buys) == 1 + 3
    seen = await group_of(api, group_id)
    assert (seen["status"], seen["remaining"]) == ("FAILED", 0)
    cs = await staff_api(api, runtime, "cs-agent", StaffRole.CS_AGENT, [])
    for order in (opened["order"], joined["order"]):
        found = await read(cs, order["id"])
        assert (found["status"], found["cancelReason"]) == ("CANCELLED", "group-buy failed")
        refunds = [p for p in found["payments"] if p["kind"] == "REFUND"]
        assert [p["amount"] for p in refunds] == [{"amount": 3900}]
    assert (await read(cs, last["order"]["id"]))["status"] == "CANCELLED"
    assert await level(runtime, stores["SH-A"].id, peach) == (20, 0)  # stock released
    # The late payment lands after the failure: it is refunded, not kept.
    ref = started["payment"]["paymentRef"]
    hook = await webhook(client, runtime, notice(ref, 3900))
    assert hook.json() == {"result": "refunded"}
    late = await shopper(api, "m-2")
    assert refusal(await join(late, group_id, stores))[0] == "GROUP_CLOSED"
    campaigns = (await api.data(LIST, {"a": True}))["groupBuyCampaigns"]
    assert campaigns[0]["unitsTaken"] == 0  # the failed group's units went back
    assert await fail_expired_groups(runtime.group_buys) == 0  # nothing twice


async def test_a_merge_moves_seats_and_counts_and_an_erasure_hides_the_name(
    admin: Api,
    api: Api,
    client: httpx.AsyncClient,
    runtime: Runtime,
    stores: dict[str, Any],
    peach: Variant,
) -> None:
    campaign = await created(admin, terms(runtime, stores, peach, size=3, limit=1))
    leader, duplicate, survivor = await members(api, 3)
    group_id = (await open_group(leader, campaign, stores))["group"]["id"]
    joined = await join(duplicate, group_id, stores)
    await pay_online(client, runtime, duplicate, joined["order"])  # a paid seat stays
    source, target = (decode_any_id(who.id)[1] for who in (duplicate, survivor))
    await merge_members(runtime.members, ROOT, source, target, "same person")

    # One person, one limit: the duplicate's seat counts for the survivor now.
    assert refusal(await open_group(survivor, campaign, stores))[0] == "GROUP_LIMIT_REACHED"
    group = await runtime.repos.group_buys.get_group(decode_any_id(group_id)[1])
    assert group is not None and [s.member_id for s in group.seats][1] == target

    async with runtime.unit_of_work() as uow:
        await runtime.events.dispatch(uow, MemberErased(target))
    seen = await group_of(api, group_id)
    assert [m["label"] for m in seen["members"]] == ["Z**", "**"]


async def test_a_seat_takes_the_members_coupons_off_the_group_price_and_a_failure_gives_them_back(
    admin: Api, api: Api, runtime: Runtime, stores: dict[str, Any], peach: Variant
) -> None:
    campaign = await created(admin, terms(runtime, stores, peach, size=3, minutes=30))
    leader, other = await members(api, 2)
    off = await template(runtime, rules=CouponRules(CouponKind.NO_THRESHOLD, amount_off=500))
    mine, _ = await grant_coupon(runtime.coupons, ADMIN, off.id, leader.key, "test", "k-1")
    theirs, _ = await grant_coupon(runtime.coupons, ADMIN, off.id, other.key, "test", "k-2")

    def given(coupon: Coupon) -> dict[str, Any]:
        return {"fulfilment": pickup(stores), "couponIds": [encode_id("Coupon", coupon.id)]}

    opened = (
        await leader.api.data(OPEN, {"input": {"campaignId": campaign["id"], **given(mine)}})
    )["openGroup"]
    assert opened["errors"] == [], opened
    assert opened["order"]["total"] == {"amount": 3900 - 500}  # off the group price
    group_id = opened["group"]["id"]
    before = await level(runtime, stores["SH-A"].id, peach)
    # The leader's coupon is not the other member's: refused, and nothing changed.
    refused = (await other.api.data(JOIN, {"input": {"groupId": group_id, **given(mine)}}))[
        "joinGroup"
    ]
    assert refusal(refused) == ("COUPON_UNAVAILABLE", ["couponIds", "0"])
    assert (await group_of(api, group_id))["seatsTaken"] == 1
    assert await level(runtime, stores["SH-A"].id, peach) == before
    joined = (await other.api.data(JOIN, {"input": {"groupId": group_id, **given(theirs)}}))[
        "joinGroup"
    ]
    assert joined["order"]["total"] == {"amount": 3400}, joined
    held = [await runtime.repos.coupons.get_coupon(c.id) for c in (mine, theirs)]
    assert [c.status if c else None for c in held] == [CouponStatus.HELD] * 2

    runtime.clock.advance(timedelta(minutes=31))  # type: ignore[attr-defined]
    await fail_expired_groups(runtime.group_buys)
    back = [await runtime.repos.coupons.get_coupon(c.id) for c in (mine, theirs)]
    assert [c.status if c else None for c in back] == [CouponStatus.AVAILABLE] * 2
