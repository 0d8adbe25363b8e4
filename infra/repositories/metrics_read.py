"""How `metrics` reads the rollups: five statements whatever the number of periods.

The figures that add up (money, the hand-over counts, new members, subscriptions active and
churned on a day) are read once per day of the span (`GROUP BY day`, or the day's
`metrics_day_figures` row) and folded into the periods here: a year by day and its total is
366 rows per statement, not a join of every day to a list of (day, period) pairs. A one-day
period's distinct members and percentiles are its `metrics_day_figures` row; longer periods
read theirs from the range tables (`metrics_ranges`). Subscriptions churned in a longer period
count only those created before it began, so those periods sum theirs in SQL over their days."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from domain.engagement.metrics_model import Figures, Period, Scope
from infra.db import sql
from infra.repositories.metrics_day_figures import EVERY, store_key
from infra.repositories.metrics_ranges import range_people, range_percentiles
from infra.repositories.metrics_sql import as_int

MONEY = ("orders", "gmv", "coupons_used", "coupon_orders", "coupon_gmv")
ADDED = ("handed_over", "with_after_sale", "handovers", "new_members")
PEOPLE = ("active_members", "repeat_members")
PERCENTILES = ("handover_median_seconds", "handover_p90_seconds")

Day = dict[str, Any]


def _filters(scope: Scope, values: list[Any], channel: bool = True) -> str:
    """` AND m.store_id = $k AND m.channel = $k+1` for the scope, its values appended."""
    found = ""
    if scope.store_id is not None:
        values.append(scope.store_id)
        found += f" AND m.store_id = ${len(values)}"
    if channel and scope.channel is not None:
        values.append(scope.channel.value)
        found += f" AND m.channel = ${len(values)}"
    return found


async def _money(first: date, last: date, scope: Scope, days: dict[date, Day]) -> None:
    values: list[Any] = [first, last]
    mine = _filters(scope, values)
    sums = ", ".join(f"SUM(m.{k}) AS {k}" for k in MONEY)
    for r in await sql.fetch(
        f"SELECT m.day, {sums} FROM metrics_day m WHERE m.day >= $1 AND m.day <= $2{mine} "
        "GROUP BY m.day",
        *values,
    ):
        days.setdefault(_day(r["day"]), {}).update({k: as_int(r[k]) for k in MONEY})


async def _figures(first: date, last: date, scope: Scope, days: dict[date, Day]) -> None:
    channel = EVERY if scope.channel is None else scope.channel.value
    for r in await sql.fetch(
        f"SELECT m.day, {', '.join(f'm.{k}' for k in (*ADDED, *PEOPLE, *PERCENTILES))} "
        "FROM metrics_day_figures m WHERE m.store_key = $1 AND m.channel = $2 "
        "AND m.day >= $3 AND m.day <= $4",
        store_key(scope.store_id),
        channel,
        first,
        last,
    ):
        into = days.setdefault(_day(r["day"]), {})
        into.update({k: as_int(r[k]) for k in (*ADDED, *PEOPLE)})
        into.update({k: r[k] for k in PERCENTILES})


async def _subscriptions(
    first: date,
    last: date,
    several: Sequence[tuple[int, date, date]],
    scope: Scope,
    days: dict[date, Day],
) -> dict[int, int]:
    """Per day, those active as it began and those cancelled that day created before it; per
    longer period, those cancelled in it created before it began. The channel does not apply:
    a subscription is not placed through one."""
    cast = "" if sql.is_sqlite() else "::date"
    values: list[Any] = [first, last]
    mine = _filters(scope, values, channel=False)
    spans = []
    for n, a, b in several:
        values += [a, b]
        spans.append(f"({n}, ${len(values) - 1}{cast}, ${len(values)}{cast})")
    text = (
        "SELECT 0 AS k, m.day, 0 AS n, "
        "SUM(CASE WHEN m.created_day IS NULL THEN m.active ELSE 0 END) AS active, "
        "SUM(CASE WHEN m.created_day < m.day THEN m.churned ELSE 0 END) AS churned "
        f"FROM metrics_subscription_day m WHERE m.day >= $1 AND m.day <= $2{mine} "
        "GROUP BY m.day"
    )
    if spans:
        text = (
            f"WITH r(n, a, b) AS (VALUES {', '.join(spans)}) {text} UNION ALL "
            "SELECT 1, NULL, r.n, 0, "
            "SUM(CASE WHEN m.created_day < r.a THEN m.churned ELSE 0 END) "
            f"FROM r JOIN metrics_subscription_day m ON m.day >= r.a AND m.day <= r.b{mine} "
            "GROUP BY r.n"
        )
    churned: dict[int, int] = {}
    for r in await sql.fetch(text, *values):
        if as_int(r["k"]):
            churned[as_int(r["n"])] = as_int(r["churned"])
        else:
            into = days.setdefault(_day(r["day"]), {})
            into["subscriptions_active"] = as_int(r["active"])
            into["subscriptions_churned"] = as_int(r["churned"])
    return churned


def _day(value: Any) -> date:
    found = sql.as_optional_date(value)
    assert found is not None
    return found


async def read_figures(periods: Sequence[Period], scope: Scope) -> list[Figures]:
    if not periods:
        return []
    first = min(p.first_day for p in periods)
    last = max(p.last_day for p in periods)
    several = [
        (n, p.first_day, p.last_day) for n, p in enumerate(periods) if p.first_day < p.last_day
    ]
    days: dict[date, Day] = {}
    await _money(first, last, scope, days)
    await _figures(first, last, scope, days)
    churned = await _subscriptions(first, last, several, scope, days)
    people = await range_people(several, scope) if several else {}
    percentiles = await range_percentiles(several, scope) if several else {}
    found = []
    for n, period in enumerate(periods):
        if period.first_day == period.last_day:
            found.append(Figures(**days.get(period.first_day, {})))
            continue
        sums = dict.fromkeys((*MONEY, *ADDED), 0)
        for day in period.days():
            of_day = days.get(day)
            if of_day is not None:
                for k in sums:
                    sums[k] += of_day.get(k, 0)
        active = days.get(period.first_day, {}).get("subscriptions_active", 0)
        found.append(
            Figures(
                **sums,
                **people.get(n, {}),
                **percentiles.get(n, {}),
                subscriptions_active=active,
                subscriptions_churned=churned.get(n, 0),
            )
        )
    return found
