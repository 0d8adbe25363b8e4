"""Friend-assist tasks closed by a merge: `assist_task.status` may be MERGED.

A member merged into one who has an open task of the same campaign leaves the survivor one
open task per campaign: the other is MERGED (domain/growth/assists_model.to_close_on_merge).
PostgreSQL swaps the CHECK; SQLite rebuilds the table for it (it cannot alter a CHECK).
Downgrade makes MERGED tasks EXPIRED first (both are closed; EXPIRED is the older word).

Revision ID: 0037_assist_merged
Revises: 0036_guides
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0037_assist_merged"
down_revision = "0036_guides"
branch_labels = None
depends_on = None

UUID = sa.CHAR(36).with_variant(postgresql.UUID(), "postgresql")
TS = sa.TIMESTAMP(timezone=True)
TABLE = "assist_task"
CHECK = "ck_assist_task_status"
WITH_MERGED = "status IN ('OPEN','COMPLETED','EXPIRED','MERGED')"
WITHOUT = "status IN ('OPEN','COMPLETED','EXPIRED')"


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _table(status_check: str) -> sa.Table:
    """`assist_task` as 0035_assists made it, with `status_check`: SQLite's rebuild copies it."""
    table = sa.Table(
        TABLE,
        sa.MetaData(),
        sa.Column("id", UUID, primary_key=True),
        sa.Column("campaign_id", UUID, nullable=False),
        sa.Column("member_id", UUID, nullable=False),
        sa.Column("open_member_id", UUID, nullable=True),
        sa.Column("status", sa.String(9), nullable=False),
        sa.Column("helpers", sa.Integer(), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("closed_at", TS, nullable=True),
        sa.UniqueConstraint("campaign_id", "open_member_id", name="uq_assist_task_open"),
        sa.CheckConstraint(status_check, name=CHECK),
        sa.CheckConstraint(
            "(status = 'OPEN') = (open_member_id IS NOT NULL)", name="ck_assist_task_open"
        ),
        sa.CheckConstraint("helpers >= 0", name="ck_assist_task_helpers"),
    )
    sa.Index("ix_assist_task_member", table.c.member_id, table.c.id)
    sa.Index("ix_assist_task_due", table.c.status, table.c.expires_at)
    return table


def _status_check(check: str) -> None:
    if _postgres():
        op.drop_constraint(CHECK, TABLE, type_="check")
        op.create_check_constraint(CHECK, TABLE, check)
        return
    with op.batch_alter_table(TABLE, recreate="always", copy_from=_table(check)):
        pass


def upgrade() -> None:
    _status_check(WITH_MERGED)


def downgrade() -> None:
    op.execute(f"UPDATE {TABLE} SET status = 'EXPIRED' WHERE status = 'MERGED'")
    _status_check(WITHOUT)
