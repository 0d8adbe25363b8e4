"""Group-buy checks (domain/growth/group_buys.py): no group holds more seats than its size
and its counters agree with its seats; every order of a failed group is cancelled and what was
paid for it refunded."""

from __future__ import annotations

from domain.growth.group_buys_model import GroupStatus, SeatStatus
from domain.ordering.model import REFUND_OWED, OrderStatus, PaymentKind, PaymentStatus
from infra.doctor.check import Check, Row, sql_list, sql_value

LIVE = sql_list([SeatStatus.HELD, SeatStatus.PAID])
OPEN, COMPLETED, FAILED = (sql_value(s) for s in GroupStatus)

SEATS = f"""
WITH counted AS (
    SELECT group_id,
           SUM(CASE WHEN status IN {LIVE} THEN 1 ELSE 0 END) AS live,
           SUM(CASE WHEN status = {sql_value(SeatStatus.PAID)} THEN 1 ELSE 0 END) AS paid_seats
    FROM group_buy_seat GROUP BY group_id
), bad AS {{materialized}}(
    SELECT g.id, g.status, g.size, g.seats_taken, g.paid,
           COALESCE(c.live, 0) AS live, COALESCE(c.paid_seats, 0) AS paid_seats
    FROM group_buy g LEFT JOIN counted c ON c.group_id = g.id
    WHERE g.seats_taken > g.size OR g.paid > g.seats_taken OR COALESCE(c.live, 0) > g.size
       OR (g.status = {OPEN} AND (COALESCE(c.live, 0) <> g.seats_taken
                                  OR COALESCE(c.paid_seats, 0) <> g.paid))
       OR (g.status = {COMPLETED} AND g.paid <> g.size)
)
SELECT bad.*, COUNT(*) OVER () AS violations FROM bad ORDER BY bad.id LIMIT {{limit}}
"""

SUCCEEDED = (
    f"kind = {sql_value(PaymentKind.PAYMENT)} AND status = {sql_value(PaymentStatus.SUCCEEDED)}"
)
REFUNDED = f"kind = {sql_value(PaymentKind.REFUND)} AND status IN {sql_list(REFUND_OWED)}"
FAILED_ORDERS = f"""
WITH money AS (
    SELECT order_id,
           SUM(CASE WHEN {SUCCEEDED} THEN amount ELSE 0 END) AS paid,
           SUM(CASE WHEN {REFUNDED} THEN amount ELSE 0 END) AS refunded
    FROM order_payment GROUP BY order_id
), bad AS {{materialized}}(
    SELECT s.group_id, s.order_id, o.number AS order_number, o.status AS order_status,
           COALESCE(m.paid, 0) AS paid, COALESCE(m.refunded, 0) AS refunded
    FROM group_buy_seat s JOIN group_buy g ON g.id = s.group_id
    LEFT JOIN customer_order o ON o.id = s.order_id
    LEFT JOIN money m ON m.order_id = s.order_id
    WHERE g.status = {FAILED}
      AND (o.id IS NULL OR o.status <> {sql_value(OrderStatus.CANCELLED)}
           OR COALESCE(m.refunded, 0) < COALESCE(m.paid, 0))
)
SELECT bad.*, COUNT(*) OVER () AS violations FROM bad
ORDER BY bad.group_id, bad.order_id LIMIT {{limit}}
"""


def _describe_seats(row: Row) -> str:
    return (
        f"group-buy {row['id']} ({row['status']}, size {row['size']}): {row['seats_taken']} "
        f"seats taken and {row['paid']} paid, its seats show {row['live']} held or paid and "
        f"{row['paid_seats']} paid"
    )


def _describe_failed(row: Row) -> str:
    order = row["order_number"] or f"{row['order_id']} (missing)"
    return (
        f"failed group-buy {row['group_id']}: order {order} is {row['order_status']}, "
        f"paid {row['paid']} and refunded {row['refunded']}"
    )


CHECKS = (
    Check(
        "group_buy_seats",
        "no group-buy holds more seats than its size; its counters agree with its seats",
        SEATS,
        _describe_seats,
    ),
    Check(
        "failed_group_refunds",
        "every order of a failed group-buy is cancelled and what was paid for it refunded",
        FAILED_ORDERS,
        _describe_failed,
    ),
)
