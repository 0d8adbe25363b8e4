"""After-sales checks (domain/aftersales): what returns and refund-only requests gave back
stays within what was bought and paid, the goods received are in the stock ledger, and the
points went back with the money."""

from __future__ import annotations

from domain.aftersales.model import HOLDS_QUANTITY, REFUND_STARTED
from domain.ordering.model import PaymentKind, PaymentStatus
from infra.doctor.check import Check, Row, returned_goods_sql, sql_list, sql_value

PAID = f"kind = {sql_value(PaymentKind.PAYMENT)} AND status = {sql_value(PaymentStatus.SUCCEEDED)}"
REFUNDS = f"""
WITH lines AS (
    SELECT after_sale_id, SUM(refund_amount) AS lines_refund FROM after_sale_line
    GROUP BY after_sale_id
), per_line AS (
    SELECT l.order_line_id, SUM(l.refund_amount) AS refunded FROM after_sale_line l
    GROUP BY l.order_line_id
), per_order AS (
    SELECT order_id, SUM(refund_amount) AS refunded FROM after_sale GROUP BY order_id
), paid AS (
    SELECT order_id, SUM(amount) AS paid FROM order_payment WHERE {PAID} GROUP BY order_id
), bad AS {{materialized}}(
    SELECT o.number AS order_number, 'after-sale' AS what, a.refund_amount AS refunded,
           COALESCE(x.lines_refund, 0) AS bound, p.amount AS payment
    FROM after_sale a
    JOIN customer_order o ON o.id = a.order_id
    LEFT JOIN lines x ON x.after_sale_id = a.id
    LEFT JOIN order_payment p ON p.id = a.refund_payment_id
    WHERE a.refund_amount <> COALESCE(x.lines_refund, 0)
       OR (a.refund_payment_id IS NOT NULL AND (p.id IS NULL OR p.amount <> a.refund_amount
           OR p.order_id <> a.order_id OR p.kind <> {sql_value(PaymentKind.REFUND)}))
    UNION ALL
    SELECT o.number, 'line ' || ol.sku, r.refunded, ol.unit_price * ol.quantity, NULL
    FROM per_line r
    JOIN order_line ol ON ol.id = r.order_line_id
    JOIN customer_order o ON o.id = ol.order_id
    WHERE r.refunded > ol.unit_price * ol.quantity
    UNION ALL
    SELECT o.number, 'order', r.refunded, COALESCE(m.paid, 0), NULL
    FROM per_order r
    JOIN customer_order o ON o.id = r.order_id
    LEFT JOIN paid m ON m.order_id = r.order_id
    WHERE r.refunded > COALESCE(m.paid, 0)
)
SELECT bad.*, COUNT(*) OVER () AS violations FROM bad
ORDER BY bad.order_number, bad.what
LIMIT {{limit}}
"""


def _describe_refunds(row: Row) -> str:
    head = f"order {row['order_number']}"
    if row["what"] == "after-sale":
        return (
            f"{head}: an after-sale refunds {row['refunded']}, its lines {row['bound']}, its "
            f"refund payment {row['payment']}"
        )
    return f"{head}: after-sales refund {row['refunded']} of the {row['what']}, paid {row['bound']}"


QUANTITIES = f"""
WITH asked AS (
    SELECT l.order_line_id, a.order_id, SUM(l.quantity) AS asked
    FROM after_sale_line l JOIN after_sale a ON a.id = l.after_sale_id
    WHERE a.status IN {sql_list(HOLDS_QUANTITY)}
    GROUP BY l.order_line_id, a.order_id
), bad AS {{materialized}}(
    SELECT o.number AS order_number, ol.sku, COALESCE(ol.quantity, 0) AS bought, x.asked
    FROM asked x
    LEFT JOIN order_line ol ON ol.id = x.order_line_id AND ol.order_id = x.order_id
    LEFT JOIN customer_order o ON o.id = x.order_id
    WHERE ol.id IS NULL OR x.asked > ol.quantity
)
SELECT bad.*, COUNT(*) OVER () AS violations FROM bad
ORDER BY bad.order_number, bad.sku
LIMIT {{limit}}
"""


def _describe_quantities(row: Row) -> str:
    if row["sku"] is None:
        return f"after-sales of order {row['order_number']} name a line that is not the order's"
    return (
        f"order {row['order_number']}: after-sales ask for {row['asked']} of {row['sku']}, "
        f"{row['bought']} bought"
    )


STOCK = returned_goods_sql(
    """
    SELECT 'after-sale:' || CAST(after_sale_id AS TEXT) AS reference,
           SUM(received + damaged) AS received, SUM(damaged) AS damaged
    FROM after_sale_line GROUP BY after_sale_id""",
    "after-sale:",
)


def _describe_stock(row: Row) -> str:
    return (
        f"{row['reference']}: received {row['received']} ({row['damaged']} damaged), the stock "
        f"ledger returned {row['returned']} and wrote off {row['written_off']}"
    )


STARTED = sql_list(REFUND_STARTED)
POINTS = f"""
WITH refunds AS (
    SELECT a.id, a.order_id, a.refund_amount, SUM(l.points_returned) AS points,
           'order:' || CAST(a.order_id AS TEXT) AS owner,
           ':after-sale:' || CAST(a.id AS TEXT) AS suffix
    FROM after_sale a JOIN after_sale_line l ON l.after_sale_id = a.id
    WHERE a.status IN {STARTED} AND a.member_id IS NOT NULL
    GROUP BY a.id, a.order_id, a.refund_amount
), expected AS (
    SELECT r.id, o.number AS order_number, r.points AS returned,
           COALESCE(g.amount * (CASE WHEN r.refund_amount < o.total - o.points_discount
                                     THEN r.refund_amount ELSE o.total - o.points_discount END)
                    / NULLIF(o.total - o.points_discount, 0), 0) AS reversed,
           COALESCE(back.amount, 0) AS returned_entry, COALESCE(-taken.amount, 0) AS reversed_entry
    FROM refunds r
    JOIN customer_order o ON o.id = r.order_id
    LEFT JOIN points_entry g ON g.idempotency_key = 'earn:' || r.owner
    LEFT JOIN points_entry back
           ON back.idempotency_key = 'return-redeemed:' || r.owner || r.suffix
    LEFT JOIN points_entry taken
           ON taken.idempotency_key = 'reverse-earn:' || r.owner || r.suffix
), bad AS {{materialized}}(
    SELECT * FROM expected
    WHERE returned <> returned_entry OR reversed <> reversed_entry
)
SELECT bad.*, COUNT(*) OVER () AS violations FROM bad
ORDER BY bad.order_number, bad.id
LIMIT {{limit}}
"""


def _describe_points(row: Row) -> str:
    return (
        f"order {row['order_number']}: an after-sale returns {row['returned']} redeemed points "
        f"(ledger: {row['returned_entry']}) and takes back {row['reversed']} earned "
        f"(ledger: {row['reversed_entry']})"
    )


CHECKS = (
    Check(
        "after_sale_refunds",
        "an after-sale refunds what its lines do, through a refund of its order of that "
        "amount; after-sales refund at most a line's total and the order's payments",
        REFUNDS,
        _describe_refunds,
    ),
    Check(
        "after_sale_quantities",
        "after-sales not rejected ask for lines of their own order, at most what was bought",
        QUANTITIES,
        _describe_quantities,
    ),
    Check(
        "after_sale_stock",
        "goods received back are in the stock ledger under the after-sale: RETURN in, "
        "the damaged written off (ADJUSTMENT out)",
        STOCK,
        _describe_stock,
    ),
    Check(
        "after_sale_points",
        "a refunding after-sale returned its lines' redeemed points and took back the earned "
        "points in proportion to the money (reverse_for_refund)",
        POINTS,
        _describe_points,
    ),
)
