"""Promotions checks (domain/promotions): a flash sale's counter is what its orders took, each
member's count is what their orders took, and only orders that hold the sale's price keep a
take (a cancellation or a payment timeout gives it back)."""

from __future__ import annotations

from domain.ordering.model import OrderStatus
from infra.doctor.check import Check, Row, sql_list

GAVE_BACK = (OrderStatus.CANCELLED, OrderStatus.UNCLAIMED)

UNITS = """
WITH per_sale AS (
    SELECT flash_sale_id, SUM(quantity) AS taken FROM flash_sale_order GROUP BY flash_sale_id
), per_member AS (
    SELECT flash_sale_id, member_id, SUM(quantity) AS taken FROM flash_sale_order
    GROUP BY flash_sale_id, member_id
), bad AS {materialized}(
    SELECT s.id AS sale_id, v.code AS variant_code, 'the sale' AS who, s.units_sold AS counted,
           COALESCE(t.taken, 0) AS taken, s.units_offered AS offered
    FROM flash_sale s
    LEFT JOIN per_sale t ON t.flash_sale_id = s.id
    LEFT JOIN variant v ON v.id = s.variant_id
    WHERE s.units_sold <> COALESCE(t.taken, 0) OR s.units_sold > s.units_offered
    UNION ALL
    SELECT b.flash_sale_id, v.code, 'member ' || CAST(b.member_id AS TEXT), b.bought,
           COALESCE(t.taken, 0), NULL
    FROM flash_sale_buyer b
    LEFT JOIN per_member t ON t.flash_sale_id = b.flash_sale_id AND t.member_id = b.member_id
    LEFT JOIN flash_sale s ON s.id = b.flash_sale_id
    LEFT JOIN variant v ON v.id = s.variant_id
    WHERE b.bought <> COALESCE(t.taken, 0)
)
SELECT bad.*, COUNT(*) OVER () AS violations FROM bad
ORDER BY bad.sale_id, bad.who
LIMIT {limit}
"""


def _describe_units(row: Row) -> str:
    offered = f" of {row['offered']} offered" if row["offered"] is not None else ""
    return (
        f"flash sale of {row['variant_code'] or row['sale_id']}: {row['who']} counts "
        f"{row['counted']}{offered}, its orders took {row['taken']}"
    )


ORDERS = f"""
WITH bad AS {{materialized}}(
    SELECT t.order_id, o.number AS order_number, o.status, v.code AS variant_code, t.quantity
    FROM flash_sale_order t
    LEFT JOIN customer_order o ON o.id = t.order_id
    LEFT JOIN flash_sale s ON s.id = t.flash_sale_id
    LEFT JOIN variant v ON v.id = s.variant_id
    WHERE o.id IS NULL OR o.status IN {sql_list(GAVE_BACK)}
)
SELECT bad.*, COUNT(*) OVER () AS violations FROM bad
ORDER BY bad.order_id
LIMIT {{limit}}
"""


def _describe_orders(row: Row) -> str:
    if row["order_number"] is None:
        return f"a flash-sale take of {row['quantity']} names order {row['order_id']}, unknown"
    return (
        f"order {row['order_number']} ({row['status']}) still holds {row['quantity']} of the "
        f"flash sale of {row['variant_code']}"
    )


CHECKS = (
    Check(
        "flash_sale_units",
        "a flash sale's units sold are what its orders took, never more than offered; each "
        "member's count is what their orders took",
        UNITS,
        _describe_units,
    ),
    Check(
        "flash_sale_orders",
        "only orders that hold a flash sale's price keep its units: a cancelled or unclaimed "
        "order gave them back",
        ORDERS,
        _describe_orders,
    ),
)
