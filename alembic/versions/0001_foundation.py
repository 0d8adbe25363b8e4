"""Foundation: staff, devices, API keys, sessions, catalog and locations.

Revision ID: 0001_foundation
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0001_foundation"
down_revision = None
branch_labels = None
depends_on = None

# Column types as the Tortoise models map them on each backend (the drift test checks this).
UUID = sa.CHAR(36).with_variant(postgresql.UUID(), "postgresql")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.TIMESTAMP(timezone=True)
BOOL = sa.Integer().with_variant(sa.Boolean(), "postgresql")
FLOAT = sa.REAL().with_variant(postgresql.DOUBLE_PRECISION(), "postgresql")


def _id() -> sa.Column[str]:
    return sa.Column("id", UUID, primary_key=True)


def upgrade() -> None:
    op.create_table(
        "staff_user",
        _id(),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("is_active", BOOL, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint(
            "role IN ('ADMIN','STORE_MANAGER','STORE_CLERK','CS_AGENT')", name="ck_staff_role"
        ),
    )
    op.create_table(
        "staff_store",
        _id(),
        sa.Column("location_id", UUID, nullable=False),
        sa.Column(
            "staff_id", UUID, sa.ForeignKey("staff_user.id", ondelete="CASCADE"), nullable=False
        ),
        sa.UniqueConstraint("staff_id", "location_id", name="uq_staff_store"),
    )
    op.create_table(
        "device",
        _id(),
        sa.Column("location_id", UUID, nullable=False, index=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
        sa.CheckConstraint("kind IN ('KIOSK','POS')", name="ck_device_kind"),
    )
    op.create_table(
        "api_key",
        _id(),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("scopes", JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
    )
    op.create_table(
        "auth_session",
        _id(),
        sa.Column("principal_kind", sa.String(10), nullable=False),
        sa.Column("principal_id", UUID, nullable=False, index=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
        sa.Column("revoked_reason", sa.String(100), nullable=True),
    )
    op.create_table(
        "refresh_token",
        _id(),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("issued_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False, index=True),
        sa.Column("used_at", TS, nullable=True),
        sa.Column(
            "session_id",
            UUID,
            sa.ForeignKey("auth_session.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
    )
    op.create_table(
        "category",
        _id(),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("slug", sa.String(100), nullable=False, unique=True),
        sa.Column("parent_id", UUID, sa.ForeignKey("category.id", ondelete="RESTRICT")),
    )
    op.create_table(
        "product",
        _id(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("slug", sa.String(100), nullable=False, unique=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column(
            "category_id", UUID, sa.ForeignKey("category.id", ondelete="SET NULL"), index=True
        ),
        sa.CheckConstraint("status IN ('ACTIVE','ARCHIVED')", name="ck_product_status"),
    )
    op.create_table(
        "variant",
        _id(),
        sa.Column("code", sa.String(64), nullable=False, unique=True),
        sa.Column("barcode", sa.String(14), nullable=True, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("attributes", JSON, nullable=False),
        sa.Column("price_amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column(
            "product_id",
            UUID,
            sa.ForeignKey("product.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.CheckConstraint("price_amount >= 0", name="ck_variant_price_nonnegative"),
        sa.CheckConstraint("status IN ('ACTIVE','ARCHIVED')", name="ck_variant_status"),
    )
    op.create_table(
        "location",
        _id(),
        sa.Column("code", sa.String(32), nullable=False, unique=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("address", sa.String(300), nullable=False),
        sa.Column("city", sa.String(100), nullable=False),
        sa.Column("latitude", FLOAT, nullable=False),
        sa.Column("longitude", FLOAT, nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("opening_hours", JSON, nullable=False),
        sa.Column("pickup_enabled", BOOL, nullable=False),
        sa.Column("ships_online", BOOL, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("phone", sa.String(30), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint(
            "type IN ('STORE','WAREHOUSE','FRONT_WAREHOUSE','PICKUP_POINT')",
            name="ck_location_type",
        ),
        sa.CheckConstraint(
            "latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180",
            name="ck_location_coordinates",
        ),
    )


def downgrade() -> None:
    for table in (
        "location",
        "variant",
        "product",
        "category",
        "refresh_token",
        "auth_session",
        "api_key",
        "device",
        "staff_store",
        "staff_user",
    ):
        op.drop_table(table)
