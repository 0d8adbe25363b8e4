"""Points checks: every account against its entries, its lots and its open holds
(domain.loyalty.model.Account: balance = entries = lots - debt, held = open holds = lots' held).
"""

from __future__ import annotations

from domain.loyalty.model import HoldState
from infra.doctor.check import Check, Row, sql_value


def _account_check(source: str, columns: str, mismatch: str, orphan: str) -> str:
    """Accounts whose columns disagree with an aggregate per member, and aggregates of
    members without an account."""
    return f"""
WITH agg AS ({source}), bad AS {{materialized}}(
    SELECT a.member_id, a.balance, a.held, a.debt, {columns}
    FROM points_account a LEFT JOIN agg g ON g.member_id = a.member_id
    WHERE {mismatch}
    UNION ALL
    SELECT g.member_id, NULL, NULL, NULL, {orphan}
    FROM agg g
    WHERE NOT EXISTS (SELECT 1 FROM points_account a WHERE a.member_id = g.member_id)
)
SELECT bad.*, COUNT(*) OVER () AS violations FROM bad
ORDER BY bad.member_id
LIMIT {{limit}}
"""


POINTS_ENTRIES = _account_check(
    "SELECT member_id, SUM(amount) AS balance, SUM(held_change) AS held "
    "FROM points_entry GROUP BY member_id",
    "COALESCE(g.balance, 0) AS entries_balance, COALESCE(g.held, 0) AS entries_held",
    "a.balance <> COALESCE(g.balance, 0) OR a.held <> COALESCE(g.held, 0)",
    "g.balance, g.held",
)


def _describe_entries(row: Row) -> str:
    member = f"points account of member {row['member_id']}"
    if row["balance"] is None:
        return f"{member} is missing; its entries sum to {row['entries_balance']}"
    parts = []
    if row["balance"] != row["entries_balance"]:
        parts.append(f"balance {row['balance']}, entries sum to {row['entries_balance']}")
    if row["held"] != row["entries_held"]:
        parts.append(f"held {row['held']}, entries' held changes sum to {row['entries_held']}")
    return f"{member}: " + "; ".join(parts)


POINTS_LOTS = _account_check(
    "SELECT member_id, SUM(remaining + held) AS points, SUM(held) AS held "
    "FROM points_lot GROUP BY member_id",
    "COALESCE(g.points, 0) AS lot_points, COALESCE(g.held, 0) AS lot_held",
    "a.balance + a.debt <> COALESCE(g.points, 0) OR a.held <> COALESCE(g.held, 0)",
    "g.points, g.held",
)


def _describe_lots(row: Row) -> str:
    member = f"points account of member {row['member_id']}"
    if row["balance"] is None:
        return f"{member} is missing; its lots hold {row['lot_points']} points"
    parts = []
    if row["balance"] + row["debt"] != row["lot_points"]:
        parts.append(
            f"balance {row['balance']} + debt {row['debt']} = "
            f"{row['balance'] + row['debt']}, its lots hold {row['lot_points']}"
        )
    if row["held"] != row["lot_held"]:
        parts.append(f"held {row['held']}, its lots earmark {row['lot_held']}")
    return f"{member}: " + "; ".join(parts)


POINTS_HOLDS = _account_check(
    "SELECT member_id, SUM(amount) AS held FROM points_hold "
    f"WHERE state = {sql_value(HoldState.OPEN)} GROUP BY member_id",
    "COALESCE(g.held, 0) AS open_holds",
    "a.held <> COALESCE(g.held, 0)",
    "g.held",
)


def _describe_holds(row: Row) -> str:
    member = f"points account of member {row['member_id']}"
    if row["balance"] is None:
        return f"{member} is missing; its OPEN holds sum to {row['open_holds']}"
    return f"{member}: held {row['held']}, its OPEN holds sum to {row['open_holds']}"


CHECKS = (
    Check(
        "points_entries",
        "each points account's balance and held equal the sums of its ledger entries",
        POINTS_ENTRIES,
        _describe_entries,
    ),
    Check(
        "points_lots",
        "each points account's balance plus debt equals the points in its lots, and held "
        "what its lots earmark",
        POINTS_LOTS,
        _describe_lots,
    ),
    Check(
        "points_holds",
        "each points account's held equals the sum of its OPEN holds",
        POINTS_HOLDS,
        _describe_holds,
    ),
)
