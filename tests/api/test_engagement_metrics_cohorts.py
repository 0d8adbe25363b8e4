"""Monthly cohorts (issue 19, "Numbers") over the API: members grouped by the month of their
first counted order, the share still buying in the months after (only those begun), lifetime
value by cohort and by acquisition source (a referral, a first order at the till, the
mini-program), one store's cohorts from its orders only, who may read, bad months, and
statements that do not grow with the months."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import httpx
import pytest

from domain.identity.model import StaffRole
from infra.runtime import Runtime
from tests.support import MovableClock, count_sql
from tests.support.api import Api, staff_api
from tests.support.metrics_world import Cast, Stopped, paid_order
from tests.support.orders import in_store, lid, make_variants, order_input, placed, receive
from tests.support.referrals import code_of, create_program, invited

PRICE = 3000
COHORTS = """query($f: String!, $t: String!, $s: ID) { cohorts(from: $f, to: $t, storeId: $s) {
  timezone storeId cohorts { month members gmv lifetimeValue retentionBp }
  sources { source members gmv lifetimeValue } } }"""


async def _csv(caller: Api, **params: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {caller.token}"} if caller.token else {}
    return await caller.client.get("/engagement/cohorts.csv", params=params, headers=headers)


def _month(day: date, back: int) -> date:
    index = day.year * 12 + day.month - 1 - back
    return date(index // 12, index % 12 + 1, 10)


def _sources(**found: tuple[int, int]) -> list[dict[str, Any]]:
    return [
        {"source": s, "members": m, "gmv": g, "lifetimeValue": g // m if m else 0}
        for s in ("REFERRAL", "GROUP_BUY", "STORE", "MINI_PROGRAM")
        for m, g in [found.get(s, (0, 0))]
    ]


async def test_cohorts_retention_and_lifetime_value_by_source(
    api: Api,
    client: httpx.AsyncClient,
    runtime: Runtime,
    clock: MovableClock,
    monkeypatch: pytest.MonkeyPatch,
    stores: dict[str, Any],
    admin: Api,
) -> None:
    today = clock.today()
    m0, m1, m2 = (_month(today, back) for back in (3, 2, 1))
    before = _month(today, 4)
    cast = Cast(api, runtime, stores, Stopped(clock, monkeypatch))
    await cast.at(before, 10)
    await cast.hire()
    cast.staff["admin"] = admin
    [mango] = await make_variants(runtime, ("MANGO", "1kg", PRICE))
    for code in ("SH-A", "SH-B"):
        await receive(runtime, stores[code].id, mango, 50)
    a = [(mango, 1)]
    # eve's first order is older than the cohorts read: her later orders count in none.
    await paid_order(client, runtime, await cast.member("eve"), stores, a, "SH-A")

    await cast.at(m0, 10)
    await create_program(cast.staff["admin"], runtime)
    ann = await cast.member("ann")
    bob, created = await invited(api, "bob", await code_of(ann))
    assert created
    cast.members["bob"] = bob
    await paid_order(client, runtime, ann, stores, a, "SH-A")
    await paid_order(client, runtime, bob, stores, [(mango, 2)], "SH-A")
    await paid_order(client, runtime, cast.members["eve"], stores, a, "SH-A")

    await cast.at(m1, 10)
    await paid_order(client, runtime, cast.members["ann"], stores, a, "SH-A")
    cat = await cast.member("cat")
    clerk = cast.staff["clerk-a"]
    till = order_input(a, pickup=lid(stores, "SH-A"), channel="POS", member_id=cat.id)
    order = await placed(clerk, till)
    paid = await in_store(clerk, order["id"], PRICE)
    assert paid["errors"] == [], paid

    await cast.at(m2, 10)
    await paid_order(client, runtime, cast.members["ann"], stores, a, "SH-A")
    await paid_order(client, runtime, cast.members["bob"], stores, a, "SH-B")
    await cast.at(today, 23)  # today, late: the current month has begun
    admin = await cast.relogin("admin")

    months = {"f": m0.strftime("%Y-%m"), "t": m1.strftime("%Y-%m")}
    found = (await admin.data(COHORTS, months))["cohorts"]
    assert found["timezone"] == "Asia/Shanghai"
    ann_gmv, bob_gmv = 3 * PRICE, 3 * PRICE
    assert found["cohorts"] == [
        {
            "month": m0.strftime("%Y-%m"),
            "members": 2,
            "gmv": ann_gmv + bob_gmv,
            "lifetimeValue": (ann_gmv + bob_gmv) // 2,
            "retentionBp": [5000, 10000, 0],  # the current month has begun: nobody yet
        },
        {
            "month": m1.strftime("%Y-%m"),
            "members": 1,
            "gmv": PRICE,
            "lifetimeValue": PRICE,
            "retentionBp": [0, 0],
        },
    ]
    assert found["sources"] == _sources(
        REFERRAL=(1, bob_gmv), STORE=(1, PRICE), MINI_PROGRAM=(1, ann_gmv)
    )

    # The CSV export says what `cohorts` says: a row per cohort (retention cells of months
    # not begun are empty), then one per acquisition source.
    sheet = await _csv(admin, **{"from": months["f"], "to": months["t"]})
    assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/csv")
    header, *rows = list(csv.reader(io.StringIO(sheet.text)))
    ages = [f"retention_{age}_bp" for age in range(1, 13)]
    assert header == ["kind", "key", "members", "gmv", "lifetime_value", *ages]
    assert len(rows) == len(found["cohorts"]) + len(found["sources"])
    for row, cohort in zip(rows, found["cohorts"], strict=False):
        retention = [str(bp) for bp in cohort["retentionBp"]]
        assert row == [
            "cohort",
            cohort["month"],
            str(cohort["members"]),
            str(cohort["gmv"]),
            str(cohort["lifetimeValue"]),
            *retention,
            *[""] * (12 - len(retention)),
        ]
    for row, source in zip(rows[len(found["cohorts"]) :], found["sources"], strict=True):
        value = [str(source[k]) for k in ("members", "gmv", "lifetimeValue")]
        assert row == ["source", source["source"], *value, *[""] * 12]

    # SH-A for its manager: its orders only (bob's third unit was bought at SH-B).
    manager_a = await cast.relogin("manager-a")
    mine = (await manager_a.data(COHORTS, {**months, "s": lid(stores, "SH-A")}))["cohorts"]
    assert mine["cohorts"][0] == {
        "month": m0.strftime("%Y-%m"),
        "members": 2,
        "gmv": ann_gmv + 2 * PRICE,
        "lifetimeValue": (ann_gmv + 2 * PRICE) // 2,
        "retentionBp": [5000, 5000, 0],
    }


def _code(body: dict[str, Any]) -> str:
    assert body["data"] is None, body
    code: str = body["errors"][0]["extensions"]["code"]
    return code


async def test_who_may_read_cohorts_bad_months_and_statements(
    api: Api, runtime: Runtime, stores: dict[str, Any], admin: Api, manager_a: Api
) -> None:
    manager_b = await staff_api(api, runtime, "c-b", StaffRole.STORE_MANAGER, [stores["SH-B"]])
    a = lid(stores, "SH-A")
    months = {"f": "2026-01", "t": "2026-03"}
    assert len((await manager_a.data(COHORTS, {**months, "s": a}))["cohorts"]["cohorts"]) == 3
    assert _code(await manager_b(COHORTS, {**months, "s": a})) == "FORBIDDEN"
    assert _code(await manager_b(COHORTS, months)) == "FORBIDDEN"
    for bad in ({"f": "2026-13"}, {"t": "26-01"}, {"f": "2026-04"}, {"t": "9999-12"}):
        assert _code(await admin(COHORTS, {**months, **bad})) == "INVALID_INPUT", bad
    assert _code(await admin(COHORTS, {"f": "2024-01", "t": "2026-01"})) == "RANGE_TOO_LONG"
    # The CSV export: the same rule, refusals as JSON errors with the same codes.
    sheet = {"from": "2026-01", "to": "2026-03"}
    assert (await _csv(manager_a, **sheet, storeId=a)).status_code == 200
    refused = await _csv(manager_b, **sheet, storeId=a)
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await _csv(manager_b, **sheet)).status_code == 403
    assert (await _csv(api, **sheet)).status_code == 401
    bad = await _csv(admin, **{**sheet, "from": "2026-13"})
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["extensions"]["code"] == "INVALID_INPUT"

    async def statements(last: str) -> int:
        with count_sql() as seen:
            await admin.data(COHORTS, {"f": "2025-01", "t": last})
        return len(seen)

    assert await statements("2025-02") == await statements("2026-12")
