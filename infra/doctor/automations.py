"""Automation checks (domain/engagement/automations.py): a send that says it acted names
what it gave, and that exists."""

from __future__ import annotations

from infra.doctor.check import Check, Row

# A DONE send was written in the transaction of its grant and of its message: the coupon
# (under the automation's grant key), the points entry and the outbox message (its dedupe
# key) commit with it or not at all.
SENDS = """
WITH bad AS {materialized}(
    SELECT s.id, s.automation_id, s.member_id, s.action, s.message_key,
           c.id AS coupon, e.id AS entry, m.id AS message
    FROM automation_send s
    LEFT JOIN coupon c ON c.id = s.coupon_id
        AND c.issue_key LIKE 'automation:' || s.automation_id || ':%'
    LEFT JOIN points_entry e ON e.id = s.points_entry_id
    LEFT JOIN outbox_message m ON m.dedupe_key = s.message_key
    WHERE s.outcome = 'DONE' AND (
        (s.action = 'GRANT_COUPON' AND c.id IS NULL)
        OR (s.action = 'GRANT_POINTS' AND e.id IS NULL)
        OR (s.action IN ('SEND_MESSAGE', 'SEND_SMS') AND s.message_key IS NULL)
        OR (s.message_key IS NOT NULL AND m.id IS NULL)
    )
)
SELECT bad.*, COUNT(*) OVER () AS violations FROM bad ORDER BY bad.id LIMIT {limit}
"""


def _describe_sends(row: Row) -> str:
    if row["action"] == "GRANT_COUPON" and row["coupon"] is None:
        gave = "names no coupon of its grant"
    elif row["action"] == "GRANT_POINTS" and row["entry"] is None:
        gave = "names no points entry"
    elif row["message_key"] is None:
        gave = "sent no message"
    else:
        gave = f"names outbox message {row['message_key']}, which does not exist"
    return (
        f"automation send {row['id']} (automation {row['automation_id']}, member "
        f"{row['member_id']}, {row['action']}) is DONE but {gave}"
    )


CHECKS = (
    Check(
        "automation_sends",
        "an automation send that acted names what it gave (its grant's coupon, its points "
        "entry, its outbox message), and that exists",
        SENDS,
        _describe_sends,
    ),
)
