"""Engagement's metrics read model: `metrics` from the daily rollups (`MetricsRollups`, which
the job builds), monthly cohorts by SQL aggregates over the orders, payments, referrals and
group-buy seats that other contexts own (read here, never written). The cohorts' months travel
as one `VALUES` list; they are three statements over the counted orders: cohort sizes and money,
who bought again in which later month, acquisition sources."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from domain.engagement.metrics_cohorts_model import AGES, AcquisitionSource, CohortFigures
from domain.engagement.metrics_model import Scope, Window
from domain.engagement.metrics_ports import MetricsReadModel
from infra.db import sql
from infra.repositories.metrics_rollups import MetricsRollups
from infra.repositories.metrics_sql import COUNTED, NET, as_int


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


class SqlMetricsReadModel(MetricsRollups, MetricsReadModel):
    async def cohorts(
        self, months: Sequence[Window], cohorts: int, store_id: UUID | None
    ) -> CohortFigures:
        return await _cohorts(months, cohorts, store_id)


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
