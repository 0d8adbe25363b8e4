"""A member's birthday (issue 19, automations' BIRTHDAY trigger): month and day as "MM-DD"
and an optional year, set by the member or by CS for them. Personal data kept like the display
name (plain, erased with the member): member facts copy "MM-DD" for segments and the trigger,
which finds the day's birthdays through an index.

Revision ID: 0043_member_birthday
Revises: 0042_metrics_rollups
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0043_member_birthday"
down_revision = "0042_metrics_rollups"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("member") as batch:
        batch.add_column(sa.Column("birthday", sa.String(5), nullable=True))
        batch.add_column(sa.Column("birthday_year", sa.SmallInteger, nullable=True))
    op.create_index("ix_member_facts_birthday", "member_facts", ["birthday"])


def downgrade() -> None:
    op.drop_index("ix_member_facts_birthday", table_name="member_facts")
    with op.batch_alter_table("member") as batch:
        batch.drop_column("birthday_year")
        batch.drop_column("birthday")
