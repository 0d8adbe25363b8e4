"""Coupon checks (domain/promotions/coupons.py): the template's counter is the coupons it
issued and never above its quantity, a member's claimed coupons stay within the template's
limit, a used coupon's order was paid."""

from __future__ import annotations

from domain.promotions.coupons_model import CouponStatus
from infra.doctor.check import WAS_PAID, Check, Row, sql_list, sql_value

ISSUED = """
WITH counted AS (
    SELECT template_id, COUNT(*) AS coupons FROM coupon GROUP BY template_id
), bad AS {materialized}(
    SELECT t.id, t.name, t.issued, t.total_quantity, COALESCE(c.coupons, 0) AS coupons
    FROM coupon_template t LEFT JOIN counted c ON c.template_id = t.id
    WHERE t.issued <> COALESCE(c.coupons, 0) OR t.issued > t.total_quantity
)
SELECT bad.*, COUNT(*) OVER () AS violations FROM bad ORDER BY bad.name, bad.id LIMIT {limit}
"""

LIMITS = """
WITH claimed AS (
    SELECT template_id, member_id, COUNT(*) AS coupons, MAX(slot) AS top FROM coupon
    WHERE slot IS NOT NULL GROUP BY template_id, member_id
), bad AS {materialized}(
    SELECT t.name, c.member_id, c.coupons, c.top, t.per_member_limit
    FROM claimed c JOIN coupon_template t ON t.id = c.template_id
    WHERE c.coupons > t.per_member_limit OR c.top > t.per_member_limit
)
SELECT bad.*, COUNT(*) OVER () AS violations FROM bad
ORDER BY bad.name, bad.member_id LIMIT {limit}
"""

ORDERS = f"""
WITH bad AS {{materialized}}(
    SELECT c.id, c.order_id, o.number AS order_number, o.status AS order_status
    FROM coupon c LEFT JOIN customer_order o ON o.id = c.order_id
    WHERE c.status = {sql_value(CouponStatus.USED)}
      AND (o.id IS NULL OR o.status NOT IN {sql_list(WAS_PAID)})
)
SELECT bad.*, COUNT(*) OVER () AS violations FROM bad ORDER BY bad.id LIMIT {{limit}}
"""

# Every order holding or having used coupons shows on its lines exactly what they took off.
HELD_OR_USED = sql_list([CouponStatus.HELD, CouponStatus.USED])
DISCOUNTS = f"""
WITH given AS (
    SELECT order_id, SUM(discount) AS coupons, COUNT(*) AS coupon_count FROM coupon
    WHERE status IN {HELD_OR_USED} AND order_id IS NOT NULL GROUP BY order_id
), taken AS (
    SELECT order_id, SUM(coupon_discount) AS lines FROM order_line GROUP BY order_id
), bad AS {{materialized}}(
    SELECT g.order_id, o.number AS order_number, g.coupons, g.coupon_count,
           COALESCE(t.lines, 0) AS lines
    FROM given g LEFT JOIN customer_order o ON o.id = g.order_id
    LEFT JOIN taken t ON t.order_id = g.order_id
    WHERE COALESCE(t.lines, 0) <> g.coupons
)
SELECT bad.*, COUNT(*) OVER () AS violations FROM bad ORDER BY bad.order_id LIMIT {{limit}}
"""


def _describe_issued(row: Row) -> str:
    return (
        f"coupon template {row['name']}: issued {row['issued']} of {row['total_quantity']}, "
        f"{row['coupons']} coupons exist"
    )


def _describe_limits(row: Row) -> str:
    return (
        f"coupon template {row['name']}: member {row['member_id']} claimed {row['coupons']} "
        f"(slot up to {row['top']}), the limit is {row['per_member_limit']}"
    )


def _describe_orders(row: Row) -> str:
    order = row["order_number"] or f"{row['order_id']} (missing)"
    return f"coupon {row['id']} is USED by order {order}, which was never paid"


def _describe_discounts(row: Row) -> str:
    order = row["order_number"] or f"{row['order_id']} (missing)"
    return (
        f"order {order}: its {row['coupon_count']} coupon(s) took off {row['coupons']}, "
        f"its lines show {row['lines']}"
    )


CHECKS = (
    Check(
        "coupon_issued",
        "a coupon template's `issued` counts its coupons and never passes its quantity",
        ISSUED,
        _describe_issued,
    ),
    Check(
        "coupon_member_limits",
        "a member's claimed and redeemed coupons of a template stay within its per-member limit",
        LIMITS,
        _describe_limits,
    ),
    Check(
        "coupon_orders",
        "a USED coupon names one order, and that order was paid",
        ORDERS,
        _describe_orders,
    ),
    Check(
        "coupon_discounts",
        "what an order's coupons took off is what its lines show as coupon discounts",
        DISCOUNTS,
        _describe_discounts,
    ),
)
