"""The money check the books cannot do alone: every difference a reconciliation found between
a provider's bill and our payments (domain/ordering/reconcile.py) is resolved, with a note."""

from __future__ import annotations

from infra.doctor.check import Check, Row

UNRESOLVED_DIFFERENCES = """
WITH bad AS {materialized}(
    SELECT r.provider, r.day, d.kind, d.reference, d.order_number,
           d.our_amount, d.their_amount, d.our_state, d.their_state
    FROM reconciliation_difference d
    JOIN reconciliation_run r ON r.id = d.run_id
    WHERE d.resolved_at IS NULL
)
SELECT bad.*, COUNT(*) OVER () AS violations FROM bad
ORDER BY bad.day, bad.provider, bad.kind, bad.reference
LIMIT {limit}
"""


def _side(amount: int | None, state: str | None) -> str:
    return "nothing" if amount is None and state is None else f"{state} {amount}"


def _describe(row: Row) -> str:
    order = f"order {row['order_number']}" if row["order_number"] else "no order of ours"
    return (
        f"{row['provider']} {row['day']}: {row['kind']} {row['reference']} ({order}): "
        f"ours {_side(row['our_amount'], row['our_state'])}, "
        f"theirs {_side(row['their_amount'], row['their_state'])}"
    )


CHECKS = (
    Check(
        "reconciliation",
        "every difference between a provider's daily bill and our payments and refunds "
        "(omnishelf reconcile) is resolved with a note (resolveReconciliationDifference)",
        UNRESOLVED_DIFFERENCES,
        _describe,
    ),
)
