"""Member codes used at the till: one row per code spent on a sale, unique by the code's
nonce (its member and expiry), so a replayed code is refused. Codes are issued without a row
(they are signed); only their use is written. `expires_at` says when a row stops mattering.

Revision ID: 0024_member_codes
Revises: 0023_cs_desk
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0024_member_codes"
down_revision = "0023_cs_desk"
branch_labels = None
depends_on = None

UUID = sa.CHAR(36).with_variant(postgresql.UUID(), "postgresql")
TS = sa.TIMESTAMP(timezone=True)


def upgrade() -> None:
    op.create_table(
        "member_code_use",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("nonce", sa.String(64), nullable=False, unique=True),
        sa.Column("member_id", UUID, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("used_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("member_code_use")
