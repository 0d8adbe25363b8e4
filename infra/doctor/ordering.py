"""Order checks: totals, money, pickup codes and the points an order redeemed."""

from __future__ import annotations

from domain.loyalty.model import HoldState
from domain.ordering.model import REFUND_OWED, OrderStatus, PaymentKind, PaymentStatus
from infra.doctor.check import (
    KEEPS_MONEY,
    ORDER_OWNER,
    WAS_PAID,
    Check,
    Row,
    sql_list,
    sql_value,
)

ORDER_TOTALS = """
WITH lines AS (
    SELECT order_id, SUM(unit_price * quantity - coupon_discount) AS lines_total,
           COUNT(*) AS lines,
           SUM(CASE WHEN unit_price > list_price THEN 1 ELSE 0 END) AS above_list,
           SUM(CASE WHEN coupon_discount < 0 OR coupon_discount > unit_price * quantity
               THEN 1 ELSE 0 END) AS bad_coupon
    FROM order_line GROUP BY order_id
), bad AS {materialized}(
    SELECT o.number AS order_number, o.status AS order_status, o.total AS order_total,
           o.points_discount, COALESCE(x.lines_total, 0) AS lines_total,
           COALESCE(x.lines, 0) AS lines, COALESCE(x.above_list, 0) AS above_list,
           COALESCE(x.bad_coupon, 0) AS bad_coupon
    FROM customer_order o LEFT JOIN lines x ON x.order_id = o.id
    WHERE x.order_id IS NULL OR o.total <> x.lines_total
       OR o.points_discount < 0 OR o.points_discount > o.total OR x.above_list > 0
       OR x.bad_coupon > 0
)
SELECT bad.*, COUNT(*) OVER () AS violations FROM bad
ORDER BY bad.order_number
LIMIT {limit}
"""


def _describe_totals(row: Row) -> str:
    head = f"order {row['order_number']} ({row['order_status']})"
    if not row["lines"]:
        return f"{head} has no lines"
    if row["order_total"] != row["lines_total"]:
        return (
            f"{head}: total {row['order_total']}, its lines sum to {row['lines_total']} "
            "after their coupon discounts"
        )
    if row["bad_coupon"]:
        return f"{head}: {row['bad_coupon']} line(s) with a coupon discount outside 0..the line"
    if row["above_list"]:
        return f"{head}: {row['above_list']} line(s) charged above their list price"
    return f"{head}: points paid {row['points_discount']} of a total of {row['order_total']}"


SUCCEEDED = (
    f"kind = {sql_value(PaymentKind.PAYMENT)} AND status = {sql_value(PaymentStatus.SUCCEEDED)}"
)
# A failed refund gave nothing back: the order shows here until CS refunds it again.
REFUNDED = f"kind = {sql_value(PaymentKind.REFUND)} AND status IN {sql_list(REFUND_OWED)}"
ORDER_PAYMENTS = f"""
WITH money AS (
    SELECT order_id,
           SUM(CASE WHEN {SUCCEEDED} THEN 1 ELSE 0 END) AS payments,
           SUM(CASE WHEN {SUCCEEDED} THEN amount ELSE 0 END) AS paid,
           SUM(CASE WHEN {REFUNDED} THEN amount ELSE 0 END) AS refunded
    FROM order_payment GROUP BY order_id
), orders AS (
    SELECT o.number AS order_number, o.status AS order_status, o.paid_at,
           o.total - o.points_discount AS due,
           COALESCE(m.payments, 0) AS payments, COALESCE(m.paid, 0) AS paid,
           COALESCE(m.refunded, 0) AS refunded,
           CASE WHEN o.status IN {sql_list(KEEPS_MONEY)} THEN o.total - o.points_discount ELSE 0 END
               AS should_keep
    FROM customer_order o LEFT JOIN money m ON m.order_id = o.id
), bad AS {{materialized}}(
    SELECT order_number, order_status, due, payments, paid, refunded, should_keep,
           CASE WHEN order_status IN {sql_list(WAS_PAID)} OR paid_at IS NOT NULL THEN 1 ELSE 0 END
               AS was_paid
    FROM orders
    WHERE ((order_status IN {sql_list(WAS_PAID)} OR paid_at IS NOT NULL)
           AND (payments = 0 OR paid < due))
       OR paid - refunded > should_keep OR paid < refunded
       OR (should_keep = 0 AND paid <> refunded)
)
SELECT bad.*, COUNT(*) OVER () AS violations FROM bad
ORDER BY bad.order_number
LIMIT {{limit}}
"""


def _describe_payments(row: Row) -> str:
    head = f"order {row['order_number']} ({row['order_status']}, amount due {row['due']})"
    if row["was_paid"] and (not row["payments"] or row["paid"] < row["due"]):
        if not row["payments"]:
            return f"{head} was paid but has no successful payment"
        return f"{head} was paid but its successful payments sum to {row['paid']}"
    return (
        f"{head} keeps {row['paid'] - row['refunded']} (paid {row['paid']}, refunded "
        f"{row['refunded']}); it should keep {row['should_keep']}"
    )


PICKUP_CODES = f"""
WITH bad AS {{materialized}}(
    SELECT o.id AS order_id, o.number AS order_number, o.status AS order_status,
           o.location_id AS order_location_id, c.location_id AS code_location_id
    FROM customer_order o LEFT JOIN pickup_code c ON c.order_id = o.id
    WHERE o.status = {sql_value(OrderStatus.READY_FOR_PICKUP)}
      AND (c.id IS NULL OR c.location_id <> o.location_id)
    UNION ALL
    SELECT c.order_id, o.number, o.status, o.location_id, c.location_id
    FROM pickup_code c LEFT JOIN customer_order o ON o.id = c.order_id
    WHERE o.id IS NULL OR o.status <> {sql_value(OrderStatus.READY_FOR_PICKUP)}
)
SELECT bad.*, ol.code AS order_location_code, cl.code AS code_location_code,
       COUNT(*) OVER () AS violations
FROM bad
LEFT JOIN location ol ON ol.id = bad.order_location_id
LEFT JOIN location cl ON cl.id = bad.code_location_id
ORDER BY bad.order_number, bad.order_id
LIMIT {{limit}}
"""


def _describe_pickup(row: Row) -> str:
    code_at = row.get("code_location_code") or row["code_location_id"]
    if row["order_number"] is None:
        return (
            f"a pickup code at {code_at} belongs to order {row['order_id']}, which does not exist"
        )
    head = f"order {row['order_number']} ({row['order_status']})"
    if row["code_location_id"] is None:
        return f"{head} has no pickup code"
    if row["order_status"] != OrderStatus.READY_FOR_PICKUP.value:
        return f"{head} still has an open pickup code at {code_at}"
    store = row.get("order_location_code") or row["order_location_id"]
    return f"{head} is collected at {store} but its pickup code is for {code_at}"


ORDER_POINTS = f"""
WITH expected AS (
    SELECT o.number, o.status, o.points_redeemed, {ORDER_OWNER} AS owner,
           CASE WHEN o.status = {sql_value(OrderStatus.PENDING_PAYMENT)}
                    THEN {sql_value(HoldState.OPEN)}
                WHEN o.status IN {sql_list(KEEPS_MONEY)} THEN {sql_value(HoldState.POSTED)}
                WHEN o.status = {sql_value(OrderStatus.CANCELLED)} AND o.paid_at IS NULL
                    THEN {sql_value(HoldState.RELEASED)}
                ELSE {sql_value(HoldState.REVERSED)} END AS expected_state
    FROM customer_order o WHERE o.points_redeemed <> 0
), bad AS {{materialized}}(
    SELECT e.number AS order_number, e.status AS order_status, e.points_redeemed,
           e.expected_state, h.state AS hold_state, h.amount AS hold_amount, e.owner
    FROM expected e LEFT JOIN points_hold h ON h.owner = e.owner
    WHERE h.id IS NULL OR h.amount <> e.points_redeemed OR h.state <> e.expected_state
    UNION ALL
    SELECT o.number, o.status, o.points_redeemed, NULL, h.state, h.amount, h.owner
    FROM points_hold h LEFT JOIN customer_order o ON {{h_order}}
    WHERE h.owner LIKE 'order:%' AND (o.id IS NULL OR o.points_redeemed = 0)
)
SELECT bad.*, COUNT(*) OVER () AS violations FROM bad
ORDER BY bad.order_number, bad.owner
LIMIT {{limit}}
"""


def _describe_points(row: Row) -> str:
    if row["order_number"] is None:
        return f"points hold {row['owner']} ({row['hold_state']}) has no order"
    head = f"order {row['order_number']} ({row['order_status']})"
    if row["expected_state"] is None:
        return (
            f"{head} redeemed no points but has a {row['hold_state']} hold of {row['hold_amount']}"
        )
    if row["hold_state"] is None:
        return f"{head} redeemed {row['points_redeemed']} points but has no points hold"
    return (
        f"{head} redeemed {row['points_redeemed']} points; its hold is {row['hold_state']} "
        f"{row['hold_amount']}, expected {row['expected_state']} {row['points_redeemed']}"
    )


CHECKS = (
    Check(
        "order_totals",
        "each order has lines, its total is their sum after their coupon discounts (each "
        "within its line), no line is charged above its list price (a member price only "
        "takes off), and points paid at most the total",
        ORDER_TOTALS,
        _describe_totals,
    ),
    Check(
        "order_payments",
        "a paid order has a successful payment of its amount due; payments less refunds "
        "(all but failed ones) are at most the amount due while the order keeps the money "
        "(less after a partial refund), 0 otherwise",
        ORDER_PAYMENTS,
        _describe_payments,
    ),
    Check(
        "pickup_codes",
        "an order READY_FOR_PICKUP has one pickup code at its store, and no other order has one",
        PICKUP_CODES,
        _describe_pickup,
    ),
    Check(
        "order_points",
        "an order's points hold matches it: OPEN unpaid, POSTED paid, RELEASED or REVERSED "
        "cancelled, of the points it redeemed",
        ORDER_POINTS,
        _describe_points,
    ),
)
