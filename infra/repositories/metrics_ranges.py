"""Metrics over a range of days, exact, without a pass over every row of the range (issue 19
"Scale": a year by day in under 50 ms). Two tables, per store or `*` and channel or `*` (the
scopes of `metrics_day_figures`), kept by the rollup in the day's transaction:

- `metrics_member_reach`: per store-local day, each member who bought, their orders that day,
  and the previous and next day they bought in that scope (`BEFORE_ALL` / `AFTER_ALL` when
  there is none). The distinct members of [a, b] are the rows of [a, b] whose previous day is
  before a (one per member: their first day in the range), found by one index probe per day;
  of those, the members whose next day is after b and who bought once that day bought once in
  the range, so repeat members = active - them.
- `metrics_handover_month`: per calendar month and whole second, the pickups handed over; the
  histogram of a range is its full months' rows plus its edge days' daily rows.

A day's rebuild unlinks the day's reach rows from their neighbours (each neighbour then points
past the day), replaces them, and links the new ones in; the month gets the day's new histogram
less its old one. Rebuilds take one lock on PostgreSQL (neighbouring days share rows)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from domain.engagement.metrics_model import Scope, interpolate
from domain.ids import new_id
from infra.db import sql
from infra.repositories.metrics_day_figures import EVERY, scopes, store_key

BEFORE_ALL, AFTER_ALL = date(1, 1, 1), date(9999, 12, 31)  # no previous / next day
REACH_COLUMNS = (
    "id",
    "day",
    "store_key",
    "channel",
    "member_id",
    "orders",
    "previous_day",
    "next_day",
)
MONTH_COLUMNS = ("id", "month_start", "store_key", "channel", "seconds", "handovers")
PERCENTILES = (("median", 50), ("p90", 90))
LOCK = 1_900_019  # pg_advisory_xact_lock: one rollup writer at a time

Scoped = tuple[str, str, Any]  # store key, channel, member or whole seconds
REACH = "metrics_member_reach"
PAIR = ("store_key", "channel", "member_id")
SAME = " AND ".join(f"x.{c} = {REACH}.{c}" for c in PAIR)
ROW = f"({', '.join(PAIR)}, day)"


def day_reach(members: Sequence[Sequence[Any]]) -> dict[Scoped, int]:
    """The day's orders per scope and member, from the rollup's member rows [store, channel,
    member, orders, first_order]."""
    found: dict[Scoped, int] = defaultdict(int)
    for store, channel, member, orders, _ in members:
        for key in scopes(store, channel):
            found[(*key, member)] += orders
    return found


def day_histogram(handovers: Sequence[Sequence[Any]]) -> dict[Scoped, int]:
    """The day's pickups per scope and whole second, from the rollup's hand-over rows [store,
    channel, pickup, seconds, handed_over, with_after_sale]."""
    found: dict[Scoped, int] = defaultdict(int)
    for store, channel, pickup, seconds, handed, _ in handovers:
        if pickup == 1 and seconds is not None:
            for key in scopes(store, channel):
                found[(*key, seconds)] += handed
    return found


def month_start(day: date) -> date:
    return day.replace(day=1)


def full_months(first: date, last: date) -> tuple[date, date]:
    """[start, end): the calendar months wholly inside [first, last]; the rest of the range is
    [first, start) and [end, last]. Without a whole month, both are the day after `last`."""
    start = first if first.day == 1 else month_start(month_start(first) + timedelta(days=32))
    end = month_start(last + timedelta(days=1))
    if start >= end:
        return last + timedelta(days=1), last + timedelta(days=1)
    return start, end


async def lock_writers() -> None:
    if not sql.is_sqlite():  # SQLite has one writer anyway
        await sql.execute(f"SELECT pg_advisory_xact_lock({LOCK})")


async def replace_day(
    day: date, members: Sequence[Sequence[Any]], handovers: Sequence[Sequence[Any]]
) -> None:
    """Before the day's hand-over rows are replaced: bring both tables from the day's old rows
    to the new ones (`members` and `handovers` as the rollup is about to insert them)."""
    await _month(day, handovers)
    await _reach(day, members)


async def _month(day: date, handovers: Sequence[Sequence[Any]]) -> None:
    old = await sql.fetch(
        "SELECT store_id, channel, pickup, seconds, SUM(handed_over) AS handed_over "
        "FROM metrics_handover_day WHERE day = $1 GROUP BY store_id, channel, pickup, seconds",
        day,
    )
    change = day_histogram(handovers)
    was = day_histogram(
        [
            [r["store_id"], r["channel"], r["pickup"], r["seconds"], int(r["handed_over"]), 0]
            for r in old
        ]
    )
    for key, count in was.items():
        change[key] -= count
    rows = [(new_id(), month_start(day), *key, n) for key, n in sorted(change.items()) if n]
    width = len(MONTH_COLUMNS)
    for at in range(0, len(rows), 500):
        part = rows[at : at + 500]
        values = ", ".join(f"({sql.placeholders(width, k * width + 1)})" for k in range(len(part)))
        await sql.execute(
            f"INSERT INTO metrics_handover_month ({', '.join(MONTH_COLUMNS)}) VALUES {values} "
            "ON CONFLICT (store_key, channel, month_start, seconds) DO UPDATE "
            "SET handovers = metrics_handover_month.handovers + excluded.handovers",
            *(v for row in part for v in row),
        )
    if any(n < 0 for n in change.values()):  # only a count that fell can have reached 0
        await sql.execute(
            "DELETE FROM metrics_handover_month WHERE month_start = $1 AND handovers = 0",
            month_start(day),
        )


async def _reach(day: date, members: Sequence[Sequence[Any]]) -> None:
    # Unlink: the day's neighbours point past it, then its rows go.
    for column, other in (("next_day", "previous_day"), ("previous_day", "next_day")):
        await sql.execute(
            f"UPDATE {REACH} SET {column} = (SELECT x.{column} FROM {REACH} x "
            f"WHERE x.day = $1 AND {SAME}) WHERE {ROW} IN "
            f"(SELECT {', '.join(PAIR)}, {other} FROM {REACH} WHERE day = $1)",
            day,
        )
    await sql.execute(f"DELETE FROM {REACH} WHERE day = $1", day)
    reach = sorted(day_reach(members).items(), key=str)
    for at in range(0, len(reach), 500):
        await sql.insert(
            "metrics_member_reach",
            REACH_COLUMNS,
            [
                (new_id(), day, store, channel, member, orders, BEFORE_ALL, AFTER_ALL)
                for (store, channel, member), orders in reach[at : at + 500]
            ],
        )
    if not reach:
        return
    # Link: the new rows find their neighbours, which then point at the day.
    await sql.execute(
        f"UPDATE {REACH} SET "
        f"previous_day = COALESCE((SELECT MAX(x.day) FROM {REACH} x "
        f"WHERE x.day < $1 AND {SAME}), $2), "
        f"next_day = COALESCE((SELECT MIN(x.day) FROM {REACH} x WHERE x.day > $1 AND {SAME}), $3) "
        "WHERE day = $1",
        day,
        BEFORE_ALL,
        AFTER_ALL,
    )
    for column, other in (("next_day", "previous_day"), ("previous_day", "next_day")):
        await sql.execute(
            f"UPDATE {REACH} SET {column} = $1 WHERE {ROW} IN "
            f"(SELECT {', '.join(PAIR)}, {other} FROM {REACH} WHERE day = $1)",
            day,
        )


async def range_people(
    several: Sequence[tuple[int, date, date]], scope: Scope
) -> dict[int, dict[str, int]]:
    """Per period n of [a, b]: its distinct active members and those with two orders or more.
    One probe of the reach index (day, scope, previous day) per day of each period, reading only the
    members' first rows in the range: the cost follows the days and the answer, not the rows."""
    cast = "" if sql.is_sqlite() else "::date"
    values: list[Any] = [store_key(scope.store_id)]
    values.append(EVERY if scope.channel is None else scope.channel.value)
    spans, days = [], []
    for n, first, last in several:
        values += [first, last]
        spans.append(f"({n}, ${len(values) - 1}{cast}, ${len(values)}{cast})")
        for k in range((last - first).days + 1):
            values.append(first + timedelta(days=k))
            days.append(f"(${len(values)}{cast}, {n})")
    found: dict[int, dict[str, int]] = {}
    for r in await sql.fetch(
        f"WITH r(n, a, b) AS (VALUES {', '.join(spans)}), v(day, n) AS (VALUES {', '.join(days)}) "
        "SELECT v.n, COUNT(*) AS active, "
        "SUM(CASE WHEN m.next_day > r.b AND m.orders = 1 THEN 1 ELSE 0 END) AS once "
        f"FROM v JOIN r ON r.n = v.n JOIN {REACH} m ON m.store_key = $1 AND m.channel = $2 "
        "AND m.day = v.day AND m.previous_day < r.a GROUP BY v.n",
        *values,
    ):
        active = int(r["active"] or 0)
        found[int(r["n"])] = {
            "active_members": active,
            "repeat_members": active - int(r["once"] or 0),
        }
    return found


async def range_percentiles(
    several: Sequence[tuple[int, date, date]], scope: Scope
) -> dict[int, dict[str, int]]:
    """Per period n of [a, b]: the hand-over median and p90 over its full months' histograms
    and its edge days' rows, computed as PostgreSQL's `percentile_cont` computes them (the two
    ranks found in SQL by running counts, the interpolation by `interpolate`)."""
    cast = "" if sql.is_sqlite() else "::date"
    values: list[Any] = [store_key(scope.store_id)]
    values.append(EVERY if scope.channel is None else scope.channel.value)
    mine = ""
    if scope.store_id is not None:
        values.append(scope.store_id)
        mine += f" AND m.store_id = ${len(values)}"
    if scope.channel is not None:
        values.append(scope.channel.value)
        mine += f" AND m.channel = ${len(values)}"
    spans = []
    for n, first, last in several:
        values += [first, *full_months(first, last), last]
        at = len(values) - 3
        spans.append(f"({n}, " + ", ".join(f"${at + k}{cast}" for k in range(4)) + ")")
    daily = f"FROM r JOIN metrics_handover_day m ON m.pickup = 1 AND m.seconds IS NOT NULL{mine}"
    ranks = ", ".join(
        f"MIN(CASE WHEN upto > {per_cent} * (total - 1) / 100{extra} THEN seconds END) "
        f"AS {name}{end}"
        for name, per_cent in PERCENTILES
        for end, extra in (("_lo", ""), ("_hi", " + 1"))
    )
    found: dict[int, dict[str, int]] = {}
    for r in await sql.fetch(
        f"WITH r(n, a, ma, mb, b) AS (VALUES {', '.join(spans)}), "
        "c AS (SELECT r.n, m.seconds, m.handovers AS c FROM r JOIN metrics_handover_month m "
        "ON m.store_key = $1 AND m.channel = $2 AND m.month_start >= r.ma "
        "AND m.month_start < r.mb "
        f"UNION ALL SELECT r.n, m.seconds, m.handed_over {daily} AND m.day >= r.a "
        "AND m.day < r.ma "
        f"UNION ALL SELECT r.n, m.seconds, m.handed_over {daily} AND m.day >= r.mb "
        "AND m.day <= r.b), "
        "h AS (SELECT n, seconds, CAST(SUM(c) AS BIGINT) AS c FROM c GROUP BY n, seconds), "
        "k AS (SELECT n, seconds, "
        "CAST(SUM(c) OVER (PARTITION BY n ORDER BY seconds) AS BIGINT) AS upto, "
        "CAST(SUM(c) OVER (PARTITION BY n) AS BIGINT) AS total FROM h) "
        f"SELECT n, MAX(total) AS total, {ranks} FROM k GROUP BY n",
        *values,
    ):
        into = found.setdefault(int(r["n"]), {})
        total = int(r["total"] or 0)
        for name, per_cent in PERCENTILES:
            if total:
                low = int(r[f"{name}_lo"])
                high = low if r[f"{name}_hi"] is None else int(r[f"{name}_hi"])
                into[f"handover_{name}_seconds"] = interpolate(low, high, total, per_cent)
    return found
