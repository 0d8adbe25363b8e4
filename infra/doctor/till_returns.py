"""Till return checks (domain/inventory/till_returns.py): no till sale line takes back more
than was sold, or gives back more than it was paid in money, and the goods returned at the
till are in the stock ledger."""

from __future__ import annotations

from domain.aftersales.model import Condition
from infra.doctor.check import Check, Row, returned_goods_sql, sql_value

QUANTITIES = """
WITH returned AS (
    SELECT r.sale_id, l.variant_id, SUM(l.quantity) AS units, SUM(l.refund_amount) AS refunded
    FROM pos_return_line l JOIN pos_return r ON r.id = l.return_id
    GROUP BY r.sale_id, l.variant_id
), totals AS (
    SELECT return_id, SUM(refund_amount) AS refunded FROM pos_return_line GROUP BY return_id
), bad AS {materialized}(
    SELECT t.transaction_id, CAST(s.variant_id AS TEXT) AS what, s.quantity AS sold,
           s.returned AS counted, COALESCE(x.units, 0) AS returned,
           COALESCE(x.refunded, 0) AS refunded, s.charged - s.points_value AS paid
    FROM pos_sale_line s
    JOIN pos_transaction t ON t.id = s.sale_id
    LEFT JOIN returned x ON x.sale_id = s.sale_id AND x.variant_id = s.variant_id
    WHERE s.returned > s.quantity OR s.returned <> COALESCE(x.units, 0)
       OR COALESCE(x.refunded, 0) > s.charged - s.points_value
    UNION ALL
    SELECT t.transaction_id, CAST(x.variant_id AS TEXT), 0, 0, x.units, x.refunded, 0
    FROM returned x
    LEFT JOIN pos_sale_line s ON s.sale_id = x.sale_id AND s.variant_id = x.variant_id
    LEFT JOIN pos_transaction t ON t.id = x.sale_id
    WHERE s.id IS NULL
    UNION ALL
    SELECT r.transaction_id, 'return ' || CAST(r.id AS TEXT), 0, 0, 0, r.refund_amount,
           COALESCE(y.refunded, 0)
    FROM pos_return r LEFT JOIN totals y ON y.return_id = r.id
    WHERE r.refund_amount <> COALESCE(y.refunded, 0)
)
SELECT bad.*, COUNT(*) OVER () AS violations FROM bad
ORDER BY bad.transaction_id, bad.what
LIMIT {limit}
"""


def _describe_quantities(row: Row) -> str:
    sale = f"till sale {row['transaction_id']}"
    if str(row["what"]).startswith("return "):
        return f"{sale}: {row['what']} pays back {row['refunded']}, its lines {row['paid']}"
    if not row["sold"]:
        return f"{sale}: returns of variant {row['what']}, which the sale has no line of"
    return (
        f"{sale}, variant {row['what']}: {row['sold']} sold, {row['counted']} counted as "
        f"returned, {row['returned']} in returns paying back {row['refunded']} of "
        f"{row['paid']} paid in money"
    )


DAMAGED = sql_value(Condition.DAMAGED)
STOCK = returned_goods_sql(
    f"""
    SELECT 'pos-return:' || CAST(return_id AS TEXT) AS reference, SUM(quantity) AS received,
           SUM(CASE WHEN condition = {DAMAGED} THEN quantity ELSE 0 END) AS damaged
    FROM pos_return_line GROUP BY return_id""",
    "pos-return:",
)


def _describe_stock(row: Row) -> str:
    return (
        f"{row['reference']}: {row['received']} units returned at the till "
        f"({row['damaged']} damaged), the stock ledger returned {row['returned']} and wrote "
        f"off {row['written_off']}"
    )


CHECKS = (
    Check(
        "till_return_units",
        "till returns take back at most what each till sale line sold (its `returned` counts "
        "them) and pay back at most what it was paid in money; a return pays what its lines do",
        QUANTITIES,
        _describe_quantities,
    ),
    Check(
        "till_return_stock",
        "goods returned at the till are in the stock ledger under the return: RETURN in, the "
        "damaged written off (ADJUSTMENT out)",
        STOCK,
        _describe_stock,
    ),
)
