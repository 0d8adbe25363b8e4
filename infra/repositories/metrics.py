"""Engagement's metrics read model (metrics and monthly cohorts): SQL aggregates over the
orders, payments, coupons, hand-over events, after-sales, subscriptions, referrals and
group-buy seats that other contexts own (read here, never written). The periods travel as one
`VALUES` list, so each family of figures is one statement whatever the number of periods:
orders, hand-overs and subscriptions, plus on SQLite one bounded read of the hand-over
durations (its percentiles are computed in Python the way PostgreSQL's `percentile_cont`
computes them). Cohorts are three statements over the counted orders: cohort sizes and money,
who bought again in which later month, acquisition sources."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from domain.engagement.metrics_cohorts_model import AGES, AcquisitionSource, CohortFigures
from domain.engagement.metrics_model import Figures, Scope, Window, percentile_cont
from domain.engagement.metrics_ports import MetricsReadModel
from infra.db import sql

# Paid and not cancelled nor unclaimed: the orders guidePerformance and GMV count.
COUNTED = "o.status NOT IN ('CANCELLED', 'UNCLAIMED')"
NET = (
    "o.total - o.points_discount - COALESCE((SELECT SUM(p.amount) FROM order_payment p "
    "WHERE p.order_id = o.id AND p.kind = 'REFUND' AND p.status <> 'REFUND_FAILED'), 0)"
)
FIRST = (
    "(SELECT MIN(f.paid_at) FROM customer_order f WHERE f.member_id = o.member_id "
    "AND f.paid_at IS NOT NULL AND f.status NOT IN ('CANCELLED', 'UNCLAIMED'))"
)
SECONDS = {
    "postgres": "EXTRACT(EPOCH FROM e.at - o.paid_at)::float8",
    "sqlite": "(julianday(e.at) - julianday(o.paid_at)) * 86400.0",
}


@dataclass(frozen=True)
class Periods:
    """The periods as `w(n, s, e)`, `$lo`/`$hi` (the span of them all) and the scope's filters:
    the text and the values each statement starts from."""

    periods: str
    lo: str
    hi: str
    values: list[Any]
    store: str | None  # `$k` of the store, if any
    channel: str | None

    @classmethod
    def of(cls, windows: Sequence[Window], scope: Scope, postgres: bool) -> Periods:
        cast = "::timestamptz" if postgres else ""
        rows = ", ".join(
            f"({n}, ${2 * n + 1}{cast}, ${2 * n + 2}{cast})" for n in range(len(windows))
        )
        values: list[Any] = [moment for w in windows for moment in (w.start, w.end)]
        values += [min(w.start for w in windows), max(w.end for w in windows)]
        count = len(values)
        store = channel = None
        if scope.store_id is not None:
            values.append(scope.store_id)
            store = f"${len(values)}"
        if scope.channel is not None:
            values.append(scope.channel.value)
            channel = f"${len(values)}"
        return cls(
            f"w(n, s, e) AS (VALUES {rows})", f"${count - 1}", f"${count}", values, store, channel
        )

    def order_filters(self) -> str:
        found = f" AND o.location_id = {self.store}" if self.store else ""
        return found + (f" AND o.channel = {self.channel}" if self.channel else "")


def as_int(value: Any) -> int:
    return int(value or 0)


def _seconds(value: Any) -> int | None:
    return None if value is None else round(float(value))


class SqlMetricsReadModel(MetricsReadModel):
    async def cohorts(
        self, months: Sequence[Window], cohorts: int, store_id: UUID | None
    ) -> CohortFigures:
        return await _cohorts(months, cohorts, store_id)

    async def figures(self, windows: Sequence[Window], scope: Scope) -> list[Figures]:
        if not windows:
            return []
        postgres = not sql.is_sqlite()
        at = Periods.of(windows, scope, postgres)
        orders = await self._orders(at)
        handed = await self._handed(at, postgres)
        subscriptions = await self._subscriptions(at)
        return [Figures(**orders[n], **handed[n], **subscriptions[n]) for n in range(len(windows))]

    async def _orders(self, at: Periods) -> dict[int, dict[str, int]]:
        rows = await sql.fetch(
            f"WITH {at.periods}, "
            f"paid AS (SELECT o.id, o.member_id, o.paid_at, {NET} AS net, "
            "(SELECT COUNT(*) FROM coupon c WHERE c.order_id = o.id AND c.status = 'USED') "
            "AS coupons, "
            f"CASE WHEN o.member_id IS NOT NULL AND o.paid_at = {FIRST} THEN 1 ELSE 0 END "
            "AS is_first "
            f"FROM customer_order o WHERE o.paid_at >= {at.lo} AND o.paid_at < {at.hi} "
            f"AND {COUNTED}{at.order_filters()}), "
            "hit AS (SELECT w.n, paid.member_id, paid.net, paid.coupons, paid.is_first "
            "FROM w JOIN paid ON paid.paid_at >= w.s AND paid.paid_at < w.e), "
            "money AS (SELECT n, COUNT(*) AS orders, "
            "SUM(CASE WHEN net > 0 THEN net ELSE 0 END) AS gmv, "
            "SUM(coupons) AS coupons_used, "
            "SUM(CASE WHEN coupons > 0 THEN 1 ELSE 0 END) AS coupon_orders, "
            "SUM(CASE WHEN coupons > 0 AND net > 0 THEN net ELSE 0 END) AS coupon_gmv "
            "FROM hit GROUP BY n), "
            "buyers AS (SELECT n, member_id, COUNT(*) AS k, MAX(is_first) AS is_first "
            "FROM hit WHERE member_id IS NOT NULL GROUP BY n, member_id), "
            "people AS (SELECT n, COUNT(*) AS active_members, "
            "SUM(CASE WHEN k >= 2 THEN 1 ELSE 0 END) AS repeat_members, "
            "SUM(is_first) AS new_members FROM buyers GROUP BY n) "
            "SELECT w.n, m.orders, m.gmv, m.coupons_used, m.coupon_orders, m.coupon_gmv, "
            "p.active_members, p.repeat_members, p.new_members "
            "FROM w LEFT JOIN money m ON m.n = w.n LEFT JOIN people p ON p.n = w.n",
            *at.values,
        )
        names = [
            "orders",
            "gmv",
            "coupons_used",
            "coupon_orders",
            "coupon_gmv",
            "active_members",
            "repeat_members",
            "new_members",
        ]
        return {as_int(r["n"]): {k: as_int(r[k]) for k in names} for r in rows}

    def _handed_text(self, at: Periods, postgres: bool) -> str:
        dialect = "postgres" if postgres else "sqlite"
        return (
            f"WITH {at.periods}, "
            f"handed AS (SELECT o.id, o.fulfilment, e.at, {SECONDS[dialect]} AS seconds, "
            "CASE WHEN EXISTS (SELECT 1 FROM after_sale a WHERE a.order_id = o.id) "
            "THEN 1 ELSE 0 END AS asked "
            "FROM order_event e JOIN customer_order o ON o.id = e.order_id "
            "WHERE e.to_status IN ('PICKED_UP', 'DELIVERED') "
            f"AND e.at >= {at.lo} AND e.at < {at.hi}{at.order_filters()}) "
        )

    async def _handed(self, at: Periods, postgres: bool) -> dict[int, dict[str, Any]]:
        pickup = "FILTER (WHERE h.fulfilment = 'PICKUP')"
        percentiles = (
            f", percentile_cont(0.5) WITHIN GROUP (ORDER BY h.seconds) {pickup} AS median, "
            f"percentile_cont(0.9) WITHIN GROUP (ORDER BY h.seconds) {pickup} AS p90"
            if postgres
            else ""
        )
        rows = await sql.fetch(
            self._handed_text(at, postgres) + "SELECT w.n, COUNT(h.id) AS handed_over, "
            "SUM(h.asked) AS with_after_sale, "
            "SUM(CASE WHEN h.fulfilment = 'PICKUP' THEN 1 ELSE 0 END) AS handovers"
            f"{percentiles} FROM w LEFT JOIN handed h ON h.at >= w.s AND h.at < w.e "
            "GROUP BY w.n",
            *at.values,
        )
        found: dict[int, dict[str, Any]] = {
            as_int(r["n"]): {
                "handed_over": as_int(r["handed_over"]),
                "with_after_sale": as_int(r["with_after_sale"]),
                "handovers": as_int(r["handovers"]),
                "handover_median_seconds": _seconds(r.get("median")),
                "handover_p90_seconds": _seconds(r.get("p90")),
            }
            for r in rows
        }
        if not postgres:
            for n, durations in (await self._durations(at)).items():
                found[n]["handover_median_seconds"] = _seconds(percentile_cont(durations, 0.5))
                found[n]["handover_p90_seconds"] = _seconds(percentile_cont(durations, 0.9))
        return found

    async def _durations(self, at: Periods) -> dict[int, list[float]]:
        """SQLite has no ordered-set aggregates: the pickup durations of the periods, sorted,
        bounded by the hand-overs of the range (each counted once per period holding it)."""
        rows = await sql.fetch_rows(
            self._handed_text(at, postgres=False) + "SELECT w.n, h.seconds FROM w "
            "JOIN handed h ON h.at >= w.s AND h.at < w.e "
            "WHERE h.fulfilment = 'PICKUP' AND h.seconds IS NOT NULL ORDER BY w.n, h.seconds",
            *at.values,
        )
        found: dict[int, list[float]] = defaultdict(list)
        for n, seconds in rows:
            found[int(n)].append(float(seconds))
        return found

    async def _subscriptions(self, at: Periods) -> dict[int, dict[str, int]]:
        # The channel does not apply: a subscription is not placed through one.
        store = f" AND s.pickup_location_id = {at.store}" if at.store else ""
        rows = await sql.fetch(
            f"WITH {at.periods}, "
            "cancels AS (SELECT subscription_id, MIN(at) AS at FROM subscription_change "
            "WHERE what = 'CANCELLED' GROUP BY subscription_id), "
            "subs AS (SELECT s.created_at, c.at AS cancelled_at FROM subscription s "
            f"LEFT JOIN cancels c ON c.subscription_id = s.id WHERE s.created_at < {at.hi}"
            f"{store} AND (c.at IS NULL OR c.at >= {at.lo})) "
            "SELECT w.n, SUM(CASE WHEN x.created_at < w.s AND (x.cancelled_at IS NULL "
            "OR x.cancelled_at >= w.s) THEN 1 ELSE 0 END) AS subscriptions_active, "
            "SUM(CASE WHEN x.created_at < w.s AND x.cancelled_at >= w.s "
            "AND x.cancelled_at < w.e THEN 1 ELSE 0 END) AS subscriptions_churned "
            "FROM w LEFT JOIN subs x ON 1 = 1 GROUP BY w.n",
            *(at.values[:-1] if at.channel else at.values),  # the channel comes last
        )
        names = ("subscriptions_active", "subscriptions_churned")
        return {as_int(r["n"]): {k: as_int(r[k]) for k in names} for r in rows}


def _common(at: Periods, cohorts: int) -> str:
    store = f" AND o.location_id = {at.store}" if at.store else ""
    return (
        f"WITH {at.periods}, "
        f"counted AS (SELECT o.id, o.member_id, o.paid_at, o.channel, {NET} AS net "
        "FROM customer_order o WHERE o.member_id IS NOT NULL AND o.paid_at IS NOT NULL "
        f"AND {COUNTED}{store}), "
        "firsts AS (SELECT member_id, MIN(paid_at) AS first_at FROM counted GROUP BY member_id "
        f"HAVING MIN(paid_at) >= {at.lo} AND MIN(paid_at) < {at.hi}), "
        "cohort AS (SELECT f.member_id, f.first_at, w.n AS c FROM firsts f "
        f"JOIN w ON f.first_at >= w.s AND f.first_at < w.e WHERE w.n < {int(cohorts)}), "
        "spend AS (SELECT member_id, SUM(CASE WHEN net > 0 THEN net ELSE 0 END) AS gmv "
        "FROM counted GROUP BY member_id) "
    )


SOURCE = (
    "CASE WHEN EXISTS (SELECT 1 FROM referral r WHERE r.invitee_id = k.member_id "
    "AND r.status <> 'REFUSED') THEN 'REFERRAL' "
    "WHEN EXISTS (SELECT 1 FROM group_buy_seat g WHERE g.order_id = o.id) THEN 'GROUP_BUY' "
    "WHEN o.channel IN ('POS', 'KIOSK') THEN 'STORE' ELSE 'MINI_PROGRAM' END"
)


async def _cohorts(months: Sequence[Window], cohorts: int, store_id: UUID | None) -> CohortFigures:
    if not months or cohorts <= 0:
        return CohortFigures()
    at = Periods.of(months, Scope(store_id), postgres=not sql.is_sqlite())
    common = _common(at, cohorts)
    sizes = await sql.fetch(
        common + "SELECT k.c, COUNT(*) AS members, SUM(s.gmv) AS gmv FROM cohort k "
        "JOIN spend s ON s.member_id = k.member_id GROUP BY k.c",
        *at.values,
    )
    active = await sql.fetch(
        common + "SELECT k.c, w.n - k.c AS age, COUNT(DISTINCT k.member_id) AS members "
        "FROM cohort k JOIN counted o ON o.member_id = k.member_id "
        "JOIN w ON o.paid_at >= w.s AND o.paid_at < w.e "
        f"WHERE w.n > k.c AND w.n - k.c <= {AGES} GROUP BY k.c, w.n - k.c",
        *at.values,
    )
    sources = await sql.fetch(
        common + f", labelled AS (SELECT k.member_id, MIN({SOURCE}) AS source FROM cohort k "
        "JOIN counted o ON o.member_id = k.member_id AND o.paid_at = k.first_at "
        "GROUP BY k.member_id) "
        "SELECT l.source, COUNT(*) AS members, SUM(s.gmv) AS gmv FROM labelled l "
        "JOIN spend s ON s.member_id = l.member_id GROUP BY l.source",
        *at.values,
    )
    return CohortFigures(
        sizes={as_int(r["c"]): (as_int(r["members"]), as_int(r["gmv"])) for r in sizes},
        active={(as_int(r["c"]), as_int(r["age"])): as_int(r["members"]) for r in active},
        sources={
            AcquisitionSource(r["source"]): (as_int(r["members"]), as_int(r["gmv"]))
            for r in sources
        },
    )
