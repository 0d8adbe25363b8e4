"""Engagement metrics (issue 19, "Numbers") over the API: a small known world (orders at
two stores over three store-local days, one refunded through an after-sale, a coupon used, a
subscription cancelled, hand-overs of known durations on a stopped clock) read per day, per
store and in total with exact figures; who may read which store's numbers; bad ranges; the
statements do not grow with the number of periods."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from api.relay import encode_id
from domain.catalog.model import Variant
from domain.engagement.metrics_rollup import roll_up_metrics
from domain.identity.model import StaffRole
from domain.ids import new_id
from domain.promotions.coupons_model import CouponKind, CouponRules
from domain.subscriptions.model import Interval, IntervalUnit
from domain.subscriptions.plans import create_plan
from infra.runtime import Runtime
from tests.support import MovableClock, count_sql
from tests.support.aftersales import approve, asked, line_ids, request_input
from tests.support.api import Api, staff_api
from tests.support.coupons import template
from tests.support.metrics_world import Cast, Stopped, hand_over, paid_order
from tests.support.orders import (
    lid,
    make_variants,
    receive,
)
from tests.support.shoppers import Shopper, shopper
from tests.support.world import CREATE_SUBSCRIPTION

PRICE = 3000
FIGURES = """firstDay lastDay orders gmv averageOrderValue newMembers activeMembers
  repeatMembers repurchaseRateBp couponsUsed couponOrders couponGmv handovers
  handoverMedianSeconds handoverP90Seconds handedOver withAfterSale afterSalesRateBp
  subscriptionsActive subscriptionsChurned subscriptionChurnBp"""
METRICS = f"""query($f: Date!, $t: Date!, $g: MetricsGranularity!, $s: ID, $c: SalesChannel) {{
  metrics(from: $f, to: $t, granularity: $g, storeId: $s, channel: $c) {{
    granularity timezone storeId channel periods {{ {FIGURES} }} total {{ {FIGURES} }} }} }}"""
CLAIM = """mutation($t: ID!) { claimCoupon(input: {templateId: $t}) {
  coupon { id } errors { code } } }"""
CANCEL = """mutation($i: CancelSubscriptionInput!) { cancelSubscription(input: $i) {
  errors { code message } } }"""
NOTHING = {
    "orders": 0,
    "gmv": 0,
    "averageOrderValue": 0,
    "newMembers": 0,
    "activeMembers": 0,
    "repeatMembers": 0,
    "repurchaseRateBp": 0,
    "couponsUsed": 0,
    "couponOrders": 0,
    "couponGmv": 0,
    "handovers": 0,
    "handoverMedianSeconds": None,
    "handoverP90Seconds": None,
    "handedOver": 0,
    "withAfterSale": 0,
    "afterSalesRateBp": 0,
    "subscriptionsActive": 0,
    "subscriptionsChurned": 0,
    "subscriptionChurnBp": 0,
}


async def _subscribe(who: Shopper, plan: Any, variant: Variant, store: str, first: date) -> str:
    payload = (
        await who.api.data(
            CREATE_SUBSCRIPTION,
            {
                "input": {
                    "planId": encode_id("SubscriptionPlan", plan.id),
                    "lines": [{"variantId": encode_id("Variant", variant.id), "quantity": 1}],
                    "fulfilment": {"pickup": {"locationId": store}},
                    "firstDeliveryDate": first.isoformat(),
                    "paymentAgreement": f"agreement-{who.openid}",
                }
            },
        )
    )["createSubscription"]
    assert payload["errors"] == [], payload
    found: str = payload["subscription"]["id"]
    return found


async def _metrics(caller: Api, first: date, last: date, **more: Any) -> dict[str, Any]:
    variables = {"f": first.isoformat(), "t": last.isoformat(), "g": "DAY", **more}
    found: dict[str, Any] = (await caller.data(METRICS, variables))["metrics"]
    return found


async def _csv(caller: Api, **params: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {caller.token}"} if caller.token else {}
    return await caller.client.get("/engagement/metrics.csv", params=params, headers=headers)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _day(day: date, **figures: Any) -> dict[str, Any]:
    return {"firstDay": day.isoformat(), "lastDay": day.isoformat(), **NOTHING, **figures}


async def test_a_known_world_reads_exactly_per_day_per_store_and_in_total(
    api: Api,
    client: httpx.AsyncClient,
    runtime: Runtime,
    clock: MovableClock,
    monkeypatch: pytest.MonkeyPatch,
    stores: dict[str, Any],
    admin: Api,
) -> None:
    d0 = clock.today() - timedelta(days=10)
    d1, d2 = d0 + timedelta(days=1), d0 + timedelta(days=2)
    cast = Cast(api, runtime, stores, Stopped(clock, monkeypatch))
    await cast.at(d0 - timedelta(days=1), 10)
    await cast.hire()
    [mango] = await make_variants(runtime, ("MANGO", "1kg", PRICE))
    for code in ("SH-A", "SH-B"):
        await receive(runtime, stores[code].id, mango, 50)
    rules = CouponRules(CouponKind.AMOUNT_OFF, amount_off=500, threshold=1000)
    off = await template(runtime, rules=rules)
    plan = await create_plan(
        runtime.subscriptions, "Weekly", [mango.id], Interval(IntervalUnit.WEEK, 1), 10, 0
    )
    ann = await cast.member("ann")
    claimed = await ann.api.data(CLAIM, {"t": encode_id("CouponTemplate", off.id)})
    coupon = claimed["claimCoupon"]["coupon"]["id"]
    # The day before: two subscriptions, one per store, active when the range starts.
    week = d0 + timedelta(days=6)
    subscription = await _subscribe(ann, plan, mango, lid(stores, "SH-A"), week)
    await _subscribe(await cast.member("dan"), plan, mango, lid(stores, "SH-B"), week)

    # Day 0: ann twice at SH-A (the second with the ¥5 coupon), bob once (two units) at SH-B.
    await cast.at(d0, 10)
    first = await paid_order(client, runtime, cast.members["ann"], stores, [(mango, 1)], "SH-A")
    cast.stopped.at(d0, 10, 3)
    await hand_over(cast, "clerk-a", "ann", first, "SH-A")  # 180 s
    await cast.at(d0, 11)
    bobs = await paid_order(client, runtime, await cast.member("bob"), stores, [(mango, 2)], "SH-B")
    cast.stopped.at(d0, 11, 5)
    await hand_over(cast, "clerk-b", "bob", bobs, "SH-B")  # 300 s
    await cast.at(d0, 12)
    second = await paid_order(
        client, runtime, cast.members["ann"], stores, [(mango, 1)], "SH-A", [coupon]
    )
    assert second["total"]["amount"] == PRICE - 500
    cast.stopped.at(d0, 12, 10)
    await hand_over(cast, "clerk-a", "ann", second, "SH-A")  # 600 s

    # Day 1: ann's first order refunded in full (an after-sale), her subscription cancelled;
    # cat's first order at SH-A, handed over in 120 s.
    await cast.at(d1, 10)
    ann, manager_a = cast.members["ann"], cast.staff["manager-a"]
    [line] = await line_ids(ann.api, first)
    refund = await asked(ann.api, request_input(first, [(line, 1)], "REFUND_ONLY"))
    assert (await approve(manager_a, refund))["errors"] == []
    cancelled = await ann.api.data(CANCEL, {"i": {"id": subscription, "reason": "moving"}})
    assert cancelled["cancelSubscription"]["errors"] == []
    cats = await paid_order(client, runtime, await cast.member("cat"), stores, [(mango, 1)], "SH-A")
    cast.stopped.at(d1, 10, 2)
    await hand_over(cast, "clerk-a", "cat", cats, "SH-A")
    await cast.at(d2, 18)
    admin = await cast.relogin("admin")
    manager_a = cast.staff["manager-a"]
    await roll_up_metrics(runtime.metrics)  # `metrics` reads the rollups alone

    everywhere = await _metrics(admin, d0, d2)
    assert (everywhere["timezone"], everywhere["storeId"]) == ("Asia/Shanghai", None)
    gmv0 = 0 + 2 * PRICE + (PRICE - 500)  # ann's first order refunded in full
    subscriptions = {"subscriptionsActive": 2}
    assert everywhere["periods"] == [
        _day(
            d0,
            orders=3,
            gmv=gmv0,
            averageOrderValue=gmv0 // 3,
            newMembers=2,
            activeMembers=2,
            repeatMembers=1,
            repurchaseRateBp=5000,
            couponsUsed=1,
            couponOrders=1,
            couponGmv=PRICE - 500,
            handovers=3,
            handoverMedianSeconds=300,
            handoverP90Seconds=540,  # 300 + 0.8 * (600 - 300), as percentile_cont
            handedOver=3,
            withAfterSale=1,
            afterSalesRateBp=3333,
            **subscriptions,
        ),
        _day(
            d1,
            orders=1,
            gmv=PRICE,
            averageOrderValue=PRICE,
            newMembers=1,
            activeMembers=1,
            handovers=1,
            handoverMedianSeconds=120,
            handoverP90Seconds=120,
            handedOver=1,
            subscriptionsActive=2,
            subscriptionsChurned=1,
            subscriptionChurnBp=5000,
        ),
        _day(d2, subscriptionsActive=1),
    ]
    assert everywhere["total"] == {
        **_day(d0),
        "lastDay": d2.isoformat(),
        "orders": 4,
        "gmv": gmv0 + PRICE,
        "averageOrderValue": (gmv0 + PRICE) // 4,
        "newMembers": 3,
        "activeMembers": 3,
        "repeatMembers": 1,
        "repurchaseRateBp": 3333,
        "couponsUsed": 1,
        "couponOrders": 1,
        "couponGmv": PRICE - 500,
        "handovers": 4,
        "handoverMedianSeconds": 240,
        "handoverP90Seconds": 510,
        "handedOver": 4,
        "withAfterSale": 1,
        "afterSalesRateBp": 2500,
        "subscriptionsActive": 2,
        "subscriptionsChurned": 1,
        "subscriptionChurnBp": 5000,
    }

    # SH-A alone, for its manager: ann's two orders and cat's; bob and dan are SH-B's.
    mine = await _metrics(manager_a, d0, d2, s=lid(stores, "SH-A"))
    assert mine["storeId"] == lid(stores, "SH-A")
    assert mine["periods"][0] == _day(
        d0,
        orders=2,
        gmv=PRICE - 500,
        averageOrderValue=(PRICE - 500) // 2,
        newMembers=1,
        activeMembers=1,
        repeatMembers=1,
        repurchaseRateBp=10000,
        couponsUsed=1,
        couponOrders=1,
        couponGmv=PRICE - 500,
        handovers=2,
        handoverMedianSeconds=390,
        handoverP90Seconds=558,
        handedOver=2,
        withAfterSale=1,
        afterSalesRateBp=5000,
        subscriptionsActive=1,
    )
    assert mine["periods"][1]["subscriptionChurnBp"] == 10000
    assert mine["total"]["orders"] == 3 and mine["total"]["gmv"] == PRICE - 500 + PRICE
    # Through the till only: nothing (every order came through the mini-program).
    till = await _metrics(admin, d0, d2, c="POS")
    assert till["total"]["orders"] == 0 and till["channel"] == "POS"
    # The CSV export says what `metrics` says, row by row, then the total.
    sheet = await _csv(admin, **{"from": d0.isoformat(), "to": d2.isoformat()})
    assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/csv")
    header, *rows = list(csv.reader(io.StringIO(sheet.text)))
    assert [r[0] for r in rows] == ["period", "period", "period", "total"]
    expected = [*everywhere["periods"], everywhere["total"]]
    for row, figures in zip(rows, expected, strict=True):
        read = dict(zip(header, row, strict=True))
        assert (read["first_day"], read["last_day"]) == (figures["firstDay"], figures["lastDay"])
        for name in header[3:]:
            value = figures[_camel(name)]
            assert read[name] == ("" if value is None else str(value)), name
    # By week and by month the total is the same range.
    for granularity in ("WEEK", "MONTH"):
        cut = await _metrics(admin, d0, d2, g=granularity)
        assert cut["total"] == everywhere["total"]
        assert sum(p["orders"] for p in cut["periods"]) == 4


def _code(body: dict[str, Any]) -> str:
    assert body["data"] is None, body
    code: str = body["errors"][0]["extensions"]["code"]
    return code


async def test_who_may_read_which_numbers_and_bad_ranges(
    api: Api, runtime: Runtime, stores: dict[str, Any], admin: Api, manager_a: Api
) -> None:
    manager_b = await staff_api(api, runtime, "m-b", StaffRole.STORE_MANAGER, [stores["SH-B"]])
    cs = await staff_api(api, runtime, "m-cs", StaffRole.CS_AGENT, [])
    clerk = await staff_api(api, runtime, "m-clerk", StaffRole.STORE_CLERK, [stores["SH-A"]])
    member = await shopper(api, "m-member")
    day = date(2026, 12, 1)
    a = lid(stores, "SH-A")
    base = {"f": day.isoformat(), "t": day.isoformat(), "g": "DAY"}
    assert (await manager_a.data(METRICS, {**base, "s": a}))["metrics"]["total"]["orders"] == 0
    assert _code(await manager_b(METRICS, {**base, "s": a})) == "FORBIDDEN"
    assert _code(await manager_b(METRICS, base)) == "FORBIDDEN"  # every store: ADMIN only
    for caller in (cs, clerk, member.api):
        assert _code(await caller(METRICS, {**base, "s": a})) == "FORBIDDEN"
    assert _code(await api(METRICS, base)) == "UNAUTHENTICATED"
    late = {**base, "f": "2026-12-02"}
    assert _code(await admin(METRICS, late)) == "INVALID_INPUT"
    assert _code(await admin(METRICS, {**base, "t": "9999-12-31", "g": "MONTH"})) == "INVALID_INPUT"
    year = {**base, "f": "2025-11-30"}  # 367 days
    assert _code(await admin(METRICS, year)) == "RANGE_TOO_LONG"
    assert (await admin.data(METRICS, {**year, "g": "WEEK"}))["metrics"]["periods"]
    day_ = day.isoformat()
    csv_a = {"from": day_, "to": day_, "storeId": a}
    assert (await _csv(manager_a, **csv_a)).status_code == 200
    refused = await _csv(manager_b, **csv_a)
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await _csv(api, **csv_a)).status_code == 401
    for bad in ({"from": "yesterday"}, {"granularity": "HOUR"}, {"channel": "FAX"}):
        answer = await _csv(admin, **{**csv_a, **bad})
        assert answer.status_code == 400, bad
        assert answer.json()["errors"][0]["extensions"]["code"] == "INVALID_INPUT", bad
    unknown = {**base, "s": encode_id("Location", new_id())}
    assert _code(await admin(METRICS, unknown)) == "NOT_FOUND"
    assert _code(await admin(METRICS, {**base, "s": "not-an-id"})) == "INVALID_ID"


async def test_statements_do_not_grow_with_the_periods(
    api: Api, runtime: Runtime, stores: dict[str, Any], admin: Api, clock: MovableClock
) -> None:
    last = clock.today()

    async def statements(days: int) -> int:
        first = last - timedelta(days=days - 1)
        with count_sql() as seen:
            found = await _metrics(admin, first, last, s=lid(stores, "SH-A"))
        assert len(found["periods"]) == days
        return len(seen)

    assert await statements(7) == await statements(30)
