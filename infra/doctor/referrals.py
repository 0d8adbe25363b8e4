"""Referral checks (domain/growth/referrals.py): no referral reward paid twice."""

from __future__ import annotations

from domain.growth.referrals_model import ReferralStatus
from domain.loyalty.model import EntryKind
from infra.doctor.check import Check, Row, sql_list, sql_value

PAID = sql_list([ReferralStatus.REWARDED, ReferralStatus.CLAWED_BACK])

# Every referral points credit (source `referral:<id>`) belongs to a referral that was
# rewarded, at most one per side: the invitee, and the referrer when within the cap.
REWARDS = f"""
WITH credits AS (
    SELECT source, COUNT(*) AS credits FROM points_entry
    WHERE kind = {sql_value(EntryKind.ADJUST)} AND source LIKE 'referral:%' GROUP BY source
), bad AS {{materialized}}(
    SELECT c.source, c.credits, r.status, r.referrer_paid
    FROM credits c LEFT JOIN referral r ON 'referral:' || CAST(r.id AS TEXT) = c.source
    WHERE r.id IS NULL OR r.status NOT IN {PAID}
       OR c.credits > CASE WHEN r.referrer_paid THEN 2 ELSE 1 END
)
SELECT bad.*, COUNT(*) OVER () AS violations FROM bad ORDER BY bad.source LIMIT {{limit}}
"""


def _describe_rewards(row: Row) -> str:
    if row["status"] is None:
        return f"{row['source']}: {row['credits']} points reward(s) for no referral"
    sides = 2 if row["referrer_paid"] else 1
    return (
        f"{row['source']} ({row['status']}): {row['credits']} points rewards, "
        f"at most {sides} may be paid"
    )


CHECKS = (
    Check(
        "referral_rewards",
        "no referral reward is paid twice: one points credit per rewarded side of a rewarded "
        "referral",
        REWARDS,
        _describe_rewards,
    ),
)
