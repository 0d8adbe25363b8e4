"""Friend-assist checks (domain/growth/assists.py): no helper assisted more than the daily cap
in one store-local day, and a task's threshold rewards were paid once each, only for
thresholds its assists reached."""

from __future__ import annotations

from domain.growth.assists_model import DAILY_ASSISTS
from infra.doctor.check import Check, Row

DAILY_CAP = f"""
WITH bad AS {{materialized}}(
    SELECT helper_id, day, COUNT(*) AS assists, MAX(slot) AS top FROM assist
    GROUP BY helper_id, day HAVING COUNT(*) > {DAILY_ASSISTS} OR MAX(slot) > {DAILY_ASSISTS}
)
SELECT bad.*, COUNT(*) OVER () AS violations FROM bad
ORDER BY bad.day, bad.helper_id LIMIT {{limit}}
"""

# Threshold rewards (threshold > 0) of each task: at most one per threshold, none for a
# threshold more helpers than the task's assists. Helpers' own rewards (0) are one per assist.
REWARDS = """
WITH assisted AS (
    SELECT task_id, COUNT(*) AS helpers FROM assist GROUP BY task_id
), paid AS (
    SELECT task_id, threshold, COUNT(*) AS times FROM assist_reward WHERE threshold > 0
    GROUP BY task_id, threshold
), bad AS {materialized}(
    SELECT p.task_id, p.threshold, p.times, COALESCE(a.helpers, 0) AS helpers
    FROM paid p LEFT JOIN assisted a ON a.task_id = p.task_id
    WHERE p.times > 1 OR p.threshold > COALESCE(a.helpers, 0)
)
SELECT bad.*, COUNT(*) OVER () AS violations FROM bad
ORDER BY bad.task_id, bad.threshold LIMIT {limit}
"""


def _describe_cap(row: Row) -> str:
    return (
        f"helper {row['helper_id']} assisted {row['assists']} tasks on {row['day']} "
        f"(slots up to {row['top']}), the cap is {DAILY_ASSISTS}"
    )


def _describe_rewards(row: Row) -> str:
    return (
        f"assist task {row['task_id']}: the reward of {row['threshold']} helpers was paid "
        f"{row['times']} time(s); {row['helpers']} helpers assisted it"
    )


CHECKS = (
    Check(
        "assist_daily_cap",
        f"no member assisted more than {DAILY_ASSISTS} tasks in one store-local day",
        DAILY_CAP,
        _describe_cap,
    ),
    Check(
        "assist_rewards",
        "a friend-assist task's threshold reward was paid once, and only once reached",
        REWARDS,
        _describe_rewards,
    ),
)
