"""Reviews of handed-over order lines (after-sales), one per line, with their moderation.

- `review`: the member, the order, the line (unique: a line is reviewed once, also by two
  concurrent submissions), the product and variant it names, 1-5 stars (CHECK), the text and
  photo URLs, the state (PENDING / PUBLISHED / HIDDEN, CHECK), the banned words that held it,
  and who moderated it why.
- Indexes follow the reads: a product's published reviews newest first
  `(product_id, status, id)`, a member's `(member_id, id)`, CS's queue `(status, id)`.

Revision ID: 0022_reviews
Revises: 0021_aftersales
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0022_reviews"
down_revision = "0021_aftersales"
branch_labels = None
depends_on = None

UUID = sa.CHAR(36).with_variant(postgresql.UUID(), "postgresql")
TS = sa.TIMESTAMP(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "review",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("member_id", UUID, nullable=False),
        sa.Column("order_id", UUID, nullable=False),
        sa.Column("order_line_id", UUID, nullable=False, unique=True),
        sa.Column("product_id", UUID, nullable=False),
        sa.Column("variant_id", UUID, nullable=False),
        sa.Column("rating", sa.SmallInteger(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("photo_urls", JSON, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("held_for", JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("moderated_by", sa.String(60), nullable=True),
        sa.Column("moderation_reason", sa.String(200), nullable=True),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name="ck_review_rating"),
        sa.CheckConstraint("status IN ('PENDING','PUBLISHED','HIDDEN')", name="ck_review_status"),
    )
    op.create_index("ix_review_product_status", "review", ["product_id", "status", "id"])
    op.create_index("ix_review_member", "review", ["member_id", "id"])
    op.create_index("ix_review_status", "review", ["status", "id"])


def downgrade() -> None:
    op.drop_table("review")
