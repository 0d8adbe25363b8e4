"""Automations: the hand-overs counted before automations existed. `automation_member` counts
a member's orders handed over (FIRST_ORDER_HANDED_OVER fires on the first) from the day
`0040_automations` ran, which counted none of the earlier ones: a member who had collected
orders before then "handed over their first order" at the next one. This counts every order
of the member that reached PICKED_UP or DELIVERED (its `order_event`), keeping the larger of
that and what was counted since.

Revision ID: 0049_automation_handovers
Revises: 0048_metrics_ranges
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0049_automation_handovers"
down_revision = "0048_metrics_ranges"
branch_labels = None
depends_on = None


def upgrade() -> None:
    larger = "GREATEST" if op.get_bind().dialect.name == "postgresql" else "max"
    op.execute(
        "INSERT INTO automation_member (member_id, handed_over) "
        "SELECT o.member_id, count(DISTINCT o.id) FROM customer_order o "
        "JOIN order_event e ON e.order_id = o.id AND e.to_status IN ('PICKED_UP', 'DELIVERED') "
        "WHERE o.member_id IS NOT NULL GROUP BY o.member_id "
        "ON CONFLICT (member_id) DO UPDATE SET handed_over = "
        f"{larger}(automation_member.handed_over, excluded.handed_over)"
    )


def downgrade() -> None:
    pass  # counts only: the table keeps them
