"""The customer-service desk: a phone's last-4 index, internal notes, e-invoice requests.

- `member_identity.suffix_hash`: a keyed hash (HMAC, the vault's lookup key) of a phone's
  last 4 digits, so CS finds members by them without decrypting anything. The key is not
  available to a migration: `omnishelf index-phone-suffixes` backfills phones linked before
  (docs/operations.md, "Customer-service desk"); new phones get it when they are linked.
- `staff_note`: internal notes on a member or an order (staff only), oldest first by id.
- `invoice_request`: one e-invoice request (发票) per order; title, tax id and e-mail sealed
  under the row's own wrapped key; the invoicing system's queue reads it by `(status, id)`.

Revision ID: 0023_cs_desk
Revises: 0022_reviews
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0023_cs_desk"
down_revision = "0022_reviews"
branch_labels = None
depends_on = None

UUID = sa.CHAR(36).with_variant(postgresql.UUID(), "postgresql")
TS = sa.TIMESTAMP(timezone=True)


def upgrade() -> None:
    op.add_column("member_identity", sa.Column("suffix_hash", sa.String(64), nullable=True))
    op.create_index("ix_member_identity_suffix_hash", "member_identity", ["suffix_hash"])
    op.create_table(
        "staff_note",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("subject", sa.String(10), nullable=False),
        sa.Column("subject_id", UUID, nullable=False, index=True),
        sa.Column("author", sa.String(60), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("subject IN ('MEMBER','ORDER')", name="ck_staff_note_subject"),
    )
    op.create_table(
        "invoice_request",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("order_id", UUID, nullable=False, unique=True),
        sa.Column("member_id", UUID, nullable=False, index=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("data_key", sa.String(200), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("invoice_number", sa.String(40), nullable=True),
        sa.Column("issued_at", TS, nullable=True),
        sa.Column("issued_by", sa.String(60), nullable=True),
        sa.CheckConstraint("status IN ('REQUESTED','ISSUED')", name="ck_invoice_request_status"),
    )
    op.create_index("ix_invoice_request_queue", "invoice_request", ["status", "id"])


def downgrade() -> None:
    op.drop_table("invoice_request")
    op.drop_table("staff_note")
    op.drop_index("ix_member_identity_suffix_hash", table_name="member_identity")
    with op.batch_alter_table("member_identity") as table:
        table.drop_column("suffix_hash")
