"""Review checks (domain/aftersales/reviews.py): a review is of a handed-over line of its own
order, once per line, with 1-5 stars and a status moderation knows."""

from __future__ import annotations

from domain.aftersales.review_model import HANDED_OVER, MAX_RATING, MIN_RATING, ReviewStatus
from infra.doctor.check import Check, Row, sql_list

REVIEWS = f"""
WITH twice AS (
    SELECT order_line_id, COUNT(*) AS reviews FROM review
    GROUP BY order_line_id HAVING COUNT(*) > 1
), bad AS {{materialized}}(
    SELECT o.number AS order_number, r.order_id, ol.sku, r.rating, r.status,
           o.status AS order_status, 1 AS reviews
    FROM review r
    LEFT JOIN order_line ol ON ol.id = r.order_line_id AND ol.order_id = r.order_id
    LEFT JOIN customer_order o ON o.id = r.order_id
    WHERE ol.id IS NULL OR o.id IS NULL
       OR r.rating < {MIN_RATING} OR r.rating > {MAX_RATING}
       OR r.status NOT IN {sql_list(ReviewStatus)}
       OR o.status NOT IN {sql_list(HANDED_OVER)}
    UNION ALL
    SELECT o.number, ol.order_id, ol.sku, NULL, NULL, o.status, t.reviews
    FROM twice t
    LEFT JOIN order_line ol ON ol.id = t.order_line_id
    LEFT JOIN customer_order o ON o.id = ol.order_id
)
SELECT bad.*, COUNT(*) OVER () AS violations FROM bad
ORDER BY bad.order_number, bad.sku
LIMIT {{limit}}
"""


def _describe(row: Row) -> str:
    if row["sku"] is None:
        order = row["order_number"] or row["order_id"]
        return f"a review of order {order} names a line that is not the order's"
    head = f"the review of order {row['order_number']}'s line {row['sku']}"
    if row["reviews"] > 1:
        return f"order {row['order_number']}'s line {row['sku']} has {row['reviews']} reviews"
    problems = []
    if not MIN_RATING <= row["rating"] <= MAX_RATING:
        problems.append(f"{row['rating']} stars ({MIN_RATING}-{MAX_RATING})")
    if row["status"] not in set(ReviewStatus):
        problems.append(f"status {row['status']}")
    if row["order_status"] not in set(HANDED_OVER):
        problems.append(f"the order is {row['order_status']}, not handed over")
    return f"{head}: {', '.join(problems)}"


CHECKS = (
    Check(
        "reviews",
        "a review is of a handed-over line of its own order, one per line, with 1-5 stars and "
        "a known status",
        REVIEWS,
        _describe,
    ),
)
