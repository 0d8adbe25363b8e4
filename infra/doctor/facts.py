"""Member facts checks (domain/engagement/facts.py): a facts row belongs to an active member,
its first and last orders are those of the member's orders, and its birthday is the member's."""

from __future__ import annotations

from infra.doctor.check import Check, Row
from infra.repositories.facts import counted_orders

# The first and last order do not move with the clock (the 30/90/365-day windows do), so they
# can be compared at any time; every payment, cancellation and refund recomputes its
# member's row in its own transaction, a merge the survivor's, and erasure deletes the row.
# Members whose orders predate the facts have no row until the nightly rebuild: not checked.
FACTS = f"""
WITH {counted_orders("customer_order o")},
truth AS (
    SELECT member_id, MIN(paid_at) AS first_at, MAX(paid_at) AS last_at
    FROM counted_orders GROUP BY member_id
),
bad AS {{materialized}}(
    SELECT f.member_id, m.status, f.first_order_at, f.last_order_at, t.first_at, t.last_at
    FROM member_facts f
    LEFT JOIN member m ON m.id = f.member_id
    LEFT JOIN truth t ON t.member_id = f.member_id
    WHERE m.status IS NULL OR m.status <> 'ACTIVE'
       OR (f.last_order_at IS NULL) <> (t.last_at IS NULL)
       OR f.last_order_at <> t.last_at OR f.first_order_at <> t.first_at
)
SELECT bad.*, COUNT(*) OVER () AS violations FROM bad ORDER BY bad.member_id LIMIT {{limit}}
"""


# A birthday is copied in the transaction that sets it (MemberProfileChanged) and by every
# refresh; members without a facts row yet are not checked.
BIRTHDAYS = """
WITH bad AS {materialized}(
    SELECT f.member_id, f.birthday AS facts_birthday, m.birthday AS member_birthday
    FROM member_facts f JOIN member m ON m.id = f.member_id
    WHERE m.status = 'ACTIVE' AND COALESCE(f.birthday, '') <> COALESCE(m.birthday, '')
)
SELECT bad.*, COUNT(*) OVER () AS violations FROM bad ORDER BY bad.member_id LIMIT {limit}
"""


def _describe_birthday(row: Row) -> str:
    return (
        f"member {row['member_id']}: facts say the birthday is {row['facts_birthday'] or 'none'}, "
        f"the member says {row['member_birthday'] or 'none'}"
    )


def _describe(row: Row) -> str:
    if row["status"] != "ACTIVE":
        return f"member {row['member_id']} is {row['status'] or 'gone'} but keeps a facts row"
    return (
        f"member {row['member_id']}: facts say orders from {row['first_order_at'] or 'never'} "
        f"to {row['last_order_at'] or 'never'}, the orders say {row['first_at'] or 'never'} "
        f"to {row['last_at'] or 'never'}"
    )


CHECKS = (
    Check(
        "member_facts",
        "a member's facts row is an active member's, and its first and last order are those "
        "of the member's orders (paid, not cancelled, unclaimed or refunded in full)",
        FACTS,
        _describe,
    ),
    Check(
        "member_facts_birthday",
        "a member's facts row has the member's birthday (\"MM-DD\", or none)",
        BIRTHDAYS,
        _describe_birthday,
    ),
)
