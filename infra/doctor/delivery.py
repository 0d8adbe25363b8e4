"""Checks of what runs later: outbox messages delivered or still on schedule, and
subscription renewal cycles in step with their subscription.
"""

from __future__ import annotations

from domain.outbox import OutboxStatus
from domain.subscriptions.model import CycleStatus
from infra.doctor.check import Check, Row, sql_list, sql_value

WAITING = frozenset({OutboxStatus.PENDING, OutboxStatus.SENDING})
CLOSED_CYCLES = frozenset(
    {CycleStatus.PAID, CycleStatus.SKIPPED, CycleStatus.SHORT, CycleStatus.FAILED}
)
CYCLES_WITH_ORDER = frozenset({CycleStatus.ORDERED, CycleStatus.PAID, CycleStatus.FAILED})

OUTBOX_DELIVERY = f"""
WITH bad AS {{materialized}}(
    SELECT id, kind, dedupe_key, status, attempts, next_attempt_at, sent_at,
           CASE WHEN last_error IS NULL THEN 0 ELSE 1 END AS has_error
    FROM outbox_message
    WHERE (status = {sql_value(OutboxStatus.SENT)} AND sent_at IS NULL)
       OR (status <> {sql_value(OutboxStatus.SENT)} AND sent_at IS NOT NULL)
       OR (status = {sql_value(OutboxStatus.FAILED)} AND last_error IS NULL)
       OR (status IN {sql_list(WAITING)} AND next_attempt_at < $1)
)
SELECT bad.*, COUNT(*) OVER () AS violations FROM bad
ORDER BY bad.next_attempt_at, bad.id
LIMIT {{limit}}
"""


def _describe_outbox(row: Row) -> str:
    head = f"outbox message {row['dedupe_key']} ({row['kind']}, {row['status']})"
    status = row["status"]
    if status == OutboxStatus.SENT.value and row["sent_at"] is None:
        return f"{head} has no sent_at"
    if status != OutboxStatus.SENT.value and row["sent_at"] is not None:
        return f"{head} has sent_at {row['sent_at']}"
    if status == OutboxStatus.FAILED.value and not row["has_error"]:
        return f"{head} failed without an error"
    return (
        f"{head} was due at {row['next_attempt_at']} and is still not delivered "
        f"after {row['attempts']} attempts: is the delivery job running?"
    )


SUBSCRIPTION_CYCLES = f"""
WITH shared AS (
    SELECT order_id FROM subscription_cycle WHERE order_id IS NOT NULL
    GROUP BY order_id HAVING COUNT(*) > 1
), bad AS {{materialized}}(
    SELECT c.subscription_id, c.number, c.status, c.order_id, s.sequence,
           CASE WHEN s.id IS NULL THEN 'no_subscription'
                WHEN c.status = {sql_value(CycleStatus.PENDING)} THEN 'pending'
                WHEN c.number > s.sequence + 1 THEN 'ahead'
                WHEN c.status IN {sql_list(CLOSED_CYCLES)} AND c.number > s.sequence
                    THEN 'closed_ahead'
                WHEN c.status IN {sql_list(CYCLES_WITH_ORDER)} AND o.id IS NULL THEN 'no_order'
                ELSE 'shared_order' END AS problem
    FROM subscription_cycle c
    LEFT JOIN subscription s ON s.id = c.subscription_id
    LEFT JOIN customer_order o ON o.id = c.order_id
    WHERE s.id IS NULL OR c.status = {sql_value(CycleStatus.PENDING)}
       OR c.number > s.sequence + 1
       OR (c.status IN {sql_list(CLOSED_CYCLES)} AND c.number > s.sequence)
       OR (c.status IN {sql_list(CYCLES_WITH_ORDER)} AND o.id IS NULL)
       OR c.order_id IN (SELECT order_id FROM shared)
)
SELECT bad.*, COUNT(*) OVER () AS violations FROM bad
ORDER BY bad.subscription_id, bad.number
LIMIT {{limit}}
"""

_CYCLE_PROBLEMS = {
    "no_subscription": "belongs to no subscription",
    "pending": "was left PENDING (claimed, but its order was never recorded)",
    "ahead": "is beyond the subscription's next cycle (sequence {sequence})",
    "closed_ahead": "is closed but the subscription's sequence is still {sequence}",
    "no_order": "names order {order_id}, which does not exist",
    "shared_order": "shares its order {order_id} with another cycle",
}


def _describe_cycle(row: Row) -> str:
    problem = _CYCLE_PROBLEMS[str(row["problem"])].format(**row)
    return (
        f"subscription {row['subscription_id']} cycle {row['number']} ({row['status']}) {problem}"
    )


CHECKS = (
    Check(
        "outbox_delivery",
        "every outbox message is SENT (with sent_at), FAILED (with its error), or waiting "
        "and due within the grace period",
        OUTBOX_DELIVERY,
        _describe_outbox,
        lambda options: (options.outbox_cutoff,),
    ),
    Check(
        "subscription_cycles",
        "renewal cycles follow their subscription's sequence, none is left PENDING, and "
        "each ordered cycle has its own existing order",
        SUBSCRIPTION_CYCLES,
        _describe_cycle,
    ),
)
