"""The rules the metrics rollups and the cohorts share, as SQL over the orders other contexts
own: which orders count, what an order brought in, a member's first order, seconds paid ->
handed over."""

from __future__ import annotations

from typing import Any

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
# Another counted order of the member paid at the same instant with a smaller id: of two
# orders paid at once, one is the first (a member is new on one day, in one store).
TIED = (
    "SELECT 1 FROM customer_order t WHERE t.member_id = o.member_id AND t.paid_at = o.paid_at "
    "AND t.id < o.id AND t.status NOT IN ('CANCELLED', 'UNCLAIMED')"
)
SECONDS = {
    "postgres": "EXTRACT(EPOCH FROM e.at - o.paid_at)::float8",
    "sqlite": "(julianday(e.at) - julianday(o.paid_at)) * 86400.0",
}


def as_int(value: Any) -> int:
    return int(value or 0)
