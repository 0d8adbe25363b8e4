"""Engagement's metrics rollups: per store-local day, store and channel, the counted orders and
their money (`metrics_day`), who bought and whether it was their first order ever
(`metrics_member_day`), the hand-overs as a histogram of whole seconds paid -> handed over
(`metrics_handover_day`), and subscriptions active as each day began and cancelled that day by
the day they were created (`metrics_subscription_day`), and per store or `*` and channel or
`*` the day's figures that do not add up (`metrics_day_figures`, from `metrics_day_figures.py`).

Writing: a day is three reads of the source tables per store timezone (orders, hand-overs,
subscriptions; the same rules as `metrics` always had: `COUNTED`, `NET`, `FIRST`), then its
rows deleted and inserted, the range tables brought along (`metrics_ranges.py`: each member's
previous and next day per scope, the month's hand-over histogram). Reading: `metrics_read.py`,
five statements whatever the number of periods."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain.engagement.metrics_model import Figures, Period, Scope
from domain.ids import new_id
from domain.locations.model import DEFAULT_TIMEZONE
from infra.db import sql
from infra.repositories.metrics_day_figures import FIGURES_COLUMNS, day_figures
from infra.repositories.metrics_ranges import lock_writers, replace_day
from infra.repositories.metrics_read import read_figures
from infra.repositories.metrics_sql import COUNTED, FIRST, NET, SECONDS, TIED, as_int

WATERMARK = "roll_up_metrics"
DAY_COLUMNS = (
    "id",
    "day",
    "store_id",
    "channel",
    "orders",
    "gmv",
    "coupons_used",
    "coupon_orders",
    "coupon_gmv",
)
MEMBER_COLUMNS = ("id", "day", "store_id", "channel", "member_id", "orders", "first_order")
HANDOVER_COLUMNS = (
    "id",
    "day",
    "store_id",
    "channel",
    "pickup",
    "seconds",
    "handed_over",
    "with_after_sale",
)
SUBSCRIPTION_COLUMNS = ("id", "day", "store_id", "created_day", "active", "churned")
DAY_TABLES = (
    "metrics_day",
    "metrics_member_day",
    "metrics_handover_day",
    "metrics_subscription_day",
    "metrics_day_figures",
)
TABLES = (*DAY_TABLES, "metrics_member_reach", "metrics_handover_month")


Row = list[Any]


def _in_zone(column: str, zone: str, param: str) -> str:
    """The rows of the stores on `zone`'s clock (and those of no store, on the default one)."""
    found = f"{column} IN (SELECT l.id FROM location l WHERE l.timezone = {param})"
    return f"({found} OR {column} IS NULL)" if zone == DEFAULT_TIMEZONE else found


def _bounds(day: date, zone: str) -> tuple[datetime, datetime]:
    clock = ZoneInfo(zone)
    start = datetime.combine(day, time(), clock).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(), clock).astimezone(UTC)
    return start, end


def _chunks(rows: Sequence[Any], size: int = 500) -> list[Sequence[Any]]:
    """Bounded INSERTs on both databases (SQLite limits the values of one statement)."""
    return [rows[at : at + size] for at in range(0, len(rows), size)]


def _day_row(day: date, r: Row) -> tuple[Any, ...]:
    return (new_id(), day, r[0], r[1], r[2], r[3], r[4], r[5], r[6])


def _member(day: date, r: Row) -> tuple[Any, ...]:
    return (new_id(), day, r[0], r[1], r[2], r[3], r[4])


def _handover(day: date, r: Row) -> tuple[Any, ...]:
    return (new_id(), day, r[0], r[1], r[2], r[3], r[4], r[5])


def _figures(day: date, r: Row) -> tuple[Any, ...]:
    return (new_id(), day, r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9])


def _subscription(day: date, r: Row) -> tuple[Any, ...]:
    return (new_id(), day, r[0], r[1], r[2], r[3])


class MetricsRollups:
    """The write side (the job, the CLI, the mutation) and the read side (`metrics`)."""

    async def zones(self) -> list[str]:
        rows = await sql.fetch("SELECT DISTINCT timezone FROM location")
        return sorted({DEFAULT_TIMEZONE, *(str(r["timezone"]) for r in rows)})

    async def watermark(self) -> datetime | None:
        rows = await sql.fetch(
            "SELECT watermark FROM metrics_rollup_state WHERE name = $1", WATERMARK
        )
        return sql.as_datetime(rows[0]["watermark"]) if rows else None

    async def set_watermark(self, at: datetime) -> None:
        if await sql.update("metrics_rollup_state", {"watermark": at}, "name = $1", WATERMARK):
            return
        await sql.insert_row("metrics_rollup_state", {"name": WATERMARK, "watermark": at})

    async def earliest(self) -> datetime | None:
        rows = await sql.fetch(
            "SELECT (SELECT MIN(paid_at) FROM customer_order) AS paid, "
            "(SELECT MIN(created_at) FROM subscription) AS subscribed"
        )
        found = [sql.as_datetime(v) for v in rows[0].values() if v is not None]
        return min(found) if found else None

    async def changed_since(self, since: datetime) -> list[datetime]:
        touched = (
            "SELECT order_id FROM order_event WHERE at >= $1 "
            "UNION SELECT order_id FROM order_payment WHERE created_at >= $1 "
            "OR completed_at >= $1 "
            "UNION SELECT order_id FROM after_sale WHERE created_at >= $1 "
            # A merge moves the absorbed member's orders to the survivor: their days' members.
            "UNION SELECT o.id FROM customer_order o JOIN member_merge m "
            "ON o.member_id = m.target_member_id WHERE m.created_at >= $1"
        )
        rows = await sql.fetch_rows(
            f"WITH t AS ({touched}) "
            f"SELECT o.paid_at, {FIRST} FROM customer_order o "
            "WHERE o.id IN (SELECT order_id FROM t) "
            "UNION ALL SELECT e.at, NULL FROM order_event e "
            "WHERE e.order_id IN (SELECT order_id FROM t) "
            "AND e.to_status IN ('PICKED_UP', 'DELIVERED')",
            since,
        )
        return [sql.as_datetime(v) for row in rows for v in (row[0], row[1]) if v is not None]

    async def rebuild_day(self, day: date, zones: Sequence[str]) -> None:
        found: dict[str, list[Row]] = defaultdict(list)
        for zone in zones:
            start, end = _bounds(day, zone)
            await self._orders(day, zone, start, end, found)
            await self._handed(day, zone, start, end, found)
            await self._subscriptions(day, zone, start, end, found)
        await self.write_day(day, found)

    async def write_day(self, day: date, found: dict[str, list[Row]]) -> None:
        """Replace the day's rows by `found` (per table, the rows but the id and the day), the
        range tables brought along."""
        await lock_writers()
        await replace_day(day, found["metrics_member_day"], found["metrics_handover_day"])
        for table in DAY_TABLES:
            await sql.execute(f"DELETE FROM {table} WHERE day = $1", day)
        for part in _chunks(found["metrics_day"]):
            await sql.insert("metrics_day", DAY_COLUMNS, [_day_row(day, r) for r in part])
        for part in _chunks(found["metrics_member_day"]):
            await sql.insert("metrics_member_day", MEMBER_COLUMNS, [_member(day, r) for r in part])
        for part in _chunks(found["metrics_handover_day"]):
            await sql.insert(
                "metrics_handover_day", HANDOVER_COLUMNS, [_handover(day, r) for r in part]
            )
        figures = day_figures(found["metrics_member_day"], found["metrics_handover_day"])
        for part in _chunks(figures):
            await sql.insert(
                "metrics_day_figures", FIGURES_COLUMNS, [_figures(day, r) for r in part]
            )
        for part in _chunks(found["metrics_subscription_day"]):
            await sql.insert(
                "metrics_subscription_day",
                SUBSCRIPTION_COLUMNS,
                [_subscription(day, r) for r in part],
            )

    async def _orders(
        self, day: date, zone: str, start: datetime, end: datetime, found: dict[str, list[Row]]
    ) -> None:
        rows = await sql.fetch(
            f"WITH paid AS (SELECT o.location_id, o.channel, o.member_id, {NET} AS net, "
            "(SELECT COUNT(*) FROM coupon c WHERE c.order_id = o.id AND c.status = 'USED') "
            "AS coupons, "
            f"CASE WHEN o.member_id IS NOT NULL AND o.paid_at = {FIRST} AND NOT EXISTS ({TIED}) "
            "THEN 1 ELSE 0 END "
            "AS is_first FROM customer_order o WHERE o.paid_at >= $1 AND o.paid_at < $2 "
            f"AND {COUNTED} AND {_in_zone('o.location_id', zone, '$3')}) "
            "SELECT location_id, channel, member_id, COUNT(*) AS orders, "
            "SUM(CASE WHEN net > 0 THEN net ELSE 0 END) AS gmv, SUM(coupons) AS coupons_used, "
            "SUM(CASE WHEN coupons > 0 THEN 1 ELSE 0 END) AS coupon_orders, "
            "SUM(CASE WHEN coupons > 0 AND net > 0 THEN net ELSE 0 END) AS coupon_gmv, "
            "MAX(is_first) AS is_first FROM paid GROUP BY location_id, channel, member_id",
            start,
            end,
            zone,
        )
        money: dict[tuple[Any, str], list[int]] = defaultdict(lambda: [0] * 5)
        for r in rows:
            store, channel = r["location_id"], str(r["channel"])
            sums = money[(store, channel)]
            for n, name in enumerate(("orders", "gmv", "coupons_used", "coupon_orders")):
                sums[n] += as_int(r[name])
            sums[4] += as_int(r["coupon_gmv"])
            if r["member_id"] is not None:
                member, orders, first = r["member_id"], as_int(r["orders"]), as_int(r["is_first"])
                found["metrics_member_day"].append([store, channel, member, orders, first])
        for (store, channel), sums in money.items():
            found["metrics_day"].append([store, channel, *sums])

    async def _handed(
        self, day: date, zone: str, start: datetime, end: datetime, found: dict[str, list[Row]]
    ) -> None:
        seconds = SECONDS["sqlite" if sql.is_sqlite() else "postgres"]
        rows = await sql.fetch(
            "WITH handed AS (SELECT o.location_id, o.channel, "
            "CASE WHEN o.fulfilment = 'PICKUP' THEN 1 ELSE 0 END AS pickup, "
            f"CAST(ROUND({seconds}) AS INTEGER) AS seconds, "
            "CASE WHEN EXISTS (SELECT 1 FROM after_sale a WHERE a.order_id = o.id) "
            "THEN 1 ELSE 0 END AS asked "
            "FROM order_event e JOIN customer_order o ON o.id = e.order_id "
            "WHERE e.to_status IN ('PICKED_UP', 'DELIVERED') AND e.at >= $1 AND e.at < $2 "
            f"AND {_in_zone('o.location_id', zone, '$3')}) "
            "SELECT location_id, channel, pickup, seconds, COUNT(*) AS handed_over, "
            "SUM(asked) AS with_after_sale FROM handed "
            "GROUP BY location_id, channel, pickup, seconds",
            start,
            end,
            zone,
        )
        for r in rows:
            key = [r["location_id"], str(r["channel"]), as_int(r["pickup"]), r["seconds"]]
            counts = [as_int(r["handed_over"]), as_int(r["with_after_sale"])]
            found["metrics_handover_day"].append([*key, *counts])

    async def _subscriptions(
        self, day: date, zone: str, start: datetime, end: datetime, found: dict[str, list[Row]]
    ) -> None:
        rows = await sql.fetch(
            "WITH cancels AS (SELECT subscription_id, MIN(at) AS at FROM subscription_change "
            "WHERE what = 'CANCELLED' GROUP BY subscription_id) "
            "SELECT s.pickup_location_id AS store_id, s.created_at, c.at AS cancelled_at "
            "FROM subscription s LEFT JOIN cancels c ON c.subscription_id = s.id "
            "WHERE s.created_at < $2 AND (c.at IS NULL OR c.at >= $1) "
            f"AND {_in_zone('s.pickup_location_id', zone, '$3')}",
            start,
            end,
            zone,
        )
        clock = ZoneInfo(zone)
        active: dict[Any, int] = defaultdict(int)
        churned: dict[tuple[Any, date], int] = defaultdict(int)
        for r in rows:
            created = sql.as_datetime(r["created_at"])
            cancelled = sql.as_optional_datetime(r["cancelled_at"])
            if created < start:
                active[r["store_id"]] += 1
            if cancelled is not None and cancelled < end:
                churned[(r["store_id"], created.astimezone(clock).date())] += 1
        table = found["metrics_subscription_day"]
        table += [[store, None, count, 0] for store, count in active.items()]
        table += [[store, made, 0, count] for (store, made), count in churned.items()]

    async def figures(self, periods: Sequence[Period], scope: Scope) -> list[Figures]:
        return await read_figures(periods, scope)
