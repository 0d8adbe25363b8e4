"""Refund checks: no payment gives back more than it took, and every refund is submitted
once under its own number, or handed to the till, or on its way (domain/ordering/refunds.py)."""

from __future__ import annotations

from domain.ordering.model import REFUND_OWED, PaymentKind, PaymentStatus
from domain.ordering.refunds import IN_STORE
from infra.doctor.check import Check, Row, sql_list, sql_value

REFUND = sql_value(PaymentKind.REFUND)
REFUNDS_WITHIN_PAID = f"""
WITH owed AS (
    SELECT refund_of, SUM(amount) AS refunded
    FROM order_payment
    WHERE kind = {REFUND} AND status IN {sql_list(REFUND_OWED)} AND refund_of IS NOT NULL
    GROUP BY refund_of
), bad AS {{materialized}}(
    SELECT o.number AS order_number, p.provider_ref AS payment_ref, p.amount AS paid,
           w.refunded, NULL AS refund_ref
    FROM owed w
    JOIN order_payment p ON p.id = w.refund_of
    LEFT JOIN customer_order o ON o.id = p.order_id
    WHERE w.refunded > p.amount
    UNION ALL
    SELECT o.number, p.provider_ref, p.amount, r.amount, r.provider_ref
    FROM order_payment r
    LEFT JOIN order_payment p ON p.id = r.refund_of
    LEFT JOIN customer_order o ON o.id = r.order_id
    WHERE r.kind = {REFUND}
      AND (p.id IS NULL OR p.kind <> {sql_value(PaymentKind.PAYMENT)}
           OR p.status <> {sql_value(PaymentStatus.SUCCEEDED)}
           OR p.order_id <> r.order_id OR p.provider <> r.provider)
)
SELECT bad.*, COUNT(*) OVER () AS violations FROM bad
ORDER BY bad.order_number, bad.refund_ref
LIMIT {{limit}}
"""


def _describe_within_paid(row: Row) -> str:
    head = f"order {row['order_number']}"
    if row["refund_ref"] is None:
        return (
            f"{head}: payment {row['payment_ref']} took {row['paid']} "
            f"but its refunds give back {row['refunded']}"
        )
    return (
        f"{head}: refund {row['refund_ref']} of {row['refunded']} refunds no successful "
        "payment of its own order and provider"
    )


OPEN = (PaymentStatus.REFUND_PENDING, PaymentStatus.REFUND_SUBMITTED)
ANSWERED = (PaymentStatus.REFUND_SUBMITTED, PaymentStatus.REFUNDED, PaymentStatus.REFUND_FAILED)
# A till refund waits at the till, then the store confirms it (confirmTillRefund): never sent.
AT_TILL = (PaymentStatus.REFUND_AT_TILL, PaymentStatus.REFUNDED)
REFUND_SUBMISSIONS = f"""
WITH shared AS (
    SELECT provider_ref FROM order_payment WHERE kind = {REFUND}
    GROUP BY provider_ref HAVING COUNT(*) > 1
), bad AS {{materialized}}(
    SELECT o.number AS order_number, r.provider_ref AS refund_ref, r.provider, r.status,
           r.attempts, r.next_attempt_at,
           CASE WHEN s.provider_ref IS NOT NULL THEN 1 ELSE 0 END AS shared
    FROM order_payment r
    LEFT JOIN shared s ON s.provider_ref = r.provider_ref
    LEFT JOIN customer_order o ON o.id = r.order_id
    WHERE r.kind = {REFUND}
      AND (s.provider_ref IS NOT NULL
           OR (r.status IN {sql_list(ANSWERED)} AND r.attempts < 1
               AND r.provider <> '{IN_STORE}')
           OR (r.status = {sql_value(PaymentStatus.REFUND_AT_TILL)}
               AND (r.attempts <> 0 OR r.provider <> '{IN_STORE}'))
           OR (r.provider = '{IN_STORE}'
               AND (r.status NOT IN {sql_list(AT_TILL)} OR r.attempts <> 0))
           OR (r.status IN {sql_list(OPEN)} AND r.next_attempt_at IS NULL))
)
SELECT bad.*, COUNT(*) OVER () AS violations FROM bad
ORDER BY bad.order_number, bad.refund_ref
LIMIT {{limit}}
"""


def _describe_submissions(row: Row) -> str:
    head = f"order {row['order_number']}: refund {row['refund_ref']} ({row['status']})"
    if row["shared"]:
        return f"{head} shares its out_refund_no with another refund"
    if row["provider"] == IN_STORE or row["status"] == PaymentStatus.REFUND_AT_TILL.value:
        return f"{head} of {row['provider']} was sent to a provider; the till refunds it"
    if row["next_attempt_at"] is None and row["status"] in {s.value for s in OPEN}:
        return f"{head} is due never: the refund job will not look at it again"
    return f"{head} has a provider's answer but was never submitted"


CHECKS = (
    Check(
        "refunds_within_paid",
        "every refund gives back a successful payment of its own order and provider, and the "
        "refunds of a payment (all but failed ones) sum to at most what it took",
        REFUNDS_WITHIN_PAID,
        _describe_within_paid,
    ),
    Check(
        "refund_submissions",
        "each refund has its own out_refund_no; one the provider answered was submitted; a "
        "till refund never goes to a provider; a pending or submitted one is due again",
        REFUND_SUBMISSIONS,
        _describe_submissions,
    ),
)
