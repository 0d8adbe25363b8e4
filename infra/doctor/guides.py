"""Shopping-guide checks (domain/growth/guides.py): an attributed order is the order of the
member it is attributed for."""

from __future__ import annotations

from infra.doctor.check import Check, Row

# An order is attributed at checkout to the guide of the member who placed it; a merge moves
# both the order and its attribution to the survivor, so the two members always agree.
ORDERS = """
WITH bad AS {materialized}(
    SELECT g.order_id, g.member_id AS attributed_to, o.number, o.member_id AS placed_by
    FROM guide_order g LEFT JOIN customer_order o ON o.id = g.order_id
    WHERE o.id IS NULL OR o.member_id IS NULL OR o.member_id <> g.member_id
)
SELECT bad.*, COUNT(*) OVER () AS violations FROM bad ORDER BY bad.order_id LIMIT {limit}
"""


def _describe_orders(row: Row) -> str:
    if row["number"] is None:
        return f"order id {row['order_id']} is attributed to a guide but does not exist"
    return (
        f"order {row['number']}: attributed for member {row['attributed_to']}, "
        f"placed by {row['placed_by']}"
    )


CHECKS = (
    Check(
        "guide_orders",
        "an order attributed to a shopping guide exists and is the order of the member it is "
        "attributed for",
        ORDERS,
        _describe_orders,
    ),
)
