"""Stock checks: levels against their movement ledger and their reservations, and
reservations against the orders that own them.
"""

from __future__ import annotations

from domain.inventory.model import HOLDING
from domain.ordering.model import HOLDS_STOCK
from infra.doctor.check import (
    LEVEL_CODES,
    ORDER_OWNER,
    Check,
    Row,
    level_name,
    sql_list,
)

STOCK_LEDGER = f"""
WITH ledger AS (
    SELECT location_id, variant_id, SUM(on_hand_delta) AS on_hand,
           SUM(reserved_delta) AS reserved
    FROM stock_movement GROUP BY location_id, variant_id
), bad AS {{materialized}}(
    SELECT l.location_id, l.variant_id, l.on_hand, l.reserved,
           COALESCE(g.on_hand, 0) AS ledger_on_hand, COALESCE(g.reserved, 0) AS ledger_reserved
    FROM stock_level l
    LEFT JOIN ledger g ON g.location_id = l.location_id AND g.variant_id = l.variant_id
    WHERE l.on_hand <> COALESCE(g.on_hand, 0) OR l.reserved <> COALESCE(g.reserved, 0)
    UNION ALL
    SELECT g.location_id, g.variant_id, NULL, NULL, g.on_hand, g.reserved
    FROM ledger g
    WHERE NOT EXISTS (SELECT 1 FROM stock_level l
                      WHERE l.location_id = g.location_id AND l.variant_id = g.variant_id)
)
SELECT bad.*, loc.code AS location_code, v.code AS variant_code, COUNT(*) OVER () AS violations
FROM bad {LEVEL_CODES}
ORDER BY location_code, variant_code, bad.location_id, bad.variant_id
LIMIT {{limit}}
"""


def _describe_ledger(row: Row) -> str:
    if row["on_hand"] is None:
        return (
            f"stock level {level_name(row)} is missing: its ledger sums to on_hand "
            f"{row['ledger_on_hand']}, reserved {row['ledger_reserved']}"
        )
    parts = []
    if row["on_hand"] != row["ledger_on_hand"]:
        parts.append(f"on_hand {row['on_hand']}, ledger sums to {row['ledger_on_hand']}")
    if row["reserved"] != row["ledger_reserved"]:
        parts.append(f"reserved {row['reserved']}, ledger sums to {row['ledger_reserved']}")
    return f"stock level {level_name(row)}: " + "; ".join(parts)


STOCK_RESERVED = f"""
WITH held AS (
    SELECT location_id, variant_id, SUM(quantity) AS quantity
    FROM stock_reservation WHERE state IN {sql_list(HOLDING)}
    GROUP BY location_id, variant_id
), bad AS {{materialized}}(
    SELECT l.location_id, l.variant_id, l.reserved, COALESCE(h.quantity, 0) AS held
    FROM stock_level l
    LEFT JOIN held h ON h.location_id = l.location_id AND h.variant_id = l.variant_id
    WHERE l.reserved <> COALESCE(h.quantity, 0)
    UNION ALL
    SELECT h.location_id, h.variant_id, NULL, h.quantity
    FROM held h
    WHERE NOT EXISTS (SELECT 1 FROM stock_level l
                      WHERE l.location_id = h.location_id AND l.variant_id = h.variant_id)
)
SELECT bad.*, loc.code AS location_code, v.code AS variant_code, COUNT(*) OVER () AS violations
FROM bad {LEVEL_CODES}
ORDER BY location_code, variant_code, bad.location_id, bad.variant_id
LIMIT {{limit}}
"""


def _describe_reserved(row: Row) -> str:
    if row["reserved"] is None:
        return f"stock level {level_name(row)} is missing: {row['held']} units are reserved there"
    return (
        f"stock level {level_name(row)}: reserved {row['reserved']}, "
        f"ACTIVE/AT_RISK reservations sum to {row['held']}"
    )


FINISHED_RESERVATIONS = f"""
WITH bad AS {{materialized}}(
    SELECT r.id AS reservation_id, r.owner, r.state, r.location_id, r.variant_id, r.quantity,
           o.number AS order_number, o.status AS order_status
    FROM stock_reservation r
    LEFT JOIN customer_order o ON {{r_order}}
    WHERE r.state IN {sql_list(HOLDING)} AND r.owner LIKE 'order:%'
      AND (o.id IS NULL OR o.status NOT IN {sql_list(HOLDS_STOCK)})
)
SELECT bad.*, loc.code AS location_code, v.code AS variant_code, COUNT(*) OVER () AS violations
FROM bad {LEVEL_CODES}
ORDER BY bad.owner, variant_code, bad.reservation_id
LIMIT {{limit}}
"""


def _describe_finished(row: Row) -> str:
    held = f"{row['state']} reservation of {row['quantity']} at {level_name(row)}"
    if row["order_number"] is None:
        return f"{held} belongs to {row['owner']}, which does not exist"
    return f"{held} belongs to order {row['order_number']}, which is {row['order_status']}"


OPEN_RESERVATIONS = f"""
WITH bad AS {{materialized}}(
    SELECT o.number AS order_number, o.status AS order_status, o.location_id, x.variant_id,
           x.sku, x.quantity, r.location_id AS held_location_id, r.quantity AS held_quantity
    FROM customer_order o
    JOIN order_line x ON x.order_id = o.id
    LEFT JOIN stock_reservation r
           ON r.owner = {ORDER_OWNER} AND r.variant_id = x.variant_id
          AND r.state IN {sql_list(HOLDING)}
    WHERE o.status IN {sql_list(HOLDS_STOCK)}
      AND (r.id IS NULL OR r.location_id <> o.location_id OR r.quantity <> x.quantity)
)
SELECT bad.*, loc.code AS location_code, v.code AS variant_code,
       held.code AS held_location_code, COUNT(*) OVER () AS violations
FROM bad {LEVEL_CODES}
LEFT JOIN location held ON held.id = bad.held_location_id
ORDER BY bad.order_number, bad.sku
LIMIT {{limit}}
"""


def _describe_open(row: Row) -> str:
    head = f"order {row['order_number']} is {row['order_status']} but"
    line = f"its line {row['sku']} x {row['quantity']} at {level_name(row)}"
    if row["held_quantity"] is None:
        return f"{head} holds no ACTIVE/AT_RISK reservation for {line}"
    held_at = row.get("held_location_code") or row["held_location_id"]
    return f"{head} holds {row['held_quantity']} at {held_at} for {line}"


CHECKS = (
    Check(
        "stock_ledger",
        "each stock level's on_hand and reserved equal the sums of its movement ledger",
        STOCK_LEDGER,
        _describe_ledger,
    ),
    Check(
        "stock_reserved",
        "each stock level's reserved equals the sum of its ACTIVE and AT_RISK reservations",
        STOCK_RESERVED,
        _describe_reserved,
    ),
    Check(
        "finished_reservations",
        "no ACTIVE/AT_RISK reservation belongs to an order that no longer holds stock "
        "(or to no order)",
        FINISHED_RESERVATIONS,
        _describe_finished,
    ),
    Check(
        "open_reservations",
        "every line of an order that holds stock (PENDING_PAYMENT to READY_FOR_PICKUP) has "
        "its ACTIVE/AT_RISK reservation",
        OPEN_RESERVATIONS,
        _describe_open,
    ),
)
